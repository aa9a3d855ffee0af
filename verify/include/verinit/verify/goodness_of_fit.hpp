// Goodness of fit to a fully specified continuous law: Kolmogorov-Smirnov and Anderson-Darling.
//
// Both need the order statistics of u_i = F(x_i). They are obtained without a comparison
// sort of the samples: u is bucketed into n equal-probability buckets (under the null each
// holds O(1) samples), and each bucket is sorted. The result is the same sorted sequence a
// full sort gives (tests/verify/goodness_of_fit_test.cpp checks D and A^2 bitwise against a
// std::sort reference), in O(n) expected time, in parallel.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "verinit/verify/law.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// u_(1) <= ... <= u_(n), u = F(x), for float or double samples.
std::vector<double> sorted_probabilities(std::span<const float> samples, const continuous_law& law);
std::vector<double> sorted_probabilities(std::span<const double> samples,
                                         const continuous_law& law);

/// D_n = max_i max(i/n - u_(i), u_(i) - (i-1)/n), exactly, from sorted u.
double ks_statistic(std::span<const double> sorted_u);

/// A^2 = -n - (1/n) sum_i (2i-1) (ln u_(i) + ln(1 - u_(n+1-i))), accumulated in double.
/// u of exactly 0 or 1 (a sample on a closed bound, which rounding to float can produce) is
/// clamped to [1e-300, 1 - 2^-53] so it contributes a finite ~700/n; samples outside the
/// support are the support check's to catch.
double anderson_darling_statistic(std::span<const double> sorted_u);

/// The tests, with p-values from the exact D_n law and the limiting A^2 law.
/// Throw std::invalid_argument for an empty sample.
test_result ks_test(std::span<const double> sorted_u);
test_result anderson_darling_test(std::span<const double> sorted_u);

}  // namespace verinit::verify
