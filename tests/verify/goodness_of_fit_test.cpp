// Order statistics by bucketing, and the KS and A^2 statistics.
#include "verinit/verify/goodness_of_fit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "anderson_darling_pieces.hpp"
#include "verinit/fill.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

namespace {

using namespace verinit::verify;

template <class T>
fit_statistics fit_of(std::span<const T> x, const any_law& law, int threads = 2,
                      std::int64_t keep_buckets_up_to = detail::keep_buckets_up_to) {
  return detail::fit_statistics_of(
      verinit::view_of(x, std::vector<std::int64_t>{std::int64_t(x.size())}), law, threads,
      keep_buckets_up_to);
}

// The fast path against the textbook: std::sort of u = F(x), then the defining formulas.
void expect_fit_equals_sort(std::span<const float> x, const any_law& law) {
  std::vector<double> reference;
  for (float v : x)
    if (!std::isnan(v)) reference.push_back(law.cdf(v));
  std::sort(reference.begin(), reference.end());
  const fit_statistics fit = fit_of(x, law);
  ASSERT_EQ(fit.n, static_cast<std::int64_t>(reference.size()));
  // The scatter pass with the buckets the counting pass kept, and with buckets found again
  // (what samples beyond detail::keep_buckets_up_to take): the same bits.
  const fit_statistics found_again = fit_of(x, law, 2, 0);
  EXPECT_EQ(found_again.n, fit.n);
  EXPECT_EQ(found_again.nan, fit.nan);
  EXPECT_EQ(found_again.d, fit.d);
  EXPECT_EQ(found_again.a2, fit.a2);
  EXPECT_EQ(fit.d, ks_statistic(reference)) << describe(law);  // bitwise
  // A^2 by the textbook sum in long double (64-bit mantissa: its cancellation costs ~n 2^-64).
  const auto n = static_cast<long double>(reference.size());
  long double sum = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const long double low = std::clamp(reference[i], 1e-300, 1 - 0x1p-53);
    const long double high = std::clamp(reference[reference.size() - 1 - i], 1e-300, 1 - 0x1p-53);
    sum += (2.0L * i + 1) * (std::log(low) + std::log1p(-high));
  }
  const double textbook = static_cast<double>(-n - sum / n);
  EXPECT_NEAR(fit.a2, textbook, 1e-11 * std::max(1.0, std::abs(textbook))) << describe(law);
  EXPECT_NEAR(anderson_darling_statistic(reference), fit.a2, 1e-13 * std::max(1.0, fit.a2));
}

TEST(GoodnessOfFitTest, BucketedStatisticsEqualASortBasedReference) {
  // 2^21 samples: 128 buckets of ~16384. Null data, shifted and squeezed data (most samples
  // in a few buckets, fine bins overflowing into the comparison-sort fallback), bounded laws.
  const auto x = verinit::sample<float>(verinit::tensor_shape{2048, 1024},
                                        verinit::parse_scheme("normal"), {});
  for (const any_law& law : {any_law(boost::math::normal_distribution<>(0.0, 1.0)),
                             any_law(boost::math::normal_distribution<>(0.01, 1.0)),
                             any_law(boost::math::normal_distribution<>(3.0, 0.1)),
                             any_law(boost::math::normal_distribution<>(0.0, 100.0)),
                             any_law(boost::math::uniform_distribution<>(-0.5, 0.5)),
                             any_law(truncated_normal_distribution<>(0.0, 1.0, -2.0, 2.0))})
    expect_fit_equals_sort(std::span<const float>(x), law);
}

TEST(GoodnessOfFitTest, TheLongLog1pSeriesIsWithinTwoUlpsOfTheLibrary) {
  // Both within an ulp of log1p (glibc's 0.54, the series' 0.97 against 200-bit mpmath:
  // tests/data/check_log1p_series.py), so within two of each other; the series one term short
  // (to y^12) is 3 ulps off.
  using verinit::verify::detail::ad_long_series_limit;
  using verinit::verify::detail::ad_series_limit;
  using verinit::verify::detail::log1p_long_series;
  using verinit::verify::detail::log1p_small;
  double worst = 0;
  for (double y = ad_series_limit; y < ad_long_series_limit; y *= 1.0001) {
    const double library = std::log1p(y);
    worst = std::max(worst, std::abs(log1p_long_series(y) - library) /
                                (std::nextafter(library, INFINITY) - library));
    ASSERT_EQ(log1p_small(y), log1p_long_series(y)) << y;
  }
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(log1p_small(ad_long_series_limit), std::log1p(ad_long_series_limit));
}

