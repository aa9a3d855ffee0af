// Verification beyond memory: an i.i.d. case's samples are consumed in pieces, in stream
// order, and never held together. What is kept:
//   - counts of u = F(x) in K equal-probability bins (K = 2^20 by default) and the exact u of
//     the samples in the two outer bins (about 2n/K of them), for KS and A^2;
//   - power sums about the law's mean, support counts, the largest |x - mean|, lag-1 sums
//     across pieces, and distinguished window hashes (independence.hpp).
// KS and A^2 are then bracketed, not computed: within a bin the ECDF is only known to rise
// from C_j/n to C_{j+1}/n, so
//   D_low = max_j |C_j/n - j/K|  <=  D  <=  D_high = max_j max(C_{j+1}/n - j/K, (j+1)/K - C_j/n)
// (the outer bins exactly, from their stored u), and A^2 = n \int (F_n - t)^2 / (t(1 - t)) dt
// is bracketed bin by bin by the smallest and largest values the integrand can take for an
// ECDF rising from C_j/n to C_{j+1}/n (closed forms; the outer bins exactly). The width of the
// D bracket is at most 1/K + max_j c_j/n, ~2e-6 at n = 10^9, against D's null scale 1/sqrt(n)
// = 3e-5. Decisions are conservative: the p-value reported is the one at the bracket's lower
// end (the most favourable statistic the counts allow), so binning never fails a correct
// initializer; the p-value at the upper end is reported beside it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "verinit/verify/independence.hpp"
#include "verinit/verify/law.hpp"
#include "verinit/verify/moments.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

class stream_accumulator {
 public:
  /// `expected_samples` sizes the window sampling (the kept hashes stay under ~4M). Throws
  /// std::invalid_argument for bins < 16 or not a power of two.
  stream_accumulator(const continuous_law& law, std::int64_t expected_samples,
                     std::int64_t bins = std::int64_t{1} << 20);

  /// The next piece of the stream (in order; pieces may have any size).
  void add(std::span<const float> samples);
  void add(std::span<const double> samples);

  std::int64_t count() const { return n_; }

  /// The tests, in the order of the in-memory runner: support, ks, anderson_darling, mean,
  /// variance, extreme (unbounded laws), autocorrelation, repeated_runs.
  std::vector<test_result> finish();

  /// The bracket of D and A^2 from the counts (exposed for tests).
  struct bracket {
    double d_low, d_high, a2_low, a2_high;
  };
  bracket fit_bracket() const;

 private:
  template <class T>
  void add_impl(std::span<const T> samples);

  continuous_law law_;
  law_moments moments_;
  std::int64_t bins_;
  std::vector<std::uint64_t> counts_;
  std::vector<double> low_tail_, high_tail_;  ///< exact u in the outer bins
  /// Far from the law the outer bins can hold most samples: beyond this many values a tail is
  /// dropped and its bin bracketed like the others (A^2's upper end is then infinite).
  static constexpr std::size_t tail_capacity = std::size_t{1} << 22;
  bool low_overflow_ = false, high_overflow_ = false;
  std::int64_t n_ = 0, nan_ = 0;
  bool float32_ = false;  ///< the samples' type (for the support's rounded bounds)
  centred_sums sums_;
  std::int64_t outside_ = 0, at_excluded_ = 0, non_finite_ = 0;
  double largest_ = 0;
  double lagged_ = 0;    ///< lag-1 sum about the mean (squares: sums_.s2)
  double previous_ = 0;  ///< the last sample of the previous piece
  bool has_previous_ = false;
  repeated_runs_accumulator runs_;
};

}  // namespace verinit::verify
