// The single pass (the runner's support, moment, extreme and autocorrelation sums; the four
// public functions read samples through its kernel too) against plain loops.
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

// Against plain loops written here: counts and the largest distance exactly; the sums within
// the recursive-summation bound, (n - 1) eps times the sum of the terms' magnitudes (Higham,
// Accuracy and Stability of Numerical Algorithms, 2002, eq. 4.4), of a long-double reference.
// A missing or wrong term would be off by ~1/n of that magnitude, far more.
template <class T>
void expect_equals_reference(const std::vector<T>& x, const continuous_law& law) {
  const single_pass_sums pass = single_pass(std::span<const T>(x), law);
  const double mean = moments_of(law).mean;
  const auto [low, high] = rounded_support(law, sizeof(T) == 4);
  const bool excluded = upper_bound_excluded(law);
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0;
  long double s1 = 0, s2 = 0, s3 = 0, s4 = 0, lagged = 0;
  double a1 = 0, a2 = 0, a3 = 0, a4 = 0, largest = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = static_cast<double>(x[i]);
    if (!std::isfinite(v)) {
      ++non_finite;
    } else if (v < low || v > high) {
      ++outside;
    } else if (excluded && v == high) {
      ++at_excluded;
    }
    const double d = v - mean;
    s1 += d;
    s2 += static_cast<long double>(d) * d;
    s3 += static_cast<long double>(d) * d * d;
    s4 += static_cast<long double>(d) * d * d * d;
    a1 += std::abs(d);
    a2 += d * d;
    a3 += std::abs(d * d * d);
    a4 += d * d * d * d;
    largest = std::isnan(d) ? INFINITY : std::max(largest, std::abs(d));
    if (i + 1 < x.size()) lagged += static_cast<long double>(d) * (x[i + 1] - mean);
  }
  EXPECT_EQ(pass.outside, outside) << describe(law);
  EXPECT_EQ(pass.at_excluded, at_excluded) << describe(law);
  EXPECT_EQ(pass.non_finite, non_finite) << describe(law);
  EXPECT_EQ(pass.largest, largest) << describe(law);
  EXPECT_EQ(pass.sums.n, static_cast<double>(x.size()));
  if (!std::isfinite(a4)) return;  // non-finite samples: the sums are not compared
  const double eps = static_cast<double>(x.size()) * std::numeric_limits<double>::epsilon();
  EXPECT_NEAR(pass.sums.s1, static_cast<double>(s1), eps * a1);
  EXPECT_NEAR(pass.sums.s2, static_cast<double>(s2), eps * a2);
  EXPECT_NEAR(pass.sums.s3, static_cast<double>(s3), eps * a3);
  EXPECT_NEAR(pass.sums.s4, static_cast<double>(s4), eps * a4);
  EXPECT_NEAR(pass.lagged, static_cast<double>(lagged), eps * a2);  // sum |d_i d_i+1| <= a2
}

std::vector<float> draw(const char* spec, std::int64_t n) {
  return verinit::sample<float>(verinit::tensor_shape{n}, verinit::parse_scheme(spec), {});
}

TEST(SinglePassTest, EqualsPlainLoopsOnNullData) {
  // Sizes around the vector width and the thread split, a correlated stream, bounded laws.
  for (std::int64_t n : {1, 2, 3, 7, 8, 9, 17, 1000, 100003}) {
    expect_equals_reference(draw("normal(std=0.5)", n),
                            boost::math::normal_distribution<>(0.0, 0.5));
    expect_equals_reference(draw("uniform(a=-1,b=1)", n),
                            boost::math::uniform_distribution<>(-1.0, 1.0));
  }
  auto x = draw("normal", 10000);
  for (std::size_t i = 1; i < x.size(); ++i) x[i] = 0.9f * x[i - 1] + 0.1f * x[i];
  expect_equals_reference(x, boost::math::normal_distribution<>(0.0, 1.0));
  const auto y = std::vector<double>(x.begin(), x.end());
  expect_equals_reference(y, boost::math::normal_distribution<>(0.0, 1.0));
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
  expect_equals_reference(x, law);

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

TEST(SinglePassTest, CentredSumsAndAutocorrelationAboutAnyCentre) {
  // centred_power_sums and autocorrelation_test take their centre from the caller (the same
  // kernel, without support bounds): about 0.3 here, against plain loops.
  const auto x = draw("uniform(a=-1,b=1)", 100003);
  const double centre = 0.3;
  long double s1 = 0, s2 = 0, s4 = 0, lagged = 0;
  double a1 = 0, a4 = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - centre;
    s1 += d;
    a1 += std::abs(d);
    s2 += static_cast<long double>(d) * d;
    s4 += static_cast<long double>(d) * d * d * d;
    a4 += d * d * d * d;
    if (i + 1 < x.size()) lagged += static_cast<long double>(d) * (x[i + 1] - centre);
  }
  const double eps = static_cast<double>(x.size()) * std::numeric_limits<double>::epsilon();
  const centred_sums sums = centred_power_sums(std::span<const float>(x), centre);
  EXPECT_EQ(sums.n, static_cast<double>(x.size()));
  EXPECT_NEAR(sums.s1, static_cast<double>(s1), eps * a1);
  EXPECT_NEAR(sums.s2, static_cast<double>(s2), eps * static_cast<double>(s2));
  EXPECT_NEAR(sums.s4, static_cast<double>(s4), eps * a4);
  const double r = static_cast<double>(lagged / s2);
  // r = lagged / squares: each sum within eps of its magnitude (sum |d_i d_i+1| <= squares).
  EXPECT_NEAR(autocorrelation_test(std::span<const float>(x), centre).values[0].second, r,
              2 * eps * (1 + std::abs(r)));
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
