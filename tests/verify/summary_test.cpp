// Summaries for reports: counts against brute force, exact merges, thread independence, and
// the Haar entry law against its moments.
#include "verinit/verify/summary.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>

#include "verinit/fill.hpp"
#include "verinit/scheme.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> normal_samples(std::size_t n, double std, std::uint64_t seed) {
  std::vector<float> x(n);
  verinit::fill_options fill;
  fill.seed = seed;
  verinit::fill(std::span<float>(x), verinit::tensor_shape{static_cast<std::int64_t>(n)},
                verinit::parse_scheme("normal(std=" + std::to_string(std) + ")"), fill);
  return x;
}

const any_law unit_normal = boost::math::normal_distribution<>(0.0, 1.0);

template <class T>
sample_summary summary_of(const std::vector<T>& x, const any_law& law, int bins = 80,
                          int threads = 2) {
  return summarize(verinit::view_of(std::span<const T>(x),
                                    std::vector<std::int64_t>{static_cast<std::int64_t>(x.size())}),
                   law, threads, bins);
}

TEST(SummaryTest, CountsMatchBruteForceIncludingNanAndOutliers) {
  std::vector<float> x = normal_samples(100'000, 1.0, 3);
  x[10] = NAN;
  x[11] = 100;
  x[12] = -100;
  x[13] = INFINITY;
  const any_law& law = unit_normal;
  const auto [low, high] = plot_range(law);
  const sample_summary s = summary_of(x, law, 50);
  ASSERT_EQ(s.counts.size(), 50u);
  std::int64_t total = s.below + s.above;
  for (auto c : s.counts) total += c;
  EXPECT_EQ(total, 100'000);
  EXPECT_EQ(s.below, std::count_if(x.begin(), x.end(), [&](float v) { return v < low; }));
  EXPECT_EQ(s.above,
            std::count_if(x.begin(), x.end(), [&](float v) { return std::isnan(v) || v > high; }));
  const double width = (high - low) / 50;
  for (int b : {0, 7, 25, 49}) {
    const auto expected = std::count_if(x.begin(), x.end(), [&](float v) {
      const double d = v;
      return d >= low && d <= high && std::min(49, static_cast<int>((d - low) / width)) == b;
    });
    EXPECT_EQ(s.counts[b], expected) << b;
  }
  for (std::size_t k = 0; k < s.levels.size(); ++k) {
    const double q = s.quantiles[k];
    EXPECT_EQ(s.at_or_below[k], std::count_if(x.begin(), x.end(), [&](float v) { return v <= q; }))
        << k;
  }
  EXPECT_NEAR(s.levels.front(), 1e-7, 1e-20);
  EXPECT_TRUE(std::is_sorted(s.quantiles.begin(), s.quantiles.end()));
}

TEST(SummaryTest, MomentsOfTheSamples) {
  const std::vector<double> x{1, 2, 3, 4, 10};
  const sample_moments m =
      moments_of(summary_of(x, any_law(boost::math::normal_distribution<>(2.0, 3.0))));
  // mean 4; deviations -3, -2, -1, 0, 6: central moments 50/5, 180/5, 1394/5.
  EXPECT_DOUBLE_EQ(m.mean, 4.0);
  EXPECT_NEAR(m.variance, 10.0, 1e-12);
  EXPECT_NEAR(m.skewness, 36.0 / std::pow(10.0, 1.5), 1e-12);
  EXPECT_NEAR(m.kurtosis, 278.8 / 100, 1e-12);
}

TEST(SummaryTest, MergeEqualsTheSummaryOfTheConcatenation) {
  const std::vector<float> a = normal_samples(30'000, 1.0, 1), b = normal_samples(20'000, 1.0, 2);
  std::vector<float> both = a;
  both.insert(both.end(), b.begin(), b.end());
  const any_law& law = unit_normal;
  sample_summary merged = summary_of(a, law);
  merge_into(merged, summary_of(b, law));
  const sample_summary whole = summary_of(both, law);
  EXPECT_EQ(merged.counts, whole.counts);
  EXPECT_EQ(merged.at_or_below, whole.at_or_below);
  EXPECT_EQ(merged.n(), 50'000);
  EXPECT_NEAR(merged.sums.s2, whole.sums.s2, 1e-9 * whole.sums.s2);
  sample_summary other = summary_of(a, law, 10);
  EXPECT_THROW(merge_into(other, whole), std::invalid_argument);
}

TEST(SummaryTest, CountsDoNotDependOnTheThreadCount) {
  const std::vector<float> x = normal_samples(200'000, 1.0, 4);
  const sample_summary one = summary_of(x, unit_normal, 80, 1);
  for (int threads : {2, 3, 7}) {
    const sample_summary other = summary_of(x, unit_normal, 80, threads);
    EXPECT_EQ(one.counts, other.counts);
    EXPECT_EQ(one.at_or_below, other.at_or_below);
    EXPECT_EQ(one.sums.s2, other.sums.s2);  // bitwise: fixed blocks, added exactly
    EXPECT_EQ(one.sums.s4, other.sums.s4);
  }
}

TEST(SummaryTest, HaarEntryLawHasTheMomentsOfAUnitVectorsCoordinate) {
  for (std::int64_t dim : {3, 8, 64}) {
    const double gain = 1.5;
    const any_law law = haar_entry_law(dim, gain);
    using boost::math::quadrature::gauss_kronrod;
    const auto pdf = [&](double x) { return law.pdf(x); };
    const double mass = gauss_kronrod<double, 61>::integrate(pdf, -gain, gain);
    const double second = gauss_kronrod<double, 61>::integrate(
        [&](double x) { return x * x * law.pdf(x); }, -gain, gain);
    const double fourth = gauss_kronrod<double, 61>::integrate(
        [&](double x) { return x * x * x * x * law.pdf(x); }, -gain, gain);
    EXPECT_NEAR(mass, 1.0, 1e-9) << dim;
    // A uniform unit vector in R^d: E[u_1^2] = 1/d, E[u_1^4] = 3/(d(d+2)).
    EXPECT_NEAR(second, gain * gain / dim, 1e-9) << dim;
    EXPECT_NEAR(law.moments().variance, gain * gain / dim, 1e-15);
    EXPECT_NEAR(fourth / (second * second), law.moments().kurtosis, 1e-7) << dim;
    EXPECT_NEAR(law.quantile(0.5), 0.0, 1e-12);
  }
  EXPECT_THROW(haar_entry_law(1, 1.0), std::invalid_argument);
  EXPECT_THROW(haar_entry_law(4, 0.0), std::invalid_argument);
}

TEST(SummaryTest, RejectsBadArguments) {
  const std::vector<float> x{1, 2};
  EXPECT_THROW(summary_of(x, unit_normal, 0), std::invalid_argument);
  EXPECT_THROW(summary_of(x, unit_normal, 80, 0), std::invalid_argument);
}

}  // namespace
