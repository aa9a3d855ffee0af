// truncated_normal_distribution against scipy.stats.truncnorm (scipy 1.10.1; values printed
// by the snippet in tests/data/README.md). Tolerances: 1e-12 relative unless stated.
#include "verinit/verify/distributions/truncated_normal.hpp"

#include <gtest/gtest.h>

#include "verinit/verify/detail/law_points.hpp"

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

TEST(TruncatedNormalTest, QuantileIsAccurateInBothTails) {
  // scipy 1.10.1 truncnorm.ppf / isf: the analytic quantile works on the side where the
  // probabilities do not cancel, also for an interval far in the parent's tail.
  const truncated_normal_distribution<> asymmetric(0.2, 0.5, 0.5, 3.0);
  EXPECT_NEAR(quantile(asymmetric, 1e-10), 0.5000000000411513, 1e-13);
  EXPECT_NEAR(quantile(asymmetric, 0.999999), 2.7005669004370776, 1e-10);
  EXPECT_NEAR(quantile(complement(asymmetric, 1e-12)), 2.999997782015241, 1e-9);
  const truncated_normal_distribution<> far(0.0, 1.0, 8.0, 9.0);
  EXPECT_NEAR(quantile(far, 1e-10), 8.000000000012314, 1e-12);
  EXPECT_NEAR(quantile(far, 0.999999), 8.999396586071983, 1e-10);
  const truncated_normal_distribution<> keras(0.0, 1.0, -2.0, 2.0);
  EXPECT_NEAR(quantile(keras, 0.999999), 1.9999823214340544, 1e-12);
  for (double p : {1e-300, 1e-9, 0.3, 0.5, 0.7, 1 - 1e-9})
    EXPECT_NEAR(cdf(keras, quantile(keras, p)), p, 1e-15 + 1e-12 * p) << p;
  EXPECT_EQ(quantile(keras, 0.0), -2.0);
  EXPECT_EQ(quantile(keras, 1.0), 2.0);
}

TEST(TruncatedNormalTest, CentralMomentsToOrderEight) {
  // The law's central moments (the generic quadrature of detail/law_points.hpp) against
  // mpmath at 50 digits (quadrature of (z - mean)^k phi(z) / Z; scipy 1.10.1's
  // truncnorm.expect agrees to 1e-12). Far in the tail (on [8, 9]) moments from raw moments
  // or their recurrence cancel; quadrature about the mean does not.
  struct row {
    truncated_normal_distribution<> d;
    double m2, m4, m6, m8;
  };
  for (const row& r : {row{{0.2, 0.5, 0.5, 3.0},
                           0.06318176414748198321,
                           0.018136838673170811931,
                           0.012807723374909352755,
                           0.014370037581580543933},
                       row{{0.0, 1.0, 8.0, 9.0},
                           0.014148542782748111039,
                           0.0015370044462017351286,
                           0.00043717298980276778318,
                           0.00018008297388650418681},
                       row{{0.0, 1.0, -2.0, 2.0},
                           0.77374130354992324718,
                           1.4161891248494627303,
                           3.4608064810460856062,
                           9.7450887945176870627}}) {
    using verinit::verify::detail::central_moment;
    EXPECT_NEAR(central_moment(r.d, 2), r.m2, 1e-12 * r.m2);
    EXPECT_NEAR(central_moment(r.d, 4), r.m4, 1e-12 * r.m4);
    EXPECT_NEAR(central_moment(r.d, 6), r.m6, 1e-12 * r.m6);
    EXPECT_NEAR(central_moment(r.d, 8), r.m8, 1e-12 * r.m8);
    EXPECT_EQ(central_moment(r.d, 0), 1.0);
    EXPECT_EQ(central_moment(r.d, 1), 0.0);
  }
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
