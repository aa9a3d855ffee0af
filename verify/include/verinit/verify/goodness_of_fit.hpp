// Goodness of fit to a fully specified continuous law: Kolmogorov-Smirnov and Anderson-Darling.
//
// Both need the order statistics of u_i = F(x_i). fit_statistics_of obtains them without a
// comparison sort of the samples and without holding u for all of them (below), in O(n)
// expected time, in parallel; tests/verify/goodness_of_fit_test.cpp checks D bitwise and A^2
// to 1e-11 against std::sort and the textbook formulas. The statistics of an already sorted u
// (ks_statistic, anderson_darling_statistic and the tests on them) serve the two-level and
// Haar tests, whose p-values or matrix entries are few.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "verinit/tensor.hpp"
#include "verinit/verify/law.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// D_n and A^2 of samples against a law, computed without holding u = F(x) for all samples:
/// the samples are grouped into B equal-probability buckets by comparing x with the law's
/// quantiles (no cdf needed: F is monotone, so x-order is u-order), each bucket's u is then
/// computed and ordered by a counting sort inside the bucket and one insertion pass
/// (cache-resident; a comparison sort of the bucket only when the insertion pass would move
/// more than 4 values a value, which the null hypothesis makes vanishingly rare), and each
/// value enters D and A^2 with its global rank. D equals ks_statistic of the fully sorted u
/// bitwise; A^2 equals anderson_darling_statistic to rounding (the same pieces, summed per
/// bucket in vector lanes: the last bits depend on the CPU's vector width, not on the thread
/// count). Extra memory: one copy of the samples. NaN samples are counted, not ranked.
/// The work runs on `threads` threads (>= 1); the result does not depend on their number.
struct fit_statistics {
  std::int64_t n = 0;    ///< samples ranked (NaN excluded)
  std::int64_t nan = 0;  ///< NaN samples
  double d = 0;          ///< D_n
  double a2 = 0;         ///< A^2
};
fit_statistics fit_statistics_of(const tensor_view& samples, const any_law& law, int threads);

namespace detail {
/// Up to this many samples fit_statistics_of keeps each value's bucket from its counting pass
/// for its scatter pass (2 bytes a value); beyond, the scatter finds the buckets again.
inline constexpr std::int64_t keep_buckets_up_to = std::int64_t{1} << 24;
/// fit_statistics_of with that limit given, so that tests can check both ways agree.
fit_statistics fit_statistics_of(const tensor_view& samples, const any_law& law, int threads,
                                 std::int64_t keep_buckets_up_to);
}  // namespace detail

/// D_n = max_i max(i/n - u_(i), u_(i) - (i-1)/n), exactly, from sorted u.
double ks_statistic(std::span<const double> sorted_u);

/// A^2 = n \int (F_n - F)^2 / (F (1 - F)) dF, the same as the textbook
/// -n - (1/n) sum_i (2i-1) (ln u_(i) + ln(1 - u_(n+1-i))), summed as non-negative pieces between
/// consecutive order statistics so that nothing cancels (the textbook form loses ~n^{3/2} eps).
/// u of exactly 0 or 1 (a sample on a closed bound, which rounding to float can produce) is
/// clamped to [1e-300, 1 - 2^-53] so it contributes a finite amount; samples outside the
/// support are the support check's to catch.
double anderson_darling_statistic(std::span<const double> sorted_u);

/// The tests, with p-values from the exact D_n law and the limiting A^2 law.
/// Throw std::invalid_argument for an empty sample.
test_result ks_test(std::span<const double> sorted_u);
test_result anderson_darling_test(std::span<const double> sorted_u);

}  // namespace verinit::verify
