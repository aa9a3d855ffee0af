// The sums behind the support, mean, variance, extreme and autocorrelation tests, from one
// pass over the samples.
#pragma once

#include <cstdint>
#include <span>

#include "verinit/verify/law.hpp"
#include "verinit/verify/moments.hpp"

namespace verinit::verify {

/// What support_check, centred_power_sums (about the law's mean), extreme_test and
/// autocorrelation_test each need, from one read of the samples (the runner calls this once;
/// those functions read the samples through the same kernel). Counts and `largest` are exact;
/// the sums are accumulated in double in vector lanes and per thread, then added in thread
/// order, so they have the same bits on every call with the same thread count (the last bits
/// depend on the thread count and the CPU's vector width).
struct single_pass_sums {
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0;  ///< as support_check counts
  centred_sums sums;                                          ///< powers of x - mean
  double largest = 0;  ///< max |x - mean|; +inf if any x is NaN
  double lagged = 0;   ///< sum_i (x_i - mean)(x_{i+1} - mean)
};
single_pass_sums single_pass(std::span<const float> samples, const continuous_law& law);
single_pass_sums single_pass(std::span<const double> samples, const continuous_law& law);

}  // namespace verinit::verify
