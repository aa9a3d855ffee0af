// The exact D_n law against scipy.stats.kstwo (tests/data/kstwo_sf.csv, made by
// tests/data/make_reference.py with scipy 1.10.1), over every branch of the method selection,
// and the one-sided law against its exact sum (tests/data/smirnov_sf.csv).
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
    // absolute 1e-14 otherwise. Where the law is 2 P(D_n^+ >= d) and n > 10^6, scipy's smirnov
    // approximates (cephes' SMIRNOV_MAX_COMPUTE_N = 10^6), up to 4e-5 relative off the exact sum
    // in these rows (n = 1000001, d = 0.003162276079030735: scipy 4.11363e-9, the sum term by
    // term 4.1134612e-9, ours 4.11346124718872e-9): there only scipy's own accuracy, 1e-4;
    // MatchesTheExactSmirnovLawOnAGrid holds those n to the exact law at 1e-11.
    const bool scipy_approximates =
        r.n > 1'000'000 && (static_cast<double>(r.n) * r.d * r.d >= 2.2 || r.d >= 0.5);
    const double tolerance = std::max((scipy_approximates ? 1e-4 : 1e-8) * r.sf, 1e-14);
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

std::vector<reference_row> load_smirnov() {
  std::ifstream file(VERINIT_DATA_DIR "/smirnov_sf.csv");
  std::vector<reference_row> rows;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#' || line[0] == 'n') continue;
    std::istringstream fields(line);
    reference_row r{};
    char comma = 0;
    fields >> r.n >> comma >> r.d >> comma >> r.sf;
    rows.push_back(r);
  }
  return rows;
}

TEST(KolmogorovSmirnovTest, MatchesTheExactSmirnovLawOnAGrid) {
  // The one-sided law against Birnbaum & Tingey's sum term by term in long double
  // (tests/data/smirnov_sf.csv, made by tests/data/make_smirnov_reference.cpp; it agrees with
  // mpmath at 40 digits to 1.3e-16 for n <= 1000), n from 10 to 10^8, p from 0.5 to 1e-300.
  // The header states 1e-11 relative; the grid's worst is 4.3e-12 (n = 10^8), 4.5e-13 below.
  using verinit::verify::detail::smirnov_sf;
  const auto rows = load_smirnov();
  ASSERT_GT(rows.size(), 50u);
  for (const auto& r : rows) {
    if (r.sf < 1e-300) continue;  // below the double range the header states
    EXPECT_NEAR(smirnov_sf(r.n, r.d), r.sf, 1e-11 * r.sf) << "n=" << r.n << " d=" << r.d;
  }
}

TEST(KolmogorovSmirnovTest, TwoSidedLawMatchesTheDurbinMatrixWithinItsStatedErrors) {
  // The two-sided law against the exact Durbin matrix (Marsaglia, Tsang & Wang) where the
  // header's method is another: Pelz-Good's series in the body (n > 140, n x^2 < 2.2: p above
  // ~0.02; stated 5e-5 relative, the grid's worst 3.1e-5 at n = 141) and 2 P(D_n^+ >= x) in
  // the tail (stated e^{-6 n x^2} relative for the neglected two-crossing term, 1.9e-6 at
  // n x^2 = 2.2, below 1e-11 from n x^2 = 4.2 on). The reference's own rounding is allowed
  // for, 1e-11 absolute (its products of matrices up to 235 x 235 here: 1 - cdf at n = 3000
  // moved by 4e-12). The grid stops at n x^2 = 4.6 (p ~ 2e-4), where that still leaves 7
  // digits. n <= 140 is the matrix itself up to n x^2 = 4, and 2 P^+ beyond (e^{-24}: 4e-11).
  using verinit::verify::detail::durbin_cdf;
  using verinit::verify::detail::kolmogorov_smirnov_probabilities;
  for (const std::int64_t n : {60, 140, 141, 300, 1000, 3000})
    for (double w = 0.05; w < 4.6; w *= 1.2) {
      const double x = std::sqrt(w / static_cast<double>(n));
      const double exact = durbin_cdf(n, x), exact_sf = 1 - exact;
      const auto p = kolmogorov_smirnov_probabilities(n, x);
      const double body = n <= 140 ? 1e-12 : 5e-5;
      const double tail = std::max(1e-11, std::exp(-6 * w));
      constexpr double reference = 1e-11;
      if (w < (n <= 140 ? 4.0 : 2.2)) {
        EXPECT_NEAR(p.cdf, exact, body * exact + reference) << "n=" << n << " w=" << w;
        EXPECT_NEAR(p.sf, exact_sf, body * exact_sf + reference) << "n=" << n << " w=" << w;
      } else {
        EXPECT_NEAR(p.sf, exact_sf, tail * exact_sf + reference) << "n=" << n << " w=" << w;
      }
    }
}

TEST(KolmogorovSmirnovTest, StridedSmirnovSumMatchesTheTermByTermSum) {
  // The strides against every term of the same sum, at D between the grid's, from n = 10 (the
  // strides never start) to 10^5 (a few hundred terms of 10^5).
  using verinit::verify::detail::smirnov_sf;
  using verinit::verify::detail::smirnov_sf_term_by_term;
  for (const std::int64_t n : {10, 100, 141, 1000, 3000, 10'000, 100'000})
    for (const double w : {0.1, 1.0, 2.2, 3.0, 7.0, 15.0, 40.0, 120.0, 340.0}) {
      const double d = std::sqrt(w / static_cast<double>(n));
      if (d >= 1) continue;
      const double exact = smirnov_sf_term_by_term(n, d);
      if (exact < 1e-300) continue;
      EXPECT_NEAR(smirnov_sf(n, d), exact, 1e-11 * exact) << "n=" << n << " d=" << d;
    }
  EXPECT_NEAR(smirnov_sf(1, 0.7), 0.3, 1e-15);  // D_1^+ = 1 - U
  EXPECT_NEAR(smirnov_sf(1000, 0.5), smirnov_sf_term_by_term(1000, 0.5), 1e-11 * 5.3e-232);
  EXPECT_EQ(smirnov_sf(1000, 0.0), 1.0);
  EXPECT_EQ(smirnov_sf(1000, 1.0), 0.0);
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
