// The limiting A^2 law against a 40-digit mpmath evaluation of Marsaglia & Marsaglia's series
// (tests/data/ad_asymptotic.csv) and the classical percentage points of Anderson & Darling
// (1954): 1.933 (10%), 2.492 (5%), 3.857 (1%).
#include "verinit/verify/distributions/anderson_darling.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace {

using verinit::verify::anderson_darling_distribution;

TEST(AndersonDarlingTest, MatchesTheHighPrecisionSeries) {
  std::ifstream file(VERINIT_DATA_DIR "/ad_asymptotic.csv");
  std::string line;
  int rows = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '"' || line[0] == 'z') continue;
    std::istringstream fields(line);
    double z = 0, sf = 0;
    char comma = 0;
    fields >> z >> comma >> sf;
    // The series in double: relative 1e-9 down to p ~ 1e-6, 1e-4 to z = 25; the sqrt(3)
    // erfc(sqrt(z)) tail beyond: within 1%.
    const double tolerance = z > 25 ? 1e-2 * sf : z > 12 ? 1e-4 * sf : 1e-9 * std::max(sf, 1e-6);
    EXPECT_NEAR(cdf(complement(anderson_darling_distribution{}, z)), sf, tolerance) << "z=" << z;
    EXPECT_NEAR(cdf(anderson_darling_distribution{}, z) +
                    cdf(complement(anderson_darling_distribution{}, z)),
                1.0, 1e-14);
    ++rows;
  }
  EXPECT_EQ(rows, 17);
}

TEST(AndersonDarlingTest, ClassicalPercentagePoints) {
  EXPECT_NEAR(cdf(complement(anderson_darling_distribution{}, 1.933)), 0.10, 2e-4);
  EXPECT_NEAR(cdf(complement(anderson_darling_distribution{}, 2.492)), 0.05, 2e-4);
  EXPECT_NEAR(cdf(complement(anderson_darling_distribution{}, 3.857)), 0.01, 3e-4);
}

TEST(AndersonDarlingTest, EdgesAndMonotonicity) {
  EXPECT_EQ(cdf(complement(anderson_darling_distribution{}, 0.0)), 1.0);
  EXPECT_EQ(
      cdf(complement(anderson_darling_distribution{}, std::numeric_limits<double>::infinity())),
      0.0);
  double previous = 1;
  for (double z = 0.02; z < 60; z *= 1.1) {
    const double sf = cdf(complement(anderson_darling_distribution{}, z));
    EXPECT_LE(sf, previous) << z;
    EXPECT_GE(sf, 0.0);
    previous = sf;
  }
}

}  // namespace
