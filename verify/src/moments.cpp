// Mean and variance tests.
#include "verinit/verify/moments.hpp"

#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

#include "sums_about.hpp"

namespace verinit::verify {
namespace {

template <class T>
centred_sums sums_impl(std::span<const T> samples, double centre) {
  constexpr T infinity = std::numeric_limits<T>::infinity();
  return detail::sums_about(samples, centre, -infinity, infinity, false).sums;
}

double two_sided_p(double z) {
  if (std::isnan(z)) return 0;
  return std::erfc(std::abs(z) / std::sqrt(2.0));
}

}  // namespace

centred_sums centred_power_sums(std::span<const float> samples, double centre) {
  return sums_impl(samples, centre);
}
centred_sums centred_power_sums(std::span<const double> samples, double centre) {
  return sums_impl(samples, centre);
}

test_result mean_test(const centred_sums& sums, const law_moments& law) {
  test_result r;
  r.name = "mean";
  const double estimate = law.mean + sums.s1 / sums.n;
  const double standard_error = std::sqrt(law.variance / sums.n);
  r.statistic = (estimate - law.mean) / standard_error;
  r.p_value = two_sided_p(r.statistic);
  r.values = {{"estimate", estimate},
              {"expected", law.mean},
              {"ci95_low", estimate - 1.959963984540054 * standard_error},
              {"ci95_high", estimate + 1.959963984540054 * standard_error}};
  r.note = "z = (mean - mu) / (sigma / sqrt(n))";
  return r;
}

test_result variance_test(const centred_sums& sums, const law_moments& law) {
  test_result r;
  r.name = "variance";
  const double estimate = sums.s2 / sums.n;  // about the known mean: unbiased for sigma^2
  const double standard_error = law.variance * std::sqrt((law.kurtosis - 1) / sums.n);
  r.statistic = (estimate - law.variance) / standard_error;
  r.p_value = two_sided_p(r.statistic);
  r.values = {{"estimate", estimate},
              {"expected", law.variance},
              {"kurtosis", law.kurtosis},
              {"n", sums.n},
              {"ci95_low", estimate - 1.959963984540054 * standard_error},
              {"ci95_high", estimate + 1.959963984540054 * standard_error}};
  r.note = "z = (v - sigma^2) / (sigma^2 sqrt((kurtosis - 1)/n))";
  return r;
}

}  // namespace verinit::verify
