// Laws behind any_law: Boost's and ours through the same interface, the customisation points
// (the fast overloads and the generic defaults agree), and a law of another namespace that
// customises its batch cdf by argument-dependent lookup.
#include "verinit/verify/law.hpp"

#include <gtest/gtest.h>

#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/logistic.hpp>
#include <cmath>
#include <vector>

#include "verinit/verify/distributions/affine.hpp"

namespace elsewhere {

// A law written outside verinit: Boost's logistic, with its own batch cdf counted.
struct counted_logistic {
  boost::math::logistic_distribution<> law{0.0, 2.0};
  std::shared_ptr<int> batches = std::make_shared<int>(0);
};
inline double cdf(const counted_logistic& d, double x) { return cdf(d.law, x); }
inline double cdf(const boost::math::complemented2_type<counted_logistic, double>& c) {
  return cdf(complement(c.dist.law, c.param));
}
inline double quantile(const counted_logistic& d, double p) { return quantile(d.law, p); }
inline double quantile(const boost::math::complemented2_type<counted_logistic, double>& c) {
  return quantile(complement(c.dist.law, c.param));
}
inline double pdf(const counted_logistic& d, double x) { return pdf(d.law, x); }
inline double mean(const counted_logistic& d) { return mean(d.law); }
inline double variance(const counted_logistic& d) { return variance(d.law); }
inline double skewness(const counted_logistic& d) { return skewness(d.law); }
inline double kurtosis(const counted_logistic& d) { return kurtosis(d.law); }
inline std::pair<double, double> support(const counted_logistic&) { return {-INFINITY, INFINITY}; }
// The customisation point, found by argument-dependent lookup.
inline void cdf_batch(const counted_logistic& d, const double* x, double* u, std::size_t m) {
  ++*d.batches;
  for (std::size_t k = 0; k < m; ++k) u[k] = cdf(d.law, x[k]);
}

}  // namespace elsewhere

