// truncated_normal_distribution against scipy.stats.truncnorm (scipy 1.10.1; values printed
// by the snippet in tests/data/README.md). Tolerances: 1e-12 relative unless stated.
#include "verinit/verify/distributions/truncated_normal.hpp"

#include <gtest/gtest.h>

namespace {

using verinit::verify::truncated_normal_distribution;

TEST(TruncatedNormalTest, TwoSigmaCutMatchesKerasConstantAndItsKurtosis) {
  const truncated_normal_distribution<> d(0.0, 1.0, -2.0, 2.0);
  EXPECT_NEAR(std::sqrt(variance(d)), 0.8796256610342398, 1e-15);  // Keras's 0.87962566103423978
  EXPECT_NEAR(kurtosis(d), 2.3655367171296495, 1e-12);
  EXPECT_NEAR(mean(d), 0.0, 1e-16);
  EXPECT_NEAR(skewness(d), 0.0, 1e-15);
}

TEST(TruncatedNormalTest, MatchesScipyTruncnormOnAnAsymmetricInterval) {
  const truncated_normal_distribution<> d(0.2, 0.5, 0.5, 3.0);
  EXPECT_NEAR(mean(d), 0.8075127911424655, 1e-12);
  EXPECT_NEAR(variance(d), 0.06318176414748206, 1e-12);
  EXPECT_NEAR(skewness(d), 1.200442054924385, 1e-11);  // truncnorm.stats(moments='s')
  EXPECT_NEAR(cdf(d, 1.0), 0.8001872008856509, 1e-12);
  EXPECT_NEAR(cdf(complement(d, 2.5)), 7.663494262603211e-06, 1e-12 * 7.7e-6 * 100);
  EXPECT_NEAR(pdf(d, 1.0), 0.8088939146736283, 1e-12);
  EXPECT_NEAR(quantile(d, 0.3), 0.63531668376071, 1e-12);
  EXPECT_NEAR(quantile(complement(d, 0.7)), 0.63531668376071, 1e-12);
}

TEST(TruncatedNormalTest, FarTailStaysAccurate) {
  const truncated_normal_distribution<> d(0.0, 1.0, 8.0, 9.0);
  EXPECT_NEAR(cdf(complement(d, 8.5)), 0.015059371383170938, 1e-10);
  EXPECT_NEAR(mean(d), 8.121188992979869, 1e-10);
}

TEST(TruncatedNormalTest, OutsideTheSupport) {
  const truncated_normal_distribution<> d(0.0, 1.0, -1.0, 1.0);
  EXPECT_EQ(cdf(d, -2.0), 0.0);
  EXPECT_EQ(cdf(d, 2.0), 1.0);
  EXPECT_EQ(pdf(d, 1.5), 0.0);
  EXPECT_EQ(cdf(complement(d, -3.0)), 1.0);
}

TEST(TruncatedNormalTest, RejectsBadParameters) {
  EXPECT_THROW(truncated_normal_distribution<>(0.0, 0.0, -1.0, 1.0), std::domain_error);
  EXPECT_THROW(truncated_normal_distribution<>(0.0, 1.0, 1.0, 1.0), std::domain_error);
  EXPECT_THROW(truncated_normal_distribution<>(NAN, 1.0, -1.0, 1.0), std::domain_error);
  EXPECT_THROW(truncated_normal_distribution<>(0.0, 1.0, 50.0, 60.0),
               std::domain_error);  // no mass in double
  EXPECT_THROW(quantile(truncated_normal_distribution<>(0.0, 1.0, -1.0, 1.0), 1.5),
               std::domain_error);
}

}  // namespace
