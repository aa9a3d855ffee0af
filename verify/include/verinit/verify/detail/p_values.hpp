// The p-values and intervals several tests share (internal), each written once.
#pragma once

#include <cmath>

namespace verinit::verify::detail {

/// z of the two-sided 95% normal interval, Phi^-1(0.975) (Abramowitz & Stegun, table 26.5).
inline constexpr double z_975 = 1.959963984540054;

/// P(|Z| >= |z|) for a standard normal Z; a NaN z (a test that could not be computed) gives 0.
inline double two_sided_normal_p(double z) {
  if (std::isnan(z)) return 0;
  return std::erfc(std::abs(z) / 1.41421356237309504880);
}

/// P(N >= k) for N ~ Poisson(mean), without overflow far in the tail (0 below 1e-300).
double poisson_upper_tail(double k, double mean);

/// min(1, 2 min(lower, upper)): a two-sided p-value from the two one-sided ones.
inline double two_sided(double lower, double upper) {
  const double p = 2 * (lower < upper ? lower : upper);
  return p < 1 ? p : 1;
}

}  // namespace verinit::verify::detail
