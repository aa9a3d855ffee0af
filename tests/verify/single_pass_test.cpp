// The single pass against the four separate passes it replaces.
#include "verinit/verify/single_pass.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "verinit/fill.hpp"
#include "verinit/verify/independence.hpp"
#include "verinit/verify/support.hpp"

namespace {

using namespace verinit::verify;

// Counts and the largest distance exactly; sums to rounding (the orders of addition differ:
// lanes and threads here, threads there). Either sum of n terms is within (n - 1) eps times
// the sum of the terms' magnitudes of the exact sum (Higham, Accuracy and Stability of
// Numerical Algorithms, 2002, eq. 4.4), hence the tolerance; a missing or wrong term would be
// off by ~1/n of that magnitude, far more.
template <class T>
void expect_equals_separate_passes(const std::vector<T>& x, const continuous_law& law) {
  const std::span<const T> samples(x);
  const single_pass_sums pass = single_pass(samples, law);
  const test_result support = support_check(samples, law);
  const test_result separate =
      support_from_counts(pass.outside, pass.at_excluded, pass.non_finite, law, sizeof(T) == 4);
  EXPECT_EQ(separate.statistic, support.statistic) << describe(law);
  EXPECT_EQ(separate.values, support.values) << describe(law);
  EXPECT_EQ(separate.p_value, support.p_value);

  const double mean = moments_of(law).mean;
  const centred_sums sums = centred_power_sums(samples, mean);
  double a1 = 0, a2 = 0, a3 = 0, a4 = 0;
  for (T v : x) {
    const double d = std::abs(static_cast<double>(v) - mean);
    a1 += d;
    a2 += d * d;
    a3 += d * d * d;
    a4 += d * d * d * d;
  }
  const double eps = 2.0 * static_cast<double>(x.size()) * std::numeric_limits<double>::epsilon();
  EXPECT_EQ(pass.sums.n, sums.n);
  if (std::isfinite(a4)) {
    EXPECT_NEAR(pass.sums.s1, sums.s1, eps * a1);
    EXPECT_NEAR(pass.sums.s2, sums.s2, eps * a2);
    EXPECT_NEAR(pass.sums.s3, sums.s3, eps * a3);
    EXPECT_NEAR(pass.sums.s4, sums.s4, eps * a4);
  }

  const test_result extreme = extreme_test(samples, law);
  EXPECT_EQ(pass.largest, extreme.statistic);

  const test_result autocorrelation = autocorrelation_test(samples, mean);
  const test_result from_pass =
      autocorrelation_from_sums(pass.lagged, pass.sums.s2, static_cast<std::int64_t>(x.size()));
  if (std::isfinite(a2) && a2 > 0) {
    EXPECT_NEAR(from_pass.statistic, autocorrelation.statistic,
                4 * eps * std::sqrt(static_cast<double>(x.size())) * (a2 / std::abs(sums.s2)));
  }
}

std::vector<float> draw(const char* spec, std::int64_t n) {
  return verinit::sample<float>(verinit::tensor_shape{n}, verinit::parse_scheme(spec), {});
}

TEST(SinglePassTest, EqualsTheSeparatePassesOnNullData) {
  // Sizes around the vector width and the thread split, a correlated stream, bounded laws.
  for (std::int64_t n : {1, 2, 3, 7, 8, 9, 17, 1000, 100003}) {
    expect_equals_separate_passes(draw("normal(std=0.5)", n),
                                  boost::math::normal_distribution<>(0.0, 0.5));
    expect_equals_separate_passes(draw("uniform(a=-1,b=1)", n),
                                  boost::math::uniform_distribution<>(-1.0, 1.0));
  }
  auto x = draw("normal", 10000);
  for (std::size_t i = 1; i < x.size(); ++i) x[i] = 0.9f * x[i - 1] + 0.1f * x[i];
  expect_equals_separate_passes(x, boost::math::normal_distribution<>(0.0, 1.0));
  const auto y = std::vector<double>(x.begin(), x.end());
  expect_equals_separate_passes(y, boost::math::normal_distribution<>(0.0, 1.0));
}

TEST(SinglePassTest, CountsWhatTheSupportCheckCounts) {
  // Outside either bound, on the excluded upper bound of U[-1, 1), infinities and NaN.
  std::vector<float> x = draw("uniform(a=-1,b=1)", 1001);
  x[3] = 1.0f;
  x[4] = 1.5f;
  x[5] = -1.0000001f;
  x[6] = std::numeric_limits<float>::infinity();
  x[7] = -std::numeric_limits<float>::infinity();
  x[8] = std::numeric_limits<float>::quiet_NaN();
  x[999] = 1.0f;
  const continuous_law law = boost::math::uniform_distribution<>(-1.0, 1.0);
  const single_pass_sums pass = single_pass(std::span<const float>(x), law);
  EXPECT_EQ(pass.outside, 2);
  EXPECT_EQ(pass.at_excluded, 2);
  EXPECT_EQ(pass.non_finite, 3);
  EXPECT_EQ(pass.largest, INFINITY);  // a NaN sample
  expect_equals_separate_passes(x, law);

  // A truncated normal's closed bounds are inside the support.
  std::vector<double> y = {-2.0, 2.0, 0.5, 2.0000001};
  const single_pass_sums closed =
      single_pass(std::span<const double>(y), truncated_normal_distribution<>(0, 1, -2, 2));
  EXPECT_EQ(closed.outside, 1);
  EXPECT_EQ(closed.at_excluded, 0);
  EXPECT_EQ(closed.largest, 2.0000001);
}

TEST(SinglePassTest, SameBitsOnEveryCallWithOneThreadCount) {
  const auto x = draw("normal", 1 << 20);
  const continuous_law law = boost::math::normal_distribution<>(0.0, 1.0);
  const int before = omp_get_max_threads();
  omp_set_num_threads(3);
  const single_pass_sums first = single_pass(std::span<const float>(x), law);
  for (int repeat = 0; repeat < 5; ++repeat) {
    const single_pass_sums again = single_pass(std::span<const float>(x), law);
    EXPECT_EQ(again.sums.s1, first.sums.s1);
    EXPECT_EQ(again.sums.s2, first.sums.s2);
    EXPECT_EQ(again.sums.s4, first.sums.s4);
    EXPECT_EQ(again.lagged, first.lagged);
  }
  omp_set_num_threads(before);
}

TEST(SinglePassTest, EmptySamples) {
  const single_pass_sums pass =
      single_pass(std::span<const float>(), boost::math::normal_distribution<>(0.0, 1.0));
  EXPECT_EQ(pass.sums.n, 0);
  EXPECT_EQ(pass.sums.s2, 0);
  EXPECT_EQ(pass.lagged, 0);
  EXPECT_EQ(pass.largest, 0);
}

}  // namespace
