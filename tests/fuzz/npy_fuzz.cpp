// libFuzzer target for the .npy reader: any bytes must give an array or a std::runtime_error,
// never a crash, a sanitizer report, or an allocation the file's size does not justify.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   build/fuzz/tests/fuzz/npy_fuzz -max_total_time=600 -rss_limit_mb=512 tests/fuzz/corpus
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "verinit/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("verinit_npy_fuzz_" + std::to_string(::getpid()) + ".npy");
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  // As floats, and with 16-bit bit patterns read as bfloat16 (--input-dtype).
  for (const auto bits16 :
       {std::optional<verinit::dtype>{}, std::optional(verinit::dtype::bfloat16)}) {
    try {
      const verinit::tensor_buffer array = verinit::io::read_npy(path, bits16);
      // A successful read holds exactly the bytes the file had room for, for its shape.
      if (array.bytes.size() > size || array.view().size() != verinit::element_count(array.shape))
        __builtin_trap();
    } catch (const std::runtime_error&) {
    }
  }
  return 0;
}
