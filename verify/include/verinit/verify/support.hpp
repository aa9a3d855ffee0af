// Support and extreme-value checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>

#include "verinit/verify/law.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// Exact check: no sample outside the law's support in the sample's type, none at an excluded
/// endpoint, none non-finite. Bounds are rounded outward to the sample type (float32(-0.3)
/// lies below -0.3, and PyTorch's uniform_(-0.3, 0.3) does emit it).
test_result support_check(std::span<const float> samples, const continuous_law& law);
test_result support_check(std::span<const double> samples, const continuous_law& law);

/// max |x - m| (m the law's centre) against its exact null law: P(max >= t) = 1 - (1 -
/// P(|X - m| > t))^n. Catches a few far outliers that KS and the variance miss.
/// Meant for unbounded laws: on a bounded one the maximum of rounded samples sits on a grid
/// as coarse as its spread, and the p-value is discrete (conservative).
test_result extreme_test(std::span<const float> samples, const continuous_law& law);
test_result extreme_test(std::span<const double> samples, const continuous_law& law);

/// The same two from what a pass over the samples counted (for streamed samples):
/// `outside`, `at_excluded`, `non_finite` as support_check counts them in the sample type
/// `float32` or float64, and the largest |x - m| (NaN: infinite) of n samples.
test_result support_from_counts(std::int64_t outside, std::int64_t at_excluded,
                                std::int64_t non_finite, const continuous_law& law, bool float32);
test_result extreme_from_largest(double largest, std::int64_t n, const continuous_law& law,
                                 bool float32);
/// How support_check counts one sample x of type T, against bounds rounded outward to T
/// (rounded_support): non-finite, outside [low, high], or on an excluded upper bound. Without
/// branches, so that a loop over samples runs in vector lanes.
template <class T>
inline void count_support(T x, T low, T high, bool excluded, std::int64_t& outside,
                          std::int64_t& at_excluded, std::int64_t& non_finite) {
  const bool finite = std::abs(x) <= std::numeric_limits<T>::max();  // false for +-inf, NaN
  const bool out = (x < low) | (x > high);
  non_finite += static_cast<std::int64_t>(!finite);
  outside += static_cast<std::int64_t>(finite & out);
  at_excluded += static_cast<std::int64_t>(finite & !out & excluded & (x == high));
}

/// The support's bounds rounded outward to the sample type.
std::pair<double, double> rounded_support(const continuous_law& law, bool float32);

}  // namespace verinit::verify
