// Engines feed schemes through a word source: a stream of uniform 32-bit words.
//
// The fill kernels draw every random bit from a word_source, so one sampling code path serves
// both the parallel fill (a Philox stream per (seed, block)) and a serial fill driven by any
// engine the caller brings (Boost.Random's, <random>'s, philox4x32). Words are pulled in
// batches, so the virtual call is paid once per batch, not per sample.
#pragma once

#include <boost/random/uniform_int_distribution.hpp>
#include <cstdint>
#include <limits>
#include <span>

namespace verinit {

/// A stream of independent uniform 32-bit words.
class word_source {
 public:
  virtual ~word_source() = default;
  /// Overwrites `words` with the next words of the stream.
  virtual void generate(std::span<std::uint32_t> words) = 0;
};

/// Adapts any uniform random bit generator (Engine&, not owned) to a word_source.
/// Engines whose range is exactly 32 or 64 bits are read directly; any other range goes
/// through boost::random::uniform_int_distribution, which is exact for every range.
template <class Engine>
class engine_words final : public word_source {
 public:
  explicit engine_words(Engine& engine) noexcept : engine_(&engine) {}

  void generate(std::span<std::uint32_t> words) override {
    // Not `if constexpr`: some engines (Boost 1.74's mersenne_twister) have non-constexpr min().
    const auto low = static_cast<std::uint64_t>(Engine::min());
    const auto high = static_cast<std::uint64_t>(Engine::max());
    if (low == 0 && high == std::numeric_limits<std::uint32_t>::max()) {
      for (auto& w : words) w = static_cast<std::uint32_t>((*engine_)());
    } else if (low == 0 && high == std::numeric_limits<std::uint64_t>::max()) {
      std::size_t i = 0;
      for (; i + 1 < words.size(); i += 2) {
        const auto bits = static_cast<std::uint64_t>((*engine_)());
        words[i] = static_cast<std::uint32_t>(bits);
        words[i + 1] = static_cast<std::uint32_t>(bits >> 32);
      }
      if (i < words.size()) words[i] = static_cast<std::uint32_t>((*engine_)());
    } else {
      boost::random::uniform_int_distribution<std::uint32_t> full(
          0, std::numeric_limits<std::uint32_t>::max());
      for (auto& w : words) w = full(*engine_);
    }
  }

 private:
  Engine* engine_;
};

}  // namespace verinit
