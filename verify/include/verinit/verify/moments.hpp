// Tests of the first two moments against the law's own, with the law's kurtosis.
#pragma once

#include <span>

#include "verinit/verify/law.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// Sums of powers of (x - centre), accumulated in double, in parallel.
struct centred_sums {
  double n = 0;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
};
centred_sums centred_power_sums(std::span<const float> samples, double centre);
centred_sums centred_power_sums(std::span<const double> samples, double centre);

/// z-test of the sample mean: z = (mean - mu) / (sigma / sqrt(n)), two-sided.
test_result mean_test(const centred_sums& sums, const law_moments& law);

/// Variance about the known mean, v = sum (x - mu)^2 / n, against sigma^2 with the standard
/// error sigma^2 sqrt((kappa - 1)/n) of the law's kurtosis kappa (3 normal, 1.8 uniform,
/// ~2.366 for a +-2 sigma truncated normal); the textbook chi-square test assumes kappa = 3
/// and is wrong for uniforms. Two-sided; reports the estimate, the expected value and a 95%
/// confidence interval.
test_result variance_test(const centred_sums& sums, const law_moments& law);

}  // namespace verinit::verify