TEST(GoodnessOfFitTest, BucketedStatisticsHandleTiesInfinitiesNanAndTinySamples) {
  std::vector<float> x(5000, 0.25f);  // all tied
  x[7] = INFINITY;
  x[8] = -INFINITY;
  x[9] = NAN;
  const any_law law = boost::math::normal_distribution<>(0.0, 1.0);
  expect_fit_equals_sort(std::span<const float>(x), law);
  EXPECT_EQ(fit_of(std::span<const float>(x), law).nan, 1);
  // (Below 2^15 values every piece takes the long series or the library: 1023 to 20000.)
  for (std::size_t n : {1u, 2u, 3u, 1023u, 1025u, 20000u}) {
    const auto y = verinit::sample<float>(verinit::tensor_shape{static_cast<std::int64_t>(n)},
                                          verinit::parse_scheme("normal"), {});
    expect_fit_equals_sort(std::span<const float>(y), law);
  }
  EXPECT_THROW(fit_of(std::span<const float>(x), law, 0), std::invalid_argument);  // threads
}

TEST(GoodnessOfFitTest, BucketedStatisticsAreExactWhenManyBucketEdgesShareACell) {
  // Far in the normal's tail the edges' quantiles round together (Phi(8) = 1 - 6e-16 leaves a
  // few representable probabilities for 256 edges), so many edges share a lookup cell: the
  // bucket search takes its general loop instead of two fixed steps.
  std::vector<float> x;
  std::mt19937_64 engine(20261122);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int i = 0; i < (1 << 20); ++i) x.push_back(8.0f + unit(engine));
  expect_fit_equals_sort(std::span<const float>(x), truncated_normal_distribution<>(0, 1, 8, 9));
  expect_fit_equals_sort(std::span<const float>(x), truncated_normal_distribution<>(0, 1, 8.5, 9));
}

TEST(GoodnessOfFitTest, BucketedStatisticsDoNotDependOnTheThreadCount) {
  const auto x = verinit::sample<float>(verinit::tensor_shape{1000, 1000},
                                        verinit::parse_scheme("normal"), {});
  const any_law law = boost::math::normal_distribution<>(0.0, 1.0);
  const fit_statistics one = fit_of(std::span<const float>(x), law, 1);
  for (int threads : {2, 3, 7}) {
    const fit_statistics other = fit_of(std::span<const float>(x), law, threads);
    EXPECT_EQ(one.d, other.d) << threads;
    EXPECT_EQ(one.a2, other.a2) << threads;  // summed per bucket, in bucket order
  }
}

TEST(GoodnessOfFitTest, StatisticsMatchScipyOnASmallSample) {
  // scipy 1.10.1: stats.kstest(x, 'norm') -> D 0.12938945964181514, p 0.7697206892194632;
  // A^2 by the defining sum in numpy: 0.5602318066105703.
  std::vector<double> x;
  for (int i = 0; i < 21; ++i) x.push_back(0.1 * i - 1.05);
  x.insert(x.end(), {2.5, -3.0, 0.33});
  const auto fit =
      fit_of(std::span<const double>(x), any_law(boost::math::normal_distribution<>(0.0, 1.0)));
  EXPECT_NEAR(fit.d, 0.12938945964181514, 1e-15);
  EXPECT_NEAR(cdf(complement(kolmogorov_smirnov_distribution(fit.n), fit.d)), 0.7697206892194632,
              1e-12);
  EXPECT_NEAR(fit.a2, 0.5602318066105703, 1e-12);
}

TEST(GoodnessOfFitTest, NonFiniteSamplesFailBothTests) {
  // The sorted-u path (two-level and Haar tests): NaN sorts last. (The in-memory fit counts
  // NaN apart, and the plan's ks and anderson_darling reject it: iid_tests_test.cpp.)
  std::vector<double> u(999);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = (i + 0.5) / 1000.0;
  u.push_back(NAN);
  EXPECT_LT(ks_test(u).p_value, 1e-300);
  EXPECT_EQ(anderson_darling_test(u).p_value, 0.0);
}

TEST(GoodnessOfFitTest, SampleOnAClosedBoundIsFinite) {
  // float rounding can put a uniform sample exactly on a: F = 0 must not give A^2 = inf.
  std::vector<float> x(10000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 10000.0f;  // includes 0
  const auto fit =
      fit_of(std::span<const float>(x), any_law(boost::math::uniform_distribution<>(0.0, 1.0)));
  EXPECT_TRUE(std::isfinite(fit.a2));
}

TEST(GoodnessOfFitTest, EmptySampleIsAnArgumentError) {
  const std::vector<double> none;
  EXPECT_THROW(ks_test(none), std::invalid_argument);
  EXPECT_THROW(anderson_darling_test(none), std::invalid_argument);
}

}  // namespace
