// Summaries for reports: counts against brute force, exact merges, thread independence, and
// the Haar entry law against its moments.
#include "verinit/verify/summary.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>

#include "verinit/fill.hpp"
#include "verinit/scheme.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> normal_samples(std::size_t n, double std, std::uint64_t seed) {
  std::vector<float> x(n);
  verinit::fill_options fill;
  fill.seed = seed;
  verinit::fill(std::span<float>(x), verinit::tensor_shape{static_cast<std::int64_t>(n)},
                verinit::parse_scheme("normal(std=" + std::to_string(std) + ")"), fill);
  return x;
}

const any_law unit_normal = boost::math::normal_distribution<>(0.0, 1.0);

template <class T>
sample_summary summary_of(const std::vector<T>& x, const any_law& law, int bins = 80,
                          int threads = 2) {
  return summarize(verinit::view_of(std::span<const T>(x),
                                    std::vector<std::int64_t>{static_cast<std::int64_t>(x.size())}),
                   law, threads, bins);
}

TEST(SummaryTest, CountsMatchBruteForceIncludingNanAndOutliers) {
  std::vector<float> x = normal_samples(100'000, 1.0, 3);
  x[10] = NAN;
  x[11] = 100;
  x[12] = -100;
  x[13] = INFINITY;
  const any_law& law = unit_normal;
  // Copies, not structured bindings: clang 14 (the tsan preset) captures no bindings.
  const auto range = plot_range(law);
  const double low = range.first, high = range.second;
  const sample_summary s = summary_of(x, law, 50);
  ASSERT_EQ(s.counts.size(), 50u);
  std::int64_t total = s.below + s.above;
  for (auto c : s.counts) total += c;
  EXPECT_EQ(total, 100'000);
  EXPECT_EQ(s.below, std::count_if(x.begin(), x.end(), [&](float v) { return v < low; }));
  EXPECT_EQ(s.above,
            std::count_if(x.begin(), x.end(), [&](float v) { return std::isnan(v) || v > high; }));
  const double width = (high - low) / 50;
  for (int b : {0, 7, 25, 49}) {
    const auto expected = std::count_if(x.begin(), x.end(), [&](float v) {
      const double d = v;
      return d >= low && d <= high && std::min(49, static_cast<int>((d - low) / width)) == b;
    });
    EXPECT_EQ(s.counts[b], expected) << b;
  }
  for (std::size_t k = 0; k < s.levels.size(); ++k) {
    const double q = s.quantiles[k];
    EXPECT_EQ(s.at_or_below[k], std::count_if(x.begin(), x.end(), [&](float v) { return v <= q; }))
        << k;
  }
  EXPECT_NEAR(s.levels.front(), 1e-7, 1e-20);
  EXPECT_TRUE(std::is_sorted(s.quantiles.begin(), s.quantiles.end()));
}

TEST(SummaryTest, CountsAtTheQuantilesAndBinEdgesMatchBruteForce) {
  // Values on and one ulp either side of every quantile and every bin edge, and beyond the
  // quantiles' range: the level counts agree with brute force where a rounding would show. One
  // copy is few values (the binary search alone); 64 copies are enough for the cell table that
  // proposes a count first, so both ways of finding a level are checked.
  const any_law& law = unit_normal;
  // Copies, not structured bindings: clang 14 (the tsan preset) captures no bindings.
  const auto range = plot_range(law);
  const double low = range.first, high = range.second;
  const int bins = 80;
  const sample_summary levels_only = summary_of(std::vector<double>{0.0}, law, bins);
  std::vector<double> once;
  const auto around = [&once](double v) {
    once.push_back(std::nextafter(v, -INFINITY));
    once.push_back(v);
    once.push_back(std::nextafter(v, INFINITY));
  };
  for (const double q : levels_only.quantiles) around(q);
  for (int b = 0; b <= bins; ++b) around(low + (high - low) * b / bins);
  for (const double v : {-double{INFINITY}, -1e300, -8.0, 0.0, -0.0, 8.0, 1e300, double{INFINITY}})
    around(v);
  const std::vector<float> normal = normal_samples(1'000, 1.0, 3);
  once.insert(once.end(), normal.begin(), normal.end());
  for (const int copies : {1, 64}) {
    std::vector<double> x;
    for (int c = 0; c < copies; ++c) x.insert(x.end(), once.begin(), once.end());
    const sample_summary s = summary_of(x, law, bins, 1);
    for (std::size_t k = 0; k < s.levels.size(); ++k) {
      const double q = s.quantiles[k];
      EXPECT_EQ(s.at_or_below[k],
                std::count_if(x.begin(), x.end(), [&](double v) { return v <= q; }))
          << "copies " << copies << ", level " << k;
    }
  }
}

TEST(SummaryTest, MomentsOfTheSamples) {
  const std::vector<double> x{1, 2, 3, 4, 10};
  const sample_moments m =
      moments_of(summary_of(x, any_law(boost::math::normal_distribution<>(2.0, 3.0))));
  // mean 4; deviations -3, -2, -1, 0, 6: central moments 50/5, 180/5, 1394/5.
  EXPECT_DOUBLE_EQ(m.mean, 4.0);
  EXPECT_NEAR(m.variance, 10.0, 1e-12);
  EXPECT_NEAR(m.skewness, 36.0 / std::pow(10.0, 1.5), 1e-12);
  EXPECT_NEAR(m.kurtosis, 278.8 / 100, 1e-12);
}

TEST(SummaryTest, MergeEqualsTheSummaryOfTheConcatenation) {
  const std::vector<float> a = normal_samples(30'000, 1.0, 1), b = normal_samples(20'000, 1.0, 2);
  std::vector<float> both = a;
  both.insert(both.end(), b.begin(), b.end());
  const any_law& law = unit_normal;
  sample_summary merged = summary_of(a, law);
  merge_into(merged, summary_of(b, law));
  const sample_summary whole = summary_of(both, law);
  EXPECT_EQ(merged.counts, whole.counts);
  EXPECT_EQ(merged.at_or_below, whole.at_or_below);
  EXPECT_EQ(merged.n(), 50'000);
  EXPECT_NEAR(merged.sums.s2, whole.sums.s2, 1e-9 * whole.sums.s2);
  sample_summary other = summary_of(a, law, 10);
  EXPECT_THROW(merge_into(other, whole), std::invalid_argument);
}

TEST(SummaryTest, CountsDoNotDependOnTheThreadCount) {
  const std::vector<float> x = normal_samples(200'000, 1.0, 4);
  const sample_summary one = summary_of(x, unit_normal, 80, 1);
  for (int threads : {2, 3, 7}) {
    const sample_summary other = summary_of(x, unit_normal, 80, threads);
    EXPECT_EQ(one.counts, other.counts);
    EXPECT_EQ(one.at_or_below, other.at_or_below);
    EXPECT_EQ(one.sums.s2, other.sums.s2);  // bitwise: fixed blocks, added exactly
    EXPECT_EQ(one.sums.s4, other.sums.s4);
  }
}

TEST(SummaryTest, HaarEntryLawHasTheMomentsOfAUnitVectorsCoordinate) {
  for (std::int64_t dim : {3, 8, 64}) {
    const double gain = 1.5;
    const any_law law = haar_entry_law(dim, gain);
    using boost::math::quadrature::gauss_kronrod;
    const auto pdf = [&](double x) { return law.pdf(x); };
    const double mass = gauss_kronrod<double, 61>::integrate(pdf, -gain, gain);
    const double second = gauss_kronrod<double, 61>::integrate(
        [&](double x) { return x * x * law.pdf(x); }, -gain, gain);
    const double fourth = gauss_kronrod<double, 61>::integrate(
        [&](double x) { return x * x * x * x * law.pdf(x); }, -gain, gain);
    EXPECT_NEAR(mass, 1.0, 1e-9) << dim;
    // A uniform unit vector in R^d: E[u_1^2] = 1/d, E[u_1^4] = 3/(d(d+2)).
    EXPECT_NEAR(second, gain * gain / dim, 1e-9) << dim;
    EXPECT_NEAR(law.moments().variance, gain * gain / dim, 1e-15);
    EXPECT_NEAR(fourth / (second * second), law.moments().kurtosis, 1e-7) << dim;
    EXPECT_NEAR(law.quantile(0.5), 0.0, 1e-12);
  }
  EXPECT_THROW(haar_entry_law(1, 1.0), std::invalid_argument);
  EXPECT_THROW(haar_entry_law(4, 0.0), std::invalid_argument);
}

TEST(SummaryTest, RejectsBadArguments) {
  const std::vector<float> x{1, 2};
  EXPECT_THROW(summary_of(x, unit_normal, 0), std::invalid_argument);
  EXPECT_THROW(summary_of(x, unit_normal, 80, 0), std::invalid_argument);
}

// ---- Samples on a 16-bit grid ----------------------------------------------------------------

std::vector<verinit::bfloat16_t> bfloat16_samples(const char* scheme, std::size_t n,
                                                  std::uint64_t seed) {
  std::vector<verinit::bfloat16_t> x(n);
  verinit::fill_options fill;
  fill.seed = seed;
  verinit::fill(std::span<verinit::bfloat16_t>(x),
                verinit::tensor_shape{static_cast<std::int64_t>(n)}, verinit::parse_scheme(scheme),
                fill);
  return x;
}

grid_histogram histogram_of_bits(const std::vector<verinit::bfloat16_t>& x) {
  return histogram_of(
      verinit::view_of(std::span<const verinit::bfloat16_t>(x),
                       std::vector<std::int64_t>{static_cast<std::int64_t>(x.size())}),
      2);
}

TEST(GridSummaryTest, CountsMomentsAndTheStepCdfOfCorrectSamples) {
  const auto x = bfloat16_samples("normal(std=0.02)", 1'000'000, 5);
  const rounded_law law(boost::math::normal_distribution<>(0.0, 0.02), verinit::dtype::bfloat16);
  const sample_summary s = summarize_grid(law, histogram_of_bits(x));
  EXPECT_EQ(s.grid, "bfloat16");
  EXPECT_EQ(s.n(), 1'000'000);
  std::int64_t total = s.below + s.above;
  for (const auto c : s.counts) total += c;
  EXPECT_EQ(total, s.n());
  // The law's exact moments, and the samples' (brute force, about the law's mean).
  EXPECT_EQ(s.expected.mean, law.mean());
  EXPECT_EQ(s.expected.variance, law.variance());
  double s2 = 0;
  for (const auto v : x)
    s2 += (verinit::to_double(v) - law.mean()) * (verinit::to_double(v) - law.mean());
  EXPECT_NEAR(s.sums.s2, s2, 1e-9 * s2);
  // The law's mass per bin is a density: it integrates to the mass inside the range.
  double mass = 0;
  for (std::size_t k = 0; k + 1 < s.density_x.size(); k += 2)
    mass += s.density[k] * (s.density_x[k + 1] - s.density_x[k]);
  EXPECT_GT(mass, 1 - 3e-5);
  EXPECT_LE(mass, 1 + 1e-12);
  // The step CDF at atoms: levels increase, and F_n - F stays within the KS 1e-6 band.
  ASSERT_FALSE(s.levels.empty());
  for (std::size_t k = 0; k < s.levels.size(); ++k) {
    if (k > 0) {
      EXPECT_GT(s.quantiles[k], s.quantiles[k - 1]);
    }
    EXPECT_LT(std::abs(static_cast<double>(s.at_or_below[k]) / 1e6 - s.levels[k]), 0.0027);
  }
  // 41 atoms around the most probable one, every one seen at this n.
  ASSERT_EQ(s.atom_values.size(), 41u);
  for (const double p : s.atom_probabilities) EXPECT_LE(p, s.atom_probabilities[20]);
  for (const auto c : s.atom_counts) EXPECT_GT(c, 0);
  // Distinct values: a count whose variance is below its mean, so 6 sqrt(mean) is a wide margin.
  EXPECT_NEAR(static_cast<double>(s.distinct), s.expected_distinct,
              6 * std::sqrt(s.expected_distinct));
}

TEST(GridSummaryTest, MergingAddsAtomCountsAndDistinctCounts) {
  // Replications merge: the atoms' counts add up, and so do the distinct counts and their
  // expectations (distinct values themselves do not add, per-sample counts do).
  const rounded_law law(boost::math::normal_distribution<>(0.0, 0.02), verinit::dtype::bfloat16);
  const sample_summary a =
      summarize_grid(law, histogram_of_bits(bfloat16_samples("normal(std=0.02)", 100'000, 1)));
  const sample_summary b =
      summarize_grid(law, histogram_of_bits(bfloat16_samples("normal(std=0.02)", 100'000, 2)));
  sample_summary total = a;
  merge_into(total, b);
  EXPECT_EQ(total.n(), 200'000);
  for (std::size_t k = 0; k < total.atom_counts.size(); ++k)
    EXPECT_EQ(total.atom_counts[k], a.atom_counts[k] + b.atom_counts[k]);
  EXPECT_EQ(total.distinct, a.distinct + b.distinct);
  EXPECT_EQ(total.expected_distinct, a.expected_distinct + b.expected_distinct);
  const rounded_law other(boost::math::normal_distribution<>(0.0, 0.02), verinit::dtype::float16);
  std::vector<verinit::float16_t> halves(1000, verinit::float16_t::round_from(0.01));
  sample_summary c = summarize_grid(
      other, histogram_of(verinit::view_of(std::span<const verinit::float16_t>(halves),
                                           std::vector<std::int64_t>{1000}),
                          1));
  EXPECT_THROW(merge_into(total, c), std::invalid_argument);
}

TEST(GridSummaryTest, ALatticeShowsAsMissingDistinctValuesAndAtoms) {
  // bfloat16 uniform(-1, 1) made from 256 values only (k / 128 - 1: PyTorch 1.13's bfloat16
  // uniform_ has this lattice): far fewer distinct values than the law's ~2,200 expected.
  const auto correct = bfloat16_samples("uniform(a=-1,b=1)", 200'000, 8);
  std::vector<verinit::bfloat16_t> lattice(correct.size());
  for (std::size_t i = 0; i < lattice.size(); ++i) {
    const double v = verinit::to_double(correct[i]);
    lattice[i] = verinit::round_to<verinit::bfloat16_t>(std::floor((v + 1) * 128) / 128 - 1);
  }
  const rounded_law law(boost::math::uniform_distribution<>(-1.0, 1.0), verinit::dtype::bfloat16);
  const sample_summary good = summarize_grid(law, histogram_of_bits(correct));
  const sample_summary bad = summarize_grid(law, histogram_of_bits(lattice));
  EXPECT_NEAR(static_cast<double>(good.distinct), good.expected_distinct,
              6 * std::sqrt(good.expected_distinct));
  EXPECT_GT(good.expected_distinct, 1000);
  EXPECT_LE(bad.distinct, 257);  // k / 128 - 1 for k = 0..256 (1 is round(b))
  // Among the most probable atoms the lattice leaves most atoms empty: visible in the atoms plot.
  int empty = 0;
  for (const auto c : bad.atom_counts) empty += c == 0 ? 1 : 0;
  EXPECT_GE(empty, 20);  // bfloat16 has 256 values in [0.5, 1), the lattice 128: every other one
  for (const auto c : good.atom_counts) EXPECT_GT(c, 0);
}

}  // namespace
