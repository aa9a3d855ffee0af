// Kolmogorov-Smirnov and Anderson-Darling from order statistics obtained by bucketing.
#include "verinit/verify/goodness_of_fit.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "verinit/detail/check.hpp"
#include "verinit/verify/distributions/anderson_darling.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

namespace verinit::verify {
namespace {

template <class T>
std::vector<double> sorted_probabilities_impl(std::span<const T> samples,
                                              const continuous_law& law) {
  const auto n = static_cast<std::int64_t>(samples.size());
  std::vector<double> u(samples.size());
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) u[i] = law_cdf(law, static_cast<double>(samples[i]));
  // Counting sort into n buckets by floor(u n); NaN u (from NaN samples) go last.
  const auto bucket_of = [n](double p) -> std::int64_t {
    if (!(p >= 0)) return n - 1;
    return std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(p * static_cast<double>(n)));
  };
  std::vector<std::uint32_t> counts(samples.size() + 1, 0);
  for (const double p : u) ++counts[bucket_of(p) + 1];
  std::vector<std::int64_t> starts(samples.size() + 1, 0);
  for (std::int64_t b = 0; b < n; ++b) starts[b + 1] = starts[b] + counts[b + 1];
  std::vector<double> sorted(samples.size());
  {
    std::vector<std::int64_t> next(starts.begin(), starts.end() - 1);
    for (const double p : u) sorted[next[bucket_of(p)]++] = p;
  }
  // Within a bucket: comparison sort, O(1) elements each under the null. NaN sorts last.
  const auto less = [](double a, double b) { return a < b || (!std::isnan(a) && std::isnan(b)); };
#pragma omp parallel for schedule(dynamic, 4096)
  for (std::int64_t b = 0; b < n; ++b)
    if (starts[b + 1] - starts[b] > 1)
      std::sort(sorted.begin() + starts[b], sorted.begin() + starts[b + 1], less);
  return sorted;
}

void require_samples(std::string_view function, std::span<const double> sorted_u) {
  if (sorted_u.empty()) verinit::detail::throw_invalid(function, "sample count", "0", ">= 1");
}

}  // namespace

std::vector<double> sorted_probabilities(std::span<const float> samples,
                                         const continuous_law& law) {
  return sorted_probabilities_impl(samples, law);
}
std::vector<double> sorted_probabilities(std::span<const double> samples,
                                         const continuous_law& law) {
  return sorted_probabilities_impl(samples, law);
}

double ks_statistic(std::span<const double> sorted_u) {
  const auto n = static_cast<std::int64_t>(sorted_u.size());
  const double n_d = static_cast<double>(n);
  double d = 0;
#pragma omp parallel for schedule(static) reduction(max : d)
  for (std::int64_t i = 0; i < n; ++i) {
    const double u = sorted_u[i];
    const double above = static_cast<double>(i + 1) / n_d - u;
    const double below = u - static_cast<double>(i) / n_d;
    d = std::max({d, above, below});
  }
  return d;
}

double anderson_darling_statistic(std::span<const double> sorted_u) {
  const auto n = static_cast<std::int64_t>(sorted_u.size());
  constexpr double lowest = 1e-300, highest = 1 - 0x1p-53;
  double sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) {
    const double low = std::clamp(sorted_u[i], lowest, highest);
    const double high = std::clamp(sorted_u[n - 1 - i], lowest, highest);
    sum += static_cast<double>(2 * i + 1) * (std::log(low) + std::log1p(-high));
  }
  return -static_cast<double>(n) - sum / static_cast<double>(n);
}

test_result ks_test(std::span<const double> sorted_u) {
  test_result r;
  r.name = "ks";
  require_samples("ks_test", sorted_u);
  r.statistic = ks_statistic(sorted_u);
  // NaN probabilities (NaN samples) sort last: D is then undefined, and the fit is rejected.
  if (std::isnan(r.statistic) || std::isnan(sorted_u.back())) r.statistic = 1;
  r.p_value = cdf(complement(
      kolmogorov_smirnov_distribution(static_cast<std::int64_t>(sorted_u.size())), r.statistic));
  r.note = "sup |F_n - F|, p from the exact law of D_n";
  return r;
}

test_result anderson_darling_test(std::span<const double> sorted_u) {
  test_result r;
  r.name = "anderson_darling";
  require_samples("anderson_darling_test", sorted_u);
  r.statistic = anderson_darling_statistic(sorted_u);
  if (std::isnan(r.statistic)) r.statistic = INFINITY;
  r.p_value = cdf(complement(anderson_darling_distribution{}, r.statistic));
  r.note = "A^2, p from the limiting law (Marsaglia & Marsaglia 2004 series)";
  return r;
}

}  // namespace verinit::verify
