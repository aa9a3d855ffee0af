// The exact D_n law against scipy.stats.kstwo (tests/data/kstwo_sf.csv, made by
// tests/data/make_reference.py with scipy 1.10.1), over every branch of the method selection.
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using verinit::verify::kolmogorov_smirnov_distribution;

struct reference_row {
  std::int64_t n;
  double d, sf;
};

std::vector<reference_row> load() {
  std::ifstream file(VERINIT_DATA_DIR "/kstwo_sf.csv");
  std::vector<reference_row> rows;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '"' || line[0] == '#' || line[0] == 'n') continue;
    std::istringstream fields(line);
    reference_row r{};
    char comma = 0;
    fields >> r.n >> comma >> r.d >> comma >> r.sf;
    rows.push_back(r);
  }
  return rows;
}

TEST(KolmogorovSmirnovTest, MatchesScipyKstwoOnEveryBranch) {
  const auto rows = load();
  ASSERT_GT(rows.size(), 400u);
  int checked = 0;
  for (const auto& r : rows) {
    const kolmogorov_smirnov_distribution law(r.n);
    const double sf = cdf(complement(law, r.d));
    // Relative 1e-8 where the p-value is well above the double rounding of 1 - cdf;
    // absolute 1e-14 otherwise.
    const double tolerance = std::max(1e-8 * r.sf, 1e-14);
    EXPECT_NEAR(sf, r.sf, tolerance) << "n=" << r.n << " d=" << r.d;
    EXPECT_NEAR(cdf(law, r.d) + sf, 1.0, 1e-12) << "n=" << r.n << " d=" << r.d;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(rows.size()));
}

TEST(KolmogorovSmirnovTest, ClosedFormsAtTheEdges) {
  // n = 1: D_1 = max(U, 1 - U) >= 1/2, so P(D_1 >= x) = 2(1 - x) for x in [1/2, 1].
  EXPECT_NEAR(cdf(complement(kolmogorov_smirnov_distribution(1), 0.7)), 0.6, 1e-15);
  EXPECT_EQ(cdf(complement(kolmogorov_smirnov_distribution(10), 0.04)), 1.0);  // below 1/(2n)
  EXPECT_EQ(cdf(complement(kolmogorov_smirnov_distribution(10), 1.0)), 0.0);
  EXPECT_TRUE(std::isnan(cdf(kolmogorov_smirnov_distribution(10), NAN)));
  EXPECT_THROW(kolmogorov_smirnov_distribution(0), std::invalid_argument);
}

TEST(KolmogorovSmirnovTest, IsMonotoneInD) {
  for (const std::int64_t n : {7, 140, 141, 5000, 1'000'000, 10'000'000}) {
    double previous = 1;
    for (double d = 0.5 / static_cast<double>(n); d < 1; d *= 1.05) {
      const double sf = cdf(complement(kolmogorov_smirnov_distribution(n), d));
      EXPECT_LE(sf, previous + 1e-12) << "n=" << n << " d=" << d;
      previous = sf;
    }
  }
}

TEST(KolmogorovSmirnovTest, QuantileIsTheCriticalValue) {
  // The smallest D whose tail is at most p: its tail is <= p and one ulp below it is > p
  // (within the few ulp the solver leaves), across the branches and far into the tail.
  for (const std::int64_t n : {1, 10, 140, 5000, 10'000'000})
    for (const double p : {0.05, 1e-6, 1e-12}) {
      const kolmogorov_smirnov_distribution law(n);
      const double x = quantile(complement(law, p));
      EXPECT_LE(cdf(complement(law, x)), p) << n << " " << p;
      EXPECT_GT(cdf(complement(law, x * (1 - 1e-9))), p) << n << " " << p;
      EXPECT_EQ(quantile(law, 1 - p), quantile(complement(law, 1 - (1 - p)))) << n << " " << p;
    }
  // scipy 1.10.1: stats.kstwo(1000).sf(0.05129418442762075) = 0.01000000000000317 (its isf,
  // 0.05129418752666127, is a looser root: its own sf there is 0.0099999936).
  EXPECT_NEAR(quantile(complement(kolmogorov_smirnov_distribution(1000), 0.01)),
              0.05129418442762075, 1e-13);
  EXPECT_EQ(quantile(complement(kolmogorov_smirnov_distribution(10), 1.0)), 0.0);
  EXPECT_EQ(quantile(complement(kolmogorov_smirnov_distribution(10), 0.0)), 1.0);
}

}  // namespace
