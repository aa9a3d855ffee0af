// The law of sum w_i Z_i^2 (weighted_chi_square.hpp): Imhof's integral and its far-tail
// asymptote against exact laws and against the continuous Anderson-Darling law, which is the
// case w_j = 1/(j(j+1)).
#include "verinit/verify/distributions/weighted_chi_square.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "verinit/verify/distributions/anderson_darling.hpp"

namespace {

using verinit::verify::weighted_chi_square_distribution;

double upper(const weighted_chi_square_distribution& d, double x) { return cdf(complement(d, x)); }

TEST(WeightedChiSquareTest, EqualWeightsAreAScaledChiSquare) {
  // w chi-square(2m): P(> x) = e^-y sum_{j < m} y^j / j!, y = x / (2w). Six and eight equal
  // weights (no single-term asymptote: the integral throughout), to 1e-12.
  for (const int m : {3, 4}) {
    const weighted_chi_square_distribution d(std::vector<double>(2 * m, 0.25));
    for (const double x : {0.05, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0}) {
      const double y = x / 0.5;
      const double exact = std::exp(-y) * (1 + y + y * y / 2 + (m == 4 ? y * y * y / 6 : 0.0));
      EXPECT_NEAR(upper(d, x), exact, 1e-12) << m << " " << x;
    }
    EXPECT_NEAR(cdf(d, 1.0) + upper(d, 1.0), 1.0, 1e-15);
  }
}

TEST(WeightedChiSquareTest, TheAndersonDarlingWeightsGiveTheAndersonDarlingLaw) {
  // A^2 = sum_j Z_j^2 / (j (j + 1)) (Anderson & Darling 1952); 400 terms leave out 1/401 of
  // its mean 1, a shift that moves a p-value by at most ~pdf/401 (the body's 3e-3). Relative 2%
  // in the far tail, where both laws are asymptotes (theirs sqrt(3) erfc(sqrt(z)) beyond 25).
  std::vector<double> w;
  for (int j = 1; j <= 400; ++j) w.push_back(1.0 / (j * (j + 1.0)));
  const weighted_chi_square_distribution d(w);
  EXPECT_NEAR(d.mean(), 1.0, 3e-3);
  const verinit::verify::anderson_darling_distribution ad;
  for (const double z :
       {0.2, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 24.0, 30.0}) {
    const double reference = cdf(complement(ad, z));
    const double p = upper(d, z);
    EXPECT_NEAR(p, reference, 3e-3) << z;
    if (reference < 1e-6) {
      EXPECT_NEAR(p / reference, 1.0, 0.02) << z;
    }
  }
}

TEST(WeightedChiSquareTest, EdgesAndBadWeights) {
  const weighted_chi_square_distribution d({2.0, 0.5, 1.0});
  EXPECT_EQ(d.weights(), (std::vector<double>{2.0, 1.0, 0.5}));
  EXPECT_EQ(upper(d, 0.0), 1.0);
  EXPECT_EQ(upper(d, -1.0), 1.0);
  EXPECT_EQ(upper(d, INFINITY), 0.0);
  EXPECT_TRUE(std::isnan(upper(d, NAN)));
  EXPECT_GT(upper(d, 200.0), 0.0);  // ~e^-50: still a relative answer
  EXPECT_LT(upper(d, 200.0), 1e-20);
  EXPECT_EQ(upper(d, 1e300), 0.0);
  EXPECT_THROW(weighted_chi_square_distribution({}), std::invalid_argument);
  EXPECT_THROW(weighted_chi_square_distribution({1.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(weighted_chi_square_distribution({NAN}), std::invalid_argument);
}

}  // namespace
