// libFuzzer target for the safetensors reader: any bytes must give a file whose tensors tile
// its data exactly, or a std::runtime_error, never a crash, a sanitizer report, or an
// allocation the file's size does not justify.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   cp -r tests/fuzz/corpus_safetensors /tmp/st_corpus &&
//   build/fuzz/tests/fuzz/safetensors_fuzz -max_total_time=600 -rss_limit_mb=512 /tmp/st_corpus
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "verinit/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("verinit_safetensors_fuzz_" + std::to_string(::getpid()) + ".safetensors");
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const auto file = verinit::io::safetensors_file::open(path);
    verinit::tensor_buffer fallback;
    std::uint64_t covered = 0;
    unsigned checksum = 0;  // reads every byte of the mapping the tensors index
    for (const auto& entry : file.tensors()) {
      const auto raw = file.raw(entry);
      if (raw.size() != entry.bytes() || entry.begin != covered) __builtin_trap();
      if (file.find(entry.name) != &entry) __builtin_trap();
      covered = entry.end;
      for (const std::byte b : raw) checksum += static_cast<unsigned>(b);
      if (!entry.type) continue;
      // A view, in place or copied, has the same bytes.
      const verinit::tensor_view view = file.view(entry, fallback);
      if (view.type != *entry.type || view.shape != entry.shape ||
          !std::equal(view.bytes.begin(), view.bytes.end(), raw.begin(), raw.end()))
        __builtin_trap();
    }
    // The tensors hold exactly the bytes after the header.
    if (covered > size || (covered == 0 && checksum != 0)) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