namespace {

using namespace verinit::verify;

static_assert(distribution<boost::math::normal_distribution<>>);
static_assert(distribution<truncated_normal_distribution<>>);
static_assert(distribution<affine_distribution<boost::math::beta_distribution<>>>);
static_assert(distribution<elsewhere::counted_logistic>);
static_assert(!distribution<double>);

TEST(LawTest, EveryLawAnswersThroughOneInterface) {
  const std::vector<any_law> laws{
      boost::math::normal_distribution<>(0.5, 2.0), boost::math::uniform_distribution<>(-1, 3),
      truncated_normal_distribution<>(0.2, 0.5, 0.5, 3.0),
      affine_distribution(boost::math::beta_distribution<>(2.0, 3.0), -1.0, 2.0)};
  for (const any_law& law : laws) {
    const auto [low, high] = law.support();
    std::vector<double> x;
    for (double p = 0.01; p < 1; p += 0.01) x.push_back(law.quantile(p));
    x.push_back(std::isfinite(low) ? low - 1 : -1e300);
    x.push_back(std::isfinite(high) ? high + 1 : 1e300);
    x.push_back(NAN);
    std::vector<double> u(x.size());
    law.cdf_batch(x.data(), u.data(), x.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (std::isnan(x[k])) {
        EXPECT_TRUE(std::isnan(u[k]));
        continue;
      }
      EXPECT_EQ(u[k], law.cdf(x[k])) << law.description();  // bitwise: batch = one value
      EXPECT_NEAR(law.cdf(x[k]) + law.sf(x[k]), 1.0, 1e-14) << law.description();
    }
    for (std::size_t k = 0; k + 3 < x.size(); ++k)  // the quantiles: cdf(quantile(p)) = p
      EXPECT_NEAR(u[k], 0.01 * static_cast<double>(k + 1), 1e-12) << law.description();
    EXPECT_EQ(law.cdf(std::isfinite(low) ? low - 1 : -1e300), 0.0);
    EXPECT_EQ(law.pdf(std::isfinite(high) ? high + 1 : 1e300), 0.0);
    EXPECT_NEAR(law.central_moment(2), law.moments().variance, 1e-12 * law.moments().variance);
    EXPECT_EQ(law.central_moment(0), 1.0);
  }
  EXPECT_TRUE(std::isinf(laws[0].support().first));
  EXPECT_TRUE(laws[1].upper_bound_excluded());
  EXPECT_FALSE(laws[2].upper_bound_excluded());
  EXPECT_EQ(laws[0].description(), "N(0.5, 2^2)");
  EXPECT_EQ(laws[1].description(), "U[-1, 3)");
}

TEST(LawTest, CentralMomentsByQuadratureAgreeWithClosedForms) {
  // The generic default (quadrature of the density) against the closed forms of the normal
  // and the uniform, to order 8 (the truncated normal's: truncated_normal_test.cpp).
  const boost::math::normal_distribution<> normal(0.3, 1.7);
  const boost::math::uniform_distribution<> uniform(-1.0, 2.0);
  for (int k = 2; k <= 8; ++k) {
    const auto generic = [&](const auto& d) {
      return detail::central_moment<std::decay_t<decltype(d)>>(d, k);
    };
    EXPECT_NEAR(generic(normal), detail::central_moment(normal, k),
                1e-9 * detail::central_moment(normal, 2 * (k / 2)) + 1e-12)
        << k;
    EXPECT_NEAR(generic(uniform), detail::central_moment(uniform, k), 1e-10) << k;
  }
  // The normal's: 105 sigma^8.
  EXPECT_NEAR(detail::central_moment(normal, 8), 105 * std::pow(1.7, 8), 1e-9);
}

TEST(LawTest, ALawOfAnotherNamespaceUsesItsOwnBatchCdf) {
  const elsewhere::counted_logistic logistic;
  const any_law law = logistic;
  std::vector<double> x{-3, 0, 1.5}, u(3);
  law.cdf_batch(x.data(), u.data(), 3);
  EXPECT_EQ(*logistic.batches, 1);  // its overload, not the default loop
  EXPECT_NEAR(u[1], 0.5, 1e-16);
  // The defaults fill in the rest: the 4th central moment of a logistic is 7/5 * (3 Var^2) ...
  // kurtosis 4.2: mu_4 = 4.2 Var^2.
  const double var = law.moments().variance;
  EXPECT_NEAR(law.central_moment(4), 4.2 * var * var, 1e-7 * var * var);
  EXPECT_EQ(law.description(), "a law");
  EXPECT_NE(law.target<elsewhere::counted_logistic>(), nullptr);
  EXPECT_EQ(law.target<boost::math::normal_distribution<>>(), nullptr);
}

TEST(LawTest, AffineLawsTransformTheirBase) {
  const boost::math::beta_distribution<> beta(3.5, 3.5);
  const affine_distribution q(beta, -2.0, 4.0);  // 4 B - 2 on [-2, 2]
  EXPECT_NEAR(mean(q), 0.0, 1e-15);
  EXPECT_NEAR(variance(q), 16 * variance(beta), 1e-15);
  EXPECT_NEAR(cdf(q, 0.4), boost::math::cdf(beta, 0.6), 1e-15);
  EXPECT_NEAR(pdf(q, 0.4), boost::math::pdf(beta, 0.6) / 4, 1e-15);
  EXPECT_NEAR(quantile(q, 0.25), 4 * boost::math::quantile(beta, 0.25) - 2, 1e-15);
  EXPECT_NEAR(cdf(complement(q, 1.0)), boost::math::cdf(boost::math::complement(beta, 0.75)),
              1e-15);
  EXPECT_EQ(cdf(q, -3.0), 0.0);  // outside the support: no domain error from the base
  EXPECT_THROW(affine_distribution(beta, 0.0, -1.0), std::invalid_argument);
  const any_law described(q, "four betas");
  EXPECT_EQ(described.description(), "four betas");
}

}  // namespace
