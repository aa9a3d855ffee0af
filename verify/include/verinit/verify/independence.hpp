// Tests of serial independence: what a random stream reused across blocks or threads breaks.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// Lag-1 autocorrelation r about the known mean mu, z = r sqrt(n) ~ N(0, 1) (Ljung-Box with
/// one lag, whose statistic is z^2), two-sided.
test_result autocorrelation_test(std::span<const float> samples, double mu);
test_result autocorrelation_test(std::span<const double> samples, double mu);
/// The same from sum_i (x_i - mu)(x_{i+1} - mu) and sum_i (x_i - mu)^2 over n samples.
test_result autocorrelation_from_sums(double lagged, double squares, std::int64_t n);

/// Repeated runs: every window of 4 consecutive samples (overlapping, so any period is
/// seen) is hashed to 64 bits; the windows whose hash ends in `distinguished_bits` zero bits
/// are kept (a choice by content, so a repeated window is kept at both places or at neither),
/// and kept hashes seen before are counted. For an i.i.d. stream a repeat needs 4 coinciding
/// values (or a hash collision); under the null the count is Poisson with mean at most
/// C(kept, 2) 2^-(64 - bits); a stream reused with any period P over L windows leaves about
/// L 2^-bits repeats, so a reused segment of ~3 2^bits samples is found. A count of single
/// repeated values would not work: real samplers quantise (PyTorch's uniforms sit on a 2^24
/// grid).
test_result repeated_runs_test(std::span<const float> samples);
test_result repeated_runs_test(std::span<const double> samples);

/// P(N >= k) for N ~ Poisson(mean), without overflow far in the tail (0 below 1e-300).
double poisson_upper_tail(double k, double mean);

/// The same test over a stream given in consecutive pieces (windows across pieces included),
/// keeping only the distinguished hashes: memory ~ 8 n 2^-bits bytes.
class repeated_runs_accumulator {
 public:
  /// Throws std::invalid_argument unless 0 <= distinguished_bits <= 24.
  explicit repeated_runs_accumulator(int distinguished_bits = 4);
  void add(std::span<const float> samples);
  void add(std::span<const double> samples);
  test_result finish();

 private:
  template <class T>
  void add_impl(std::span<const T> samples);

  /// Kept hashes in blocks (4,096 values doubling to 2^18, 2 MiB, from huge pages: see
  /// src/buffer.hpp): never concatenated, never grown by copying.
  struct block {
    std::unique_ptr<std::uint64_t[], void (*)(void*)> data{nullptr, nullptr};
    std::size_t size = 0, capacity = 0;
  };

  int bits_;
  std::vector<block> kept_;
  std::uint64_t last_[3] = {0, 0, 0};  ///< bit patterns of the stream's last 3 samples
  int carried_ = 0;                    ///< how many of last_ are set (< 3 at the start)
  std::int64_t windows_ = 0;
};

}  // namespace verinit::verify
