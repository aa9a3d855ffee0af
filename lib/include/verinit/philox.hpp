// Philox4x32-10, the counter-based engine of Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3" (SC11, 2011), as in Random123, cuRAND and JAX.
//
// Why this engine and not a Boost.Random one: the parallel fill must give the same bits on any
// number of threads, so each block of a tensor needs its own stream keyed by (seed, block).
// A counter-based engine gives that directly, with no seeding heuristics, and it passes
// TestU01's BigCrush (the paper, table 2). Its rounds are plain 32x32->64 multiplies that
// vectorise across counters, which is what lets a fill reach ~1 G uniforms/s on two cores;
// Boost's mt19937 is serial and would have to be re-seeded per block. Checked against
// Random123's published known-answer vectors (tests/lib/philox_test.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <limits>

namespace verinit {

/// Philox4x32-10 as a C++ uniform random bit generator (32-bit output).
///
/// The 128-bit counter is {position lo, position hi, stream lo, stream hi} and the key is the
/// 64-bit seed, so philox4x32(seed, stream) is an independent stream of 2^66 words.
class philox4x32 {
 public:
  using result_type = std::uint32_t;
  using counter_type = std::array<std::uint32_t, 4>;
  using key_type = std::array<std::uint32_t, 2>;

  /// Philox4x32's round multipliers and key increments (Salmon et al. 2011, Random123), shared
  /// with the fill's vectorised kernels.
  static constexpr std::uint32_t multiplier0 = 0xD2511F53u, multiplier1 = 0xCD9E8D57u;
  static constexpr std::uint32_t key_step0 = 0x9E3779B9u, key_step1 = 0xBB67AE85u;

  /// The keyed bijection: 10 Philox rounds of `counter` under `key`.
  static constexpr counter_type bijection(counter_type counter, key_type key) noexcept {
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {
        key[0] += key_step0;
        key[1] += key_step1;
      }
      const std::uint64_t p0 = std::uint64_t{multiplier0} * counter[0];
      const std::uint64_t p1 = std::uint64_t{multiplier1} * counter[2];
      counter = {static_cast<std::uint32_t>(p1 >> 32) ^ counter[1] ^ key[0],
                 static_cast<std::uint32_t>(p1),
                 static_cast<std::uint32_t>(p0 >> 32) ^ counter[3] ^ key[1],
                 static_cast<std::uint32_t>(p0)};
    }
    return counter;
  }

  static constexpr key_type key_of(std::uint64_t seed) noexcept {
    return {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  }

  explicit constexpr philox4x32(std::uint64_t seed = 0, std::uint64_t stream = 0) noexcept
      : key_(key_of(seed)),
        counter_{0, 0, static_cast<std::uint32_t>(stream),
                 static_cast<std::uint32_t>(stream >> 32)} {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  constexpr result_type operator()() noexcept {
    if (index_ == 4) {
      output_ = bijection(counter_, key_);
      index_ = 0;
      if (++counter_[0] == 0) ++counter_[1];
    }
    return output_[index_++];
  }

  /// Skips `n` outputs in O(1).
  constexpr void discard(std::uint64_t n) noexcept {
    const std::uint64_t buffered = 4 - index_;
    if (n <= buffered) {
      index_ += static_cast<unsigned>(n);
      return;
    }
    n -= buffered;
    std::uint64_t position = (std::uint64_t{counter_[1]} << 32 | counter_[0]) + n / 4;
    counter_[0] = static_cast<std::uint32_t>(position);
    counter_[1] = static_cast<std::uint32_t>(position >> 32);
    index_ = 4;
    const auto rest = static_cast<unsigned>(n % 4);
    if (rest != 0) {
      (*this)();
      index_ = rest;
    }
  }

  friend constexpr bool operator==(const philox4x32&, const philox4x32&) = default;

 private:
  key_type key_;
  counter_type counter_;
  counter_type output_{};
  unsigned index_ = 4;
};

}  // namespace verinit
