// Order statistics by bucketing, and the KS and A^2 statistics.
#include "verinit/verify/goodness_of_fit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "verinit/fill.hpp"

namespace {

using namespace verinit::verify;

TEST(GoodnessOfFitTest, BucketedOrderStatisticsEqualASortBitwise) {
  // Null and far-from-null data (bucket loads from O(1) to all in one bucket).
  const auto x = verinit::sample<float>(verinit::tensor_shape{1000, 1000},
                                        verinit::parse_scheme("normal"), {});
  for (const continuous_law law :
       {continuous_law(boost::math::normal_distribution<>(0.0, 1.0)),
        continuous_law(boost::math::normal_distribution<>(3.0, 0.1)),
        continuous_law(boost::math::uniform_distribution<>(-0.5, 0.5))}) {
    const auto bucketed = sorted_probabilities(std::span<const float>(x), law);
    std::vector<double> reference(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) reference[i] = law_cdf(law, x[i]);
    std::sort(reference.begin(), reference.end());
    ASSERT_EQ(bucketed, reference) << describe(law);
    EXPECT_EQ(ks_statistic(bucketed), ks_statistic(reference));
    EXPECT_EQ(anderson_darling_statistic(bucketed), anderson_darling_statistic(reference));
  }
}

TEST(GoodnessOfFitTest, StatisticsMatchScipyOnASmallSample) {
  // scipy 1.10.1: stats.kstest(x, 'norm') -> D 0.12938945964181514, p 0.7697206892194632;
  // A^2 by the defining sum in numpy: 0.5602318066105703.
  std::vector<double> x;
  for (int i = 0; i < 21; ++i) x.push_back(0.1 * i - 1.05);
  x.insert(x.end(), {2.5, -3.0, 0.33});
  const auto u = sorted_probabilities(std::span<const double>(x),
                                      boost::math::normal_distribution<>(0.0, 1.0));
  const auto ks = ks_test(u);
  EXPECT_NEAR(ks.statistic, 0.12938945964181514, 1e-15);
  EXPECT_NEAR(ks.p_value, 0.7697206892194632, 1e-12);
  EXPECT_NEAR(anderson_darling_statistic(u), 0.5602318066105703, 1e-12);
}

TEST(GoodnessOfFitTest, NonFiniteSamplesFailBothTests) {
  std::vector<float> x(1000, 0.1f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 1000.0f;
  x[10] = NAN;
  const auto u = sorted_probabilities(std::span<const float>(x),
                                      boost::math::uniform_distribution<>(0.0, 1.0));
  EXPECT_LT(ks_test(u).p_value, 1e-300);
  EXPECT_EQ(anderson_darling_test(u).p_value, 0.0);
}

TEST(GoodnessOfFitTest, SampleOnAClosedBoundIsFinite) {
  // float rounding can put a uniform sample exactly on a: F = 0 must not give A^2 = inf.
  std::vector<float> x(10000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) / 10000.0f;  // includes 0
  const auto u = sorted_probabilities(std::span<const float>(x),
                                      boost::math::uniform_distribution<>(0.0, 1.0));
  EXPECT_TRUE(std::isfinite(anderson_darling_statistic(u)));
}

TEST(GoodnessOfFitTest, EmptySampleIsAnArgumentError) {
  const std::vector<double> none;
  EXPECT_THROW(ks_test(none), std::invalid_argument);
  EXPECT_THROW(anderson_darling_test(none), std::invalid_argument);
}

}  // namespace
