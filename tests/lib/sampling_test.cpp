// Statistical checks of the sampling kernels against their exact laws.
//
// Each check is a one-sample Kolmogorov-Smirnov test at a fixed seed with the asymptotic
// critical value for alpha = 1e-6 (sqrt(ln(2/alpha)/2)/sqrt(n), accurate at these n), so its
// false-positive rate is 1e-6 per check and, the seed being fixed, the outcome deterministic.
// A 1% error in the std of a normal moves D by ~0.0024 at the mode, so at n = 10^6 (critical
// D = 0.0027) these catch errors of about 1% and more; the verifier (verify/) does the rest.
#include "sampling.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <functional>
#include <vector>

namespace {

using verinit::detail::philox_stream;

double ks_statistic(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, (static_cast<double>(i) + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d;
}

double critical(std::size_t n) {
  return std::sqrt(std::log(2 / 1e-6) / 2) / std::sqrt(static_cast<double>(n));
}

double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

template <class T>
std::vector<double> draw_normal(std::size_t n, std::uint64_t seed, double mean, double std) {
  std::vector<T> out(n);
  philox_stream source(seed, 0);
  verinit::detail::sample_normal<T>(out, mean, std, source);
  return {out.begin(), out.end()};
}

template <class T>
std::vector<double> draw_truncated(std::size_t n, std::uint64_t seed,
                                   verinit::truncated_normal_law law) {
  std::vector<T> out(n);
  philox_stream source(seed, 0);
  verinit::detail::sample_truncated_normal<T>(out, law, source);
  return {out.begin(), out.end()};
}

std::function<double(double)> truncated_cdf(const verinit::truncated_normal_law& law) {
  // Computed through upper tails so that far-tail intervals do not cancel.
  const auto q = [](double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); };
  const double alpha = (law.a - law.mean) / law.std, beta = (law.b - law.mean) / law.std;
  return [=](double x) {
    const double z = std::clamp((x - law.mean) / law.std, alpha, beta);
    if (alpha >= 0) return (q(alpha) - q(z)) / (q(alpha) - q(beta));
    return (phi(z) - phi(alpha)) / (phi(beta) - phi(alpha));
  };
}

TEST(SamplingTest, ZigguratFloatIsStandardNormal) {
  const auto x = draw_normal<float>(1'000'000, 1, 0, 1);
  EXPECT_LT(ks_statistic(x, phi), critical(x.size()));
}

TEST(SamplingTest, ZigguratDoubleIsNormalWithItsParameters) {
  const auto x = draw_normal<double>(1'000'000, 2, 3.0, 0.5);
  EXPECT_LT(ks_statistic(x, [](double v) { return phi((v - 3.0) / 0.5); }), critical(x.size()));
}

TEST(SamplingTest, ZigguratTailBeyondRIsRight) {
  // P(|Z| > 3.6541528853610088) = 2.58e-4: 2,580 expected of 10^7 (sd 51). A wrong tail
  // sampler shows up here long before it moves the KS statistic.
  const auto x = draw_normal<float>(10'000'000, 3, 0, 1);
  const double r = 3.6541528853610088;
  const double beyond = static_cast<double>(
      std::count_if(x.begin(), x.end(), [&](double v) { return std::abs(v) > r; }));
  const double expected = 2 * 0.5 * std::erfc(r / std::sqrt(2.0)) * 1e7;
  EXPECT_LT(std::abs(beyond - expected), 5.5 * std::sqrt(expected));  // ~4e-8 two-sided
  // ...and the far tail has the right conditional law: KS on the excess over r.
  std::vector<double> tail;
  for (const double v : x)
    if (std::abs(v) > r) tail.push_back(std::abs(v));
  const double qr = 0.5 * std::erfc(r / std::sqrt(2.0));
  EXPECT_LT(
      ks_statistic(tail, [&](double v) { return 1 - 0.5 * std::erfc(v / std::sqrt(2.0)) / qr; }),
      critical(tail.size()));
}

TEST(SamplingTest, TruncatedNormalAllRegimes) {
  const verinit::truncated_normal_law laws[] = {
      {0, 1, -2, 2},        // rejection from the normal (Keras's +-2 sigma)
      {1, 2, 0, 10},        // rejection, asymmetric
      {0, 1, 2.5, 3.0},     // tail, uniform proposal
      {0, 1, 3, 40},        // tail, exponential proposal
      {0, 1, -9, -6},       // lower tail, mirrored
      {0, 1, 8, 8.01},      // far tail, narrow
      {0.1, 1, -0.2, 0.3},  // narrow interval around the mean
  };
  std::uint64_t seed = 10;
  for (const auto& law : laws) {
    const auto x = draw_truncated<double>(200'000, ++seed, law);
    EXPECT_LT(ks_statistic(x, truncated_cdf(law)), critical(x.size()))
        << "TN(" << law.mean << "," << law.std << ") on [" << law.a << "," << law.b << "]";
    const auto [low, high] = std::minmax_element(x.begin(), x.end());
    EXPECT_GE(*low, law.a);
    EXPECT_LE(*high, law.b);
  }
}

TEST(SamplingTest, UniformIsUniform) {
  std::vector<float> out(1'000'000);
  philox_stream source(5, 0);
  verinit::detail::sample_uniform<float>(out, -0.3, 0.7, source);
  const std::vector<double> x(out.begin(), out.end());
  EXPECT_LT(ks_statistic(x, [](double v) { return std::clamp(v + 0.3, 0.0, 1.0); }),
            critical(x.size()));
}

TEST(SamplingTest, BoundedIntegersAreUnbiased) {
  // Chi-square over 6 cells with 600,000 draws; 5 df, critical value at 1e-6 is 35.9.
  philox_stream source(6, 0);
  verinit::detail::word_reader reader(source);
  std::array<double, 6> counts{};
  for (int i = 0; i < 600'000; ++i) counts[reader.bounded(6)] += 1;
  double chi2 = 0;
  for (const double c : counts) chi2 += (c - 1e5) * (c - 1e5) / 1e5;
  EXPECT_LT(chi2, 35.9);
}

}  // namespace
