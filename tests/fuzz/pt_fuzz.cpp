// libFuzzer target for the .pt reader. The first byte chooses what the rest is:
//   even: a data.pkl, evaluated alone (torch_pickle::read, the evaluator the zip's CRC-32 would
//         otherwise shield from most mutations): a state_dict or a torch_pickle::error, never a
//         crash, a sanitizer report, or a working set beyond the limits;
//   odd:  a whole file (checkpoint::open on a .pt): a checkpoint whose every float tensor that
//         is not withheld views exactly its bytes, and no more bytes than the file holds (a
//         tensor's elements lie within its storage record), or a std::runtime_error.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   build/fuzz/tests/fuzz/pt_fuzz -max_total_time=600 -rss_limit_mb=1024 CORPUS_COPY
// (tests/fuzz/corpus_pt, made by tests/fuzz/make_pt_corpus.py from tests/data/pt).
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "torch_pickle.hpp"
#include "verinit/io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto rest = std::as_bytes(std::span(data + 1, size - 1));
  if ((data[0] & 1) == 0) {
    try {
      const auto state = verinit::io::torch_pickle::read(rest);
      for (const auto& t : state.tensors)
        if (t.dtype == nullptr || t.size.size() != t.stride.size()) __builtin_trap();
    } catch (const verinit::io::torch_pickle::error&) {
    }
    return 0;
  }
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("verinit_pt_fuzz_" + std::to_string(::getpid()) + ".pt");
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(rest.data()),
               static_cast<std::streamsize>(rest.size()));
  }
  try {
    const auto file = verinit::io::checkpoint::open(path);
    for (const auto& e : file.tensors()) {
      if (e.withheld.empty() && e.bytes > rest.size()) __builtin_trap();
      if (!e.type || !e.withheld.empty()) continue;
      try {
        verinit::tensor_buffer fallback;
        const verinit::tensor_view view = file.view(e, fallback);
        if (view.bytes.size() != e.bytes || view.shape != e.shape) __builtin_trap();
      } catch (const std::runtime_error&) {
      }
    }
    try {
      const verinit::io::checkpoint_views views(file, 0);
      for (std::size_t i = 0; i < file.tensors().size(); ++i) {
        const auto& e = file.tensors()[i];
        if (views[i].has_value() != (e.type.has_value() && e.withheld.empty())) __builtin_trap();
      }
    } catch (const std::runtime_error&) {
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
