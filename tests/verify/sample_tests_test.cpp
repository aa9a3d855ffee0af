// The per-sample tests: moments (with the law's kurtosis), support, extreme value, independence.
// Each statistical check uses a fixed seed; thresholds are stated where used.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "verinit/fill.hpp"
#include "verinit/verify/independence.hpp"
#include "verinit/verify/moments.hpp"
#include "verinit/verify/support.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> draw(const char* spec, std::int64_t n, std::uint64_t seed = 1) {
  verinit::fill_options options;
  options.seed = seed;
  return verinit::sample<float>(verinit::tensor_shape{n}, verinit::parse_scheme(spec), options);
}

TEST(MomentsTest, VarianceTestUsesTheUniformKurtosis) {
  // With kappa = 1.8 the z statistic of correct uniform data is N(0, 1); the textbook
  // kappa = 3 would shrink it by sqrt(0.8/2) and hide 1.6x larger errors. Over 200 seeds the
  // sample sd of z must be near 1 (sd of a sample sd of 200 normals: 0.05; bound 0.25 = 5 sd).
  const boost::math::uniform_distribution<> law(-1.0, 1.0);
  const law_moments m = moments_of(law);
  EXPECT_NEAR(m.kurtosis, 1.8, 1e-15);
  double sum = 0, squares = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto x = draw("uniform(a=-1,b=1)", 20000, seed);
    const double z = variance_test(centred_power_sums(std::span<const float>(x), 0.0), m).statistic;
    sum += z;
    squares += z * z;
  }
  const double sd = std::sqrt(squares / 200 - (sum / 200) * (sum / 200));
  EXPECT_NEAR(sd, 1.0, 0.25);
}

TEST(MomentsTest, DetectsAOnePercentVarianceErrorAt10e7) {
  // Normal with variance 1.01: z = 0.01 / sqrt(2/10^7) = 22.
  const auto x = draw("normal(std=1.00498756)", 10'000'000);
  const auto r = variance_test(centred_power_sums(std::span<const float>(x), 0.0),
                               moments_of(boost::math::normal_distribution<>(0.0, 1.0)));
  EXPECT_GT(r.statistic, 15);
  EXPECT_LT(r.p_value, 1e-40);
}

TEST(MomentsTest, MeanTestFindsAShift) {
  const auto x = draw("normal(mean=0.01)", 1'000'000);
  const auto r = mean_test(centred_power_sums(std::span<const float>(x), 0.0),
                           moments_of(boost::math::normal_distribution<>(0.0, 1.0)));
  EXPECT_NEAR(r.statistic, 10, 6);  // expected z = 0.01 sqrt(10^6) = 10
}

TEST(SupportTest, BoundsAreRoundedOutwardInTheSampleType) {
  // float32(-0.3) < -0.3: PyTorch's uniform_(-0.3, 0.3) can emit it, and it must pass.
  const boost::math::uniform_distribution<> law(-0.3, 0.3);
  std::vector<float> x{static_cast<float>(-0.3), 0.0f,
                       std::nextafter(static_cast<float>(0.3), 0.0f)};
  EXPECT_TRUE(support_check(std::span<const float>(x), law).passed);
  x.push_back(static_cast<float>(0.3));  // float32(0.3) > 0.3: the excluded upper bound
  auto r = support_check(std::span<const float>(x), law);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.values[1].second, 1.0);  // at_excluded_bound
  x.push_back(NAN);
  x.push_back(-0.31f);
  r = support_check(std::span<const float>(x), law);
  EXPECT_EQ(r.statistic, 3.0);
  EXPECT_EQ(r.values[0].second, 1.0);  // outside
  EXPECT_EQ(r.values[2].second, 1.0);  // non-finite
}

TEST(SupportTest, ExtremeCatchesAFewFarOutliers) {
  auto x = draw("normal", 10'000'000);
  const boost::math::normal_distribution<> law(0.0, 1.0);
  EXPECT_GT(extreme_test(std::span<const float>(x), law).p_value, 1e-6);
  for (int i = 0; i < 3; ++i) x[1000 + i * 77777] = 7.5f;  // P(|Z| > 7.5) = 6e-14 each
  EXPECT_LT(extreme_test(std::span<const float>(x), law).p_value, 1e-5);
}

