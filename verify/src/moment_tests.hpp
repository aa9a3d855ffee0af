// Internal: the z-tests of a sample's mean and variance against a law's moments, written once
// for the continuous plan (iid_tests.cpp) and the 16-bit grid's (grid_tests.cpp).
#pragma once

#include <cmath>

#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify::detail {

/// z = (estimate - mu) / (sigma / sqrt(n)), two-sided; the effect it detects in sigmas.
inline test_result mean_z_test(double estimate, double mu, double sigma2, double n) {
  const double standard_error = std::sqrt(sigma2 / n);
  test_result r;
  r.name = "mean";
  r.statistic = (estimate - mu) / standard_error;
  r.p_value = two_sided_normal_p(r.statistic);
  r.values = {{"estimate", estimate},
              {"expected", mu},
              {"ci95_low", estimate - z_975 * standard_error},
              {"ci95_high", estimate + z_975 * standard_error}};
  r.note = "z = (mean - mu) / (sigma / sqrt(n))";
  r.detects = detectable_quantity::mean_shift;
  r.standard_error = 1 / std::sqrt(n);  // in standard deviations
  return r;
}

/// The variance about the known mean, `estimate` = sum (x - mu)^2 / n, against sigma^2 with
/// the standard error sigma^2 sqrt((kappa - 1)/n) of the law's kurtosis kappa; two-sided.
inline test_result variance_z_test(double estimate, double sigma2, double kurtosis, double n) {
  const double relative_error = std::sqrt((kurtosis - 1) / n);
  const double standard_error = sigma2 * relative_error;
  test_result r;
  r.name = "variance";
  r.statistic = (estimate - sigma2) / standard_error;
  r.p_value = two_sided_normal_p(r.statistic);
  r.values = {{"estimate", estimate},
              {"expected", sigma2},
              {"kurtosis", kurtosis},
              {"n", n},
              {"ci95_low", estimate - z_975 * standard_error},
              {"ci95_high", estimate + z_975 * standard_error}};
  r.note = "z = (v - sigma^2) / (sigma^2 sqrt((kurtosis - 1)/n))";
  r.detects = detectable_quantity::relative_variance_error;
  r.standard_error = relative_error;
  return r;
}

}  // namespace verinit::verify::detail
