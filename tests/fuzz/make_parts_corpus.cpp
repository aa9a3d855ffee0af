// Writes the parts_fuzz corpus (tests/fuzz/corpus_parts): two equal-length parts of small
// tensors (float32 he_normal, bfloat16, a constant, an orthogonal one), and share 0 of 1 of
// parts_fuzz's fixed request. Not built by CMake; from the top:
//   g++ -std=c++20 -fopenmp -Iverify/include -Ilib/include -Ibuild/release/lib/include \
//     tests/fuzz/make_parts_corpus.cpp build/release/verify/libverinit_verify.a \
//     build/release/lib/libverinit_init.a -lmuparser -o /tmp/genparts && /tmp/genparts
//     tests/fuzz/corpus_parts
#include <fstream>
#include <string>
#include <vector>

#include "verinit/fill.hpp"
#include "verinit/verify/distributed.hpp"

int main(int, char** argv) {
  using namespace verinit::verify;
  int index = 0;
  const auto write = [&](std::uint8_t first, const std::vector<std::byte>& a,
                         const std::vector<std::byte>& b) {
    std::ofstream out(std::string(argv[1]) + "/input" + std::to_string(index++), std::ios::binary);
    out.put(static_cast<char>(first));
    out.write(reinterpret_cast<const char*>(a.data()), static_cast<std::streamsize>(a.size()));
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  for (const char* spec : {"he_normal", "zeros", "orthogonal"})
    for (const auto type : {verinit::dtype::float32, verinit::dtype::bfloat16}) {
      const verinit::tensor_shape whole{8, 16}, piece{4, 16};
      verinit::tensor_buffer values;
      values.type = type;
      values.shape = whole;
      values.bytes.resize(128 * verinit::info(type).size);
      verinit::fill(verinit::mutable_tensor_view{type, whole, values.bytes},
                    verinit::parse_scheme("he_normal"), {});
      std::vector<std::vector<std::byte>> parts;
      for (std::int64_t k = 0; k < 2; ++k) {
        const std::size_t half = values.bytes.size() / 2;
        case_request c{case_spec::of(spec, whole, verinit::layout::torch, type),
                       verinit::tensor_view{type, piece,
                                            std::span<const std::byte>(values.bytes)
                                                .subspan(static_cast<std::size_t>(k) * half, half)},
                       "job"};
        c.tensor = "w";
        parts.push_back(reduce_part(c, {"rank " + std::to_string(k), {4 * k, 0}, piece}, 1));
      }
      write(0, parts[0], parts[1]);
    }
  run_request request;
  request.options.threads = 1;
  request.cases.push_back(
      {case_spec::of("he_normal", {16, 32}, verinit::layout::torch, verinit::dtype::float32, 2048),
       std::nullopt, "verinit"});
  request.cases.push_back({case_spec::of("zeros", {4, 4}), std::nullopt, "verinit"});
  write(1, run_share(request, 0, 1), {});
  return 0;
}
