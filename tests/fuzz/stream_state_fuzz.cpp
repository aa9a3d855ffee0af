// libFuzzer target for stream_state::from_bytes, the reader of a state that may come from
// another machine: any bytes must give a state or a std::invalid_argument, never a crash, a
// sanitizer report, or an allocation the bytes do not justify; a state read must write back
// to bytes that read back to the same state, and answer its tests' questions.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   build/fuzz/tests/fuzz/stream_state_fuzz -max_total_time=300 -rss_limit_mb=512 \
//     tests/fuzz/corpus_stream_state
#include <boost/math/distributions/normal.hpp>
#include <cstdint>
#include <stdexcept>

#include "verinit/verify/stream_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace verinit::verify;
  static const iid_context context{
      boost::math::normal_distribution<>(0.0, 1.0), verinit::dtype::float32,
      sample_grouping::of(verinit::tensor_shape{64, 64}, verinit::layout::torch)};
  try {
    const stream_state state = stream_state::from_bytes(
        std::span(reinterpret_cast<const std::byte*>(data), size), context);
    const auto again = stream_state::from_bytes(state.to_bytes(), context);
    if (!(again == state)) __builtin_trap();
    (void)state.sums().s2.value();
    (void)state.repeats(1);
    if (state.settings().bins > 0) (void)state.bracket();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
