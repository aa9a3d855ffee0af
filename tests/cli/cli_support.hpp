// The tests' way of running the verinit executable (VERINIT_EXE) and the files they give it.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace verinit::cli_test {

struct outcome {
  int status;
  std::string out;  // stdout and stderr together
};

/// Runs `prefix` VERINIT_EXE `arguments` (a shell command line), stdout and stderr together.
inline outcome run(const std::string& arguments, const std::string& prefix = "") {
  const std::string command = prefix + std::string(VERINIT_EXE) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buffer;
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A safetensors file of float32 tensors (and one int64 scalar, with_counter), written by hand:
// 8-byte header length, the JSON header, the data.
inline void write_checkpoint(const std::string& path,
                             const std::vector<std::pair<std::string, std::vector<float>>>& tensors,
                             const std::vector<std::vector<std::int64_t>>& shapes,
                             bool with_counter = true) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& values = tensors[i].second;
    header[tensors[i].first] = {{"dtype", "F32"},
                                {"shape", shapes[i]},
                                {"data_offsets", {data.size(), data.size() + 4 * values.size()}}};
    data.append(reinterpret_cast<const char*>(values.data()), 4 * values.size());
  }
  if (with_counter) {
    header["bn.num_batches_tracked"] = {{"dtype", "I64"},
                                        {"shape", nlohmann::json::array()},
                                        {"data_offsets", {data.size(), data.size() + 8}}};
    data.append(8, '\0');
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t length = text.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << text << data;
}

// Values from `verinit sample` (as .npy, read back).
inline std::vector<float> sampled(const std::string& args, const std::string& npy,
                                  std::size_t count) {
  EXPECT_EQ(run("sample " + args + " --out " + npy).status, 0);
  std::ifstream in(npy, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  std::vector<float> out(count);
  std::memcpy(out.data(), bytes.data() + bytes.size() - 4 * count, 4 * count);
  return out;
}

}  // namespace verinit::cli_test
