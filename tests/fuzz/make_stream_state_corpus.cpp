// Writes the stream_state fuzz corpus (tests/fuzz/corpus_stream_state, format 2): states of a
// few sizes, with and without bins, a NaN and an outlier. Not built by CMake; from the top:
//   g++ -std=c++20 -fopenmp -Iverify/include -Ilib/include -Ibuild/release/lib/include \
//     tests/fuzz/make_stream_state_corpus.cpp build/release/verify/libverinit_verify.a \
//     build/release/lib/libverinit_init.a -o /tmp/gen && /tmp/gen tests/fuzz/corpus_stream_state
#include <boost/math/distributions/normal.hpp>
#include <fstream>
#include <random>
#include <vector>
#include "verinit/verify/stream_state.hpp"
int main(int, char** argv) {
  using namespace verinit::verify;
  const iid_context context{boost::math::normal_distribution<>(0.0, 1.0), verinit::dtype::float32,
                            sample_grouping::of(verinit::tensor_shape{64, 64}, verinit::layout::torch)};
  std::mt19937_64 engine(1);
  std::normal_distribution<float> normal;
  int index = 0;
  for (std::int64_t n : {0, 1, 7, 100, 4096, 20000}) {
    for (std::int64_t bins : {0, 16, 1024}) {
      if (index >= 12) break;
      stream_state state(context, {bins, 4});
      std::vector<float> x(static_cast<std::size_t>(n));
      for (auto& v : x) v = normal(engine);
      if (n > 50) { x[3] = NAN; x[5] = 40.0f; }
      if (n > 0) state.add(std::span<const float>(x), 1);
      const auto bytes = state.to_bytes();
      std::ofstream(std::string(argv[1]) + "/state" + std::to_string(index++), std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
  }
}
