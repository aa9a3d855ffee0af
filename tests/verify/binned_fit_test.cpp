// The binned fit of u = F(x) to U(0, 1) (verify/src/binned_fit.hpp): add_atoms, the randomised
// PITs of a discrete law drawn from its histogram, against what drawing each value gives.
#include "binned_fit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/random/discrete_distribution.hpp>
#include <cmath>
#include <numeric>
#include <vector>

#include "verinit/verify/iid_tests.hpp"

namespace {

using verinit::philox4x32;
using verinit::verify::detail::binned_fit;

std::uint64_t total(const binned_fit& fit) {
  return std::accumulate(fit.counts.begin(), fit.counts.end(), std::uint64_t{0});
}

TEST(BinnedFitTest, AtomsKeepTheirCountsInTheirBinsAndTheOuterBinsExact) {
  binned_fit fit(64);
  philox4x32 engine(7, 1);
  const std::vector<binned_fit::atom> atoms{
      {0.0, 0.05, 1000},  // bins 0-3, the low tail exact
      {0.05, 0.5, 5000},  // bins 3-35
      {0.55, 0.0, 17},    // a point: all in bin 35
      {NAN, 0.0, 9},      // a non-finite value: not ranked
      {0.55, 0.44, 0},    // nothing to add
      {0.99, 0.01, 300},  // bins 63 (and 0.99 * 64 = 63.36): the high tail exact
  };
  fit.add_atoms(atoms, engine);
  EXPECT_EQ(total(fit), 1000u + 5000 + 17 + 300);
  std::uint64_t first_four = 0;
  for (int b = 0; b < 4; ++b) first_four += fit.counts[static_cast<std::size_t>(b)];
  // Bin 3 = [3/64, 4/64) is shared by the first two atoms.
  EXPECT_GE(first_four, 1000u);
  EXPECT_EQ(fit.counts[35] >= 17, true);
  for (int b = 36; b < 63; ++b) EXPECT_EQ(fit.counts[static_cast<std::size_t>(b)], 0u) << b;
  EXPECT_EQ(fit.counts[63], 300u);
  ASSERT_EQ(fit.low_tail.size(), fit.counts[0]);
  ASSERT_EQ(fit.high_tail.size(), 300u);
  EXPECT_TRUE(std::is_sorted(fit.low_tail.begin(), fit.low_tail.end()));
  EXPECT_TRUE(std::is_sorted(fit.high_tail.begin(), fit.high_tail.end()));
  EXPECT_GE(fit.low_tail.front(), 0.0);
  EXPECT_LT(fit.low_tail.back(), 1.0 / 64);
  EXPECT_GE(fit.high_tail.front(), 0.99);
  EXPECT_LT(fit.high_tail.back(), 1.0);
}

TEST(BinnedFitTest, AnOuterBinBeyondItsCapacityOverflowsWithoutHoldingItsValues) {
  // Values far from the law (every u near 0) fill the first bin beyond tail_capacity: the tail
  // overflows (A^2 unbounded above, D from the counts), by values and by atoms, on any thread
  // count, and neither path keeps (or draws) more than the capacity plus one per thread.
  const std::int64_t n = verinit::verify::stream_state::tail_capacity + 1000;
  for (const int threads : {1, 2, 3}) {
    binned_fit fit(4096);
    fit.add(n, threads, [](std::int64_t, std::int64_t count, double* u) {
      for (std::int64_t i = 0; i < count; ++i) u[i] = 1e-9;
    });
    EXPECT_TRUE(fit.low_overflow) << threads;
    EXPECT_TRUE(fit.low_tail.empty());
    EXPECT_EQ(fit.counts[0], static_cast<std::uint64_t>(n));
    EXPECT_TRUE(std::isinf(fit.bracket().a2_high));
  }
  binned_fit fit(4096);
  philox4x32 engine(1, 2);
  fit.add_atoms(std::vector<binned_fit::atom>{{0.0, 1e-6, static_cast<std::uint64_t>(n)}}, engine);
  EXPECT_TRUE(fit.low_overflow);
  EXPECT_TRUE(fit.low_tail.empty());
  EXPECT_EQ(fit.counts[0], static_cast<std::uint64_t>(n));
  // At the capacity itself, every value is kept.
  binned_fit full(4096);
  const auto capacity = static_cast<std::uint64_t>(verinit::verify::stream_state::tail_capacity);
  full.add_atoms(std::vector<binned_fit::atom>{{0.0, 1e-6, capacity}}, engine);
  EXPECT_FALSE(full.low_overflow);
  EXPECT_EQ(full.low_tail.size(), capacity);
}

TEST(BinnedFitTest, AtomsGiveTheSameBitsForTheSameEngine) {
  const std::vector<binned_fit::atom> atoms{{0.1, 0.3, 100000}, {0.4, 0.6, 200000}};
  binned_fit a(4096), b(4096);
  philox4x32 ea(3, 9), eb(3, 9);
  a.add_atoms(atoms, ea);
  b.add_atoms(atoms, eb);
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(a.low_tail, b.low_tail);
  EXPECT_EQ(a.high_tail, b.high_tail);
}

// An atom's counts over the bins it spans are Multinomial(count, overlap / mass): Pearson's X^2
// of 20 seeds' counts (independent) against their expectation, summed (df 20 (bins - 1)),
// must be inside its central 1 - 1e-6. Dropping the successive binomials' renormalisation
// (p = share instead of share / share_left) moves X^2 by thousands of df.
TEST(BinnedFitTest, AnAtomsCountsOverItsBinsAreMultinomial) {
  constexpr int bins = 256, seeds = 20;
  const binned_fit::atom atom{0.3017, 0.2511, 1'000'000};  // partial bins at both ends
  const double k = bins;
  const auto first = static_cast<int>(atom.below * k);
  const auto last = static_cast<int>((atom.below + atom.mass) * k);
  double x2 = 0;
  for (int s = 1; s <= seeds; ++s) {
    binned_fit fit(bins);
    philox4x32 engine(static_cast<std::uint64_t>(s), 5);
    fit.add_atoms(std::vector{atom}, engine);
    ASSERT_EQ(total(fit), atom.count);
    for (int b = first; b <= last; ++b) {
      const double from = std::max(atom.below, b / k);
      const double to = std::min(atom.below + atom.mass, (b + 1) / k);
      const double expected = static_cast<double>(atom.count) * (to - from) / atom.mass;
      const double seen = static_cast<double>(fit.counts[static_cast<std::size_t>(b)]);
      x2 += (seen - expected) * (seen - expected) / expected;
    }
  }
  const boost::math::chi_squared_distribution<> null(seeds * (last - first));
  EXPECT_GT(cdf(complement(null, x2)), 5e-7) << x2;
  EXPECT_GT(cdf(null, x2), 5e-7) << x2;
}

// Samples of a discrete law (counts per atom from a multinomial), their randomised PITs added
// from the histogram: the KS p-value (bracketed, at its conservative end) over 200 seeds is at
// most as often below 0.01 as U(0, 1) allows (99.9% binomial bound: 7 of 200), and not stuck
// high (the median below 0.8) — the draw is what makes the PITs uniform.
TEST(BinnedFitTest, RandomisedPitsFromAHistogramAreUniformUnderTheNull) {
  const std::vector<double> masses{0.1, 0.25, 0.3, 0.05, 0.2, 0.1};
  std::vector<double> below(masses.size());
  std::partial_sum(masses.begin(), masses.end() - 1, below.begin() + 1);
  constexpr int seeds = 200;
  constexpr std::uint64_t n = 20000;
  std::vector<double> p;
  for (int s = 1; s <= seeds; ++s) {
    philox4x32 data(static_cast<std::uint64_t>(s), 0), randomise(static_cast<std::uint64_t>(s), 1);
    boost::random::discrete_distribution<int> draw(masses.begin(), masses.end());
    std::vector<binned_fit::atom> atoms;
    for (std::size_t a = 0; a < masses.size(); ++a) atoms.push_back({below[a], masses[a], 0});
    for (std::uint64_t i = 0; i < n; ++i) ++atoms[static_cast<std::size_t>(draw(data))].count;
    binned_fit fit(4096);
    fit.add_atoms(atoms, randomise);
    p.push_back(verinit::verify::binned_ks_test(fit.bracket(), n, 0, 4096).p_value);
  }
  std::sort(p.begin(), p.end());
  EXPECT_LE(std::count_if(p.begin(), p.end(), [](double v) { return v < 0.01; }), 7);
  EXPECT_LT(p[seeds / 2], 0.8);
  // Without the randomisation (every value at its atom's lower end) it fails every time.
  binned_fit point(4096);
  philox4x32 unused(1, 1);
  std::vector<binned_fit::atom> atoms;
  for (std::size_t a = 0; a < masses.size(); ++a)
    atoms.push_back({below[a], 0.0, static_cast<std::uint64_t>(masses[a] * n)});
  point.add_atoms(atoms, unused);
  EXPECT_LT(verinit::verify::binned_ks_test(point.bracket(), n, 0, 4096).p_value, 1e-100);
}

}  // namespace