TEST(IndependenceTest, ReusedStreamIsCaughtWhateverThePeriod) {
  auto x = draw("normal", 1'000'000);
  EXPECT_EQ(repeated_runs_test(std::span<const float>(x)).statistic, 0.0);
  EXPECT_GT(autocorrelation_test(std::span<const float>(x), 0.0).p_value, 1e-6);
  for (const std::size_t period : {4096u, 1001u, 65536u}) {
    auto reused = x;
    for (std::size_t i = period; i < reused.size(); ++i) reused[i] = reused[i % period];
    const auto r = repeated_runs_test(std::span<const float>(reused));
    // ~1/16 of the ~10^6 repeated windows are distinguished: ~62,000 repeats.
    EXPECT_GT(r.statistic, 50'000) << period;
    EXPECT_EQ(r.p_value, 0.0) << period;
  }
}

TEST(IndependenceTest, RepeatedRunsAccumulatorOverPiecesEqualsOnePiece) {
  auto x = draw("normal", 300'000);
  std::copy(x.begin(), x.begin() + 50'000, x.begin() + 200'000);  // a reused stream
  const auto whole = repeated_runs_test(std::span<const float>(x));
  verinit::verify::repeated_runs_accumulator pieces;
  const std::size_t cuts[] = {0, 1, 3, 5, 70'001, 199'999, 200'002, 300'000};
  for (std::size_t k = 0; k + 1 < std::size(cuts); ++k)
    pieces.add(std::span<const float>(x).subspan(cuts[k], cuts[k + 1] - cuts[k]));
  const auto streamed = pieces.finish();
  EXPECT_EQ(streamed.statistic, whole.statistic);
  EXPECT_GT(whole.statistic, 2000);
  EXPECT_EQ(streamed.values, whole.values);
  EXPECT_THROW(verinit::verify::repeated_runs_accumulator(25), std::invalid_argument);
}

TEST(IndependenceTest, RepeatedRunsDoNotDependOnTheThreadCount) {
  // 6 * 10^6 windows, ~375,000 kept: more than one 2^18-hash block per thread.
  auto x = draw("normal", 6'000'000);
  std::copy(x.begin(), x.begin() + 500'000, x.begin() + 3'000'000);
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = repeated_runs_test(std::span<const float>(x));
  omp_set_num_threads(3);
  const auto three = repeated_runs_test(std::span<const float>(x));
  omp_set_num_threads(before);
  EXPECT_GT(one.statistic, 20'000);  // ~500,000 / 16 reused windows kept
  EXPECT_EQ(three.statistic, one.statistic);
  EXPECT_EQ(three.values, one.values);
}

TEST(IndependenceTest, RepeatedRunsSeesOneReusedSegmentOf2000Samples) {
  // Power of distinguished windows: a single copied segment of L samples leaves ~L/16 repeats
  // (here ~125; 3 already give p ~ 1e-21 at this n).
  auto x = draw("normal", 1'000'000);
  std::copy(x.begin() + 100'000, x.begin() + 102'000, x.begin() + 700'000);
  const auto r = repeated_runs_test(std::span<const float>(x));
  EXPECT_GT(r.statistic, 60);
  EXPECT_LT(r.p_value, 1e-20);
}

TEST(IndependenceTest, QuantisedButIndependentDataPasses) {
  // PyTorch-like uniforms on a 2^24 grid repeat single values often, never 4 in a row.
  auto x = draw("uniform", 2'000'000);
  for (float& v : x) v = std::floor(v * 16777216.0f) / 16777216.0f;
  EXPECT_EQ(repeated_runs_test(std::span<const float>(x)).statistic, 0.0);
}

TEST(IndependenceTest, AutocorrelationSeesLagOneDependence) {
  auto x = draw("normal", 1'000'000);
  for (std::size_t i = 1; i < x.size(); ++i) x[i] = 0.99f * x[i] + 0.14f * x[i - 1];
  EXPECT_LT(autocorrelation_test(std::span<const float>(x), 0.0).p_value, 1e-20);
}

}  // namespace
