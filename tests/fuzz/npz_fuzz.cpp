// libFuzzer target for the .npz reader (checkpoint::open on a zip): any bytes must give a
// checkpoint whose every float tensor can be viewed, or a std::runtime_error; never a crash, a
// sanitizer report, or an allocation the file's size does not justify (a deflated member is
// at most 1032 times its compressed size). checkpoint_views with no memory budget (every copy
// spilled to a temporary file) must give the same bytes.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   build/fuzz/tests/fuzz/npz_fuzz -max_total_time=600 -rss_limit_mb=512 tests/fuzz/corpus_npz
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "verinit/io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("verinit_npz_fuzz_" + std::to_string(::getpid()) + ".npz");
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const auto file = verinit::io::checkpoint::open(path);
    for (const auto& e : file.tensors()) {
      if (e.bytes > 1032 * static_cast<std::uint64_t>(size) + 1024) __builtin_trap();
      for (const auto bits16 :
           {std::optional<verinit::dtype>{}, std::optional(verinit::dtype::bfloat16)}) {
        try {
          verinit::tensor_buffer fallback;
          const verinit::tensor_view view = file.view(e, fallback, bits16);
          // A view holds exactly the entry's bytes, in its shape.
          if (view.bytes.size() != e.bytes || view.shape != e.shape) __builtin_trap();
        } catch (const std::runtime_error&) {
        }
      }
    }
    // Every tensor at once with no memory budget: each copy spilled to a temporary file and
    // mapped back, the same bytes as viewed one by one.
    try {
      const verinit::io::checkpoint_views views(file, 0);
      for (std::size_t i = 0; i < file.tensors().size(); ++i) {
        const auto& e = file.tensors()[i];
        if (views[i].has_value() != e.type.has_value()) __builtin_trap();
        if (!views[i]) continue;
        verinit::tensor_buffer fallback;
        const verinit::tensor_view one = file.view(e, fallback);
        if (views[i]->bytes.size() != one.bytes.size() || views[i]->shape != one.shape ||
            views[i]->type != one.type ||
            (!one.bytes.empty() &&
             std::memcmp(views[i]->bytes.data(), one.bytes.data(), one.bytes.size()) != 0))
          __builtin_trap();
      }
    } catch (const std::runtime_error&) {
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
