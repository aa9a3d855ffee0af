// The i.i.d. test plan: each test on null data and on the defect it is for, in memory and
// streamed. Fixed seeds; each threshold is stated where it is used. (Calibration over many
// seeds is calibration_test.cpp; the bug catalogue at the standard size is power_test.cpp.)
#include "verinit/verify/iid_tests.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "verinit/fill.hpp"
#include "verinit/verify/distributions/truncated_normal.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> draw(const char* spec, std::int64_t n, std::uint64_t seed = 1) {
  verinit::fill_options options;
  options.seed = seed;
  return verinit::sample<float>(verinit::tensor_shape{n}, verinit::parse_scheme(spec), options);
}

// The plan's results for samples in memory (exact KS/A^2), or streamed in pieces with bins.
std::vector<test_result> tests_of(const std::vector<float>& x, const any_law& law,
                                  verinit::tensor_shape shape = {},
                                  verinit::layout layout = verinit::layout::torch) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(x.size())};
  const iid_context context{law, verinit::dtype::float32, sample_grouping::of(shape, layout)};
  stream_state state(context, {});
  const auto view = verinit::view_of(
      std::span<const float>(x), std::vector<std::int64_t>{static_cast<std::int64_t>(x.size())});
  state.add(view, 2);
  const fit_statistics fit = fit_statistics_of(view, law, 2);
  return run_iid_tests({state, &fit, 2});
}

std::vector<test_result> streamed(const std::vector<float>& x, const any_law& law,
                                  std::int64_t piece, std::int64_t bins = 1 << 16) {
  const iid_context context{
      law, verinit::dtype::float32,
      sample_grouping::of(verinit::tensor_shape{piece}, verinit::layout::torch)};
  stream_state state(context, {bins, 4});
  for (std::size_t at = 0; at < x.size(); at += static_cast<std::size_t>(piece))
    state.add(std::span<const float>(x).subspan(at, std::min<std::size_t>(piece, x.size() - at)),
              2);
  return run_iid_tests({state, nullptr, 2});
}

const test_result& named(const std::vector<test_result>& tests, std::string_view name) {
  for (const auto& t : tests)
    if (t.name == name) return t;
  throw std::runtime_error("no test " + std::string(name));
}
double value(const test_result& t, std::string_view key) {
  for (const auto& [k, v] : t.values)
    if (k == key) return v;
  throw std::runtime_error("no value " + std::string(key));
}

const any_law unit_normal = boost::math::normal_distribution<>(0.0, 1.0);

TEST(IidTestsTest, ThePlanRunsInItsOrderWhereEachTestApplies) {
  std::vector<std::string> names;
  for (const auto& t : iid_plan()) names.emplace_back(t.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"support", "ks", "anderson_darling", "mean", "variance",
                                      "extreme", "autocorrelation", "magnitude_autocorrelation",
                                      "homogeneity", "repeated_runs"}));
  EXPECT_EQ(tests_of(draw("normal", 10'000), unit_normal).size(), 10u);
  // A bounded law has no extreme test; one group (50 values) no homogeneity; one sample no
  // lag either.
  const auto bounded =
      tests_of(draw("uniform", 10'000), any_law(boost::math::uniform_distribution<>(0.0, 1.0)));
  EXPECT_EQ(bounded.size(), 9u);
  EXPECT_THROW(named(bounded, "extreme"), std::runtime_error);
  EXPECT_EQ(tests_of(draw("normal", 50), unit_normal).size(), 9u);
  EXPECT_EQ(tests_of(draw("normal", 1), unit_normal).size(), 8u);
}

TEST(IidTestsTest, VarianceTestUsesTheUniformKurtosis) {
  // With kappa = 1.8 the z statistic of correct uniform data is N(0, 1); the textbook
  // kappa = 3 would shrink it by sqrt(0.8/2) and hide 1.6x larger errors. Over 200 seeds the
  // sample sd of z must be near 1 (sd of a sample sd of 200 normals: 0.05; bound 0.25 = 5 sd).
  const any_law law = boost::math::uniform_distribution<>(-1.0, 1.0);
  EXPECT_NEAR(law.moments().kurtosis, 1.8, 1e-15);
  double sum = 0, squares = 0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const double z =
        named(tests_of(draw("uniform(a=-1,b=1)", 20000, seed), law), "variance").statistic;
    sum += z;
    squares += z * z;
  }
  const double sd = std::sqrt(squares / 200 - (sum / 200) * (sum / 200));
  EXPECT_NEAR(sd, 1.0, 0.25);
}

TEST(IidTestsTest, MeanAndVarianceFindTheirDefects) {
  // Normal with variance 1.01 at 10^7: z = 0.01 / sqrt(2/10^7) = 22.
  const auto wide = tests_of(draw("normal(std=1.00498756)", 10'000'000), unit_normal);
  EXPECT_GT(named(wide, "variance").statistic, 15);
  EXPECT_LT(named(wide, "variance").p_value, 1e-40);
  EXPECT_EQ(named(wide, "variance").detects, detectable_quantity::relative_variance_error);
  // A mean shift of 0.01 sd at 10^6: expected z = 10.
  EXPECT_NEAR(named(tests_of(draw("normal(mean=0.01)", 1'000'000), unit_normal), "mean").statistic,
              10, 6);
}

TEST(IidTestsTest, SupportBoundsAreRoundedOutwardInTheSampleType) {
  // float32(-0.3) < -0.3: PyTorch's uniform_(-0.3, 0.3) can emit it, and it must pass.
  const any_law law = boost::math::uniform_distribution<>(-0.3, 0.3);
  std::vector<float> x{static_cast<float>(-0.3), 0.0f,
                       std::nextafter(static_cast<float>(0.3), 0.0f)};
  EXPECT_TRUE(named(tests_of(x, law), "support").passed);
  x.push_back(static_cast<float>(0.3));  // float32(0.3) > 0.3: the excluded upper bound
  auto r = named(tests_of(x, law), "support");
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(value(r, "at_excluded_bound"), 1.0);
  x.push_back(NAN);
  x.push_back(-0.31f);
  r = named(tests_of(x, law), "support");
  EXPECT_EQ(r.statistic, 3.0);
  EXPECT_EQ(value(r, "outside"), 1.0);
  EXPECT_EQ(value(r, "non_finite"), 1.0);
}

TEST(IidTestsTest, AllEqualValuesUnderAContinuousLawFailTheSupportCheck) {
  // 26 zeros under U(+-0.1) (a bias left at zero): P(all equal) <= (largest atom)^25, the
  // atom at most a float32 cell of width ~1.5e-8 times the density 5: far below 1e-12.
  const any_law law = boost::math::uniform_distribution<>(-0.1, 0.1);
  auto r = named(tests_of(std::vector<float>(26, 0.0f), law), "support");
  EXPECT_FALSE(r.passed);
  EXPECT_LT(value(r, "all_equal_probability_bound"), 1e-12);
  EXPECT_NE(r.note.find("all 26 values equal 0"), std::string::npos) << r.note;
  // Not at the mean either: eight values 0.05 under N(0, 1).
  r = named(tests_of(std::vector<float>(8, 0.05f), unit_normal), "support");
  EXPECT_FALSE(r.passed);
  // Two equal float32 values under N(0, 1) are rare (an atom ~1e-7), not impossible: passes,
  // as do distinct values. Three equal ones (P ~1e-14) are beyond what the bound proves
  // within its budget, so they pass too; from four on the check fails.
  EXPECT_TRUE(named(tests_of({0.5f, 0.5f}, unit_normal), "support").passed);
  EXPECT_TRUE(named(tests_of({0.5f, 0.25f, 0.5f}, unit_normal), "support").passed);
  EXPECT_TRUE(named(tests_of({0.5f, 0.5f, 0.5f}, unit_normal), "support").passed);
  EXPECT_FALSE(named(tests_of({0.5f, 0.5f, 0.5f, 0.5f}, unit_normal), "support").passed);
  // The check is exact: a Holm family of any size leaves it failed (r.exact).
  EXPECT_TRUE(r.exact);
  // Streamed in pieces, the same.
  EXPECT_FALSE(
      named(streamed(std::vector<float>(40'000, 1.0f), unit_normal, 10'000), "support").passed);
  EXPECT_TRUE(named(streamed(draw("normal", 40'000), unit_normal, 10'000), "support").passed);
}

TEST(IidTestsTest, ExtremeTestsTruncatedLawsWhoseBoundsLieFarOut) {
  // PyTorch's trunc_normal_(std=0.02) on [-2, 2] (100 sd): the maximum stays near 5 sd, so
  // the extreme test applies, and one value at -2 (the clamp atom of pytorch#155588) or at
  // 20 sd fails it however large the run's family; correct samples pass.
  const any_law law = truncated_normal_distribution(0.0, 0.02, -2.0, 2.0);
  auto x = draw("truncated_normal(std=0.02,a=-2,b=2)", 1'000'000);
  const auto clean = named(tests_of(x, law), "extreme");
  EXPECT_GT(clean.p_value, 1e-6);
  x[4242] = -2.0f;
  auto r = named(tests_of(x, law), "extreme");
  EXPECT_LT(r.p_value, 1e-300);
  EXPECT_NE(r.note.find("pytorch#155588"), std::string::npos) << r.note;
  EXPECT_TRUE(named(tests_of(x, law), "support").passed);  // -2 is in the support
  x[4242] = 0.4f;                                          // 20 sd
  r = named(tests_of(x, law), "extreme");
  EXPECT_LT(r.p_value, 1e-80);
  EXPECT_EQ(r.note.find("pytorch#155588"), std::string::npos);
  // A +-2 sd truncated normal keeps no extreme test (its maximum sits at the bound's grid).
  const any_law near = truncated_normal_distribution(0.0, 1.0, -2.0, 2.0);
  EXPECT_THROW(named(tests_of(draw("truncated_normal", 100'000), near), "extreme"),
               std::runtime_error);
}

TEST(IidTestsTest, ExtremeTestsSmallTensorsOfBoundedLawsTooSeeingValuesTooNearTheCentre) {
  // A 10-value bias drawn with bound 1/fan_in for 1/sqrt(fan_in) (fan_in 1024: U(+-1/1024)
  // against U(+-1/32)): all within 1/32 of the bound, probability (1/32)^10 ~ 9e-16, which KS,
  // A^2 and the variance z-test (bounded below by z = -sqrt(n/0.8) = -3.5) miss. The
  // maximum's law spans ~10^6 float32 steps below the bound there, so its p-value is exact.
  const any_law law = boost::math::uniform_distribution<>(-1.0 / 32, 1.0 / 32);
  const auto wrong = draw("uniform(a=-0.0009765625,b=0.0009765625)", 10, 3);
  const auto r = named(tests_of(wrong, law), "extreme");
  EXPECT_LT(r.p_value, 1e-14);
  EXPECT_GT(named(tests_of(wrong, law), "variance").p_value, 1e-4);  // what it used to rest on
  // Correct draws pass, and its false-positive rate is its nominal one: over 4,000 seeds the
  // share of p < 0.01 is 0.01 (binomial sd 0.0016; bounds at 4 sd).
  const auto right = draw("uniform(a=-0.03125,b=0.03125)", 10, 3);
  EXPECT_GT(named(tests_of(right, law), "extreme").p_value, 1e-3);
  int below = 0;
  for (std::uint64_t seed = 0; seed < 4000; ++seed)
    below += named(tests_of(draw("uniform(a=-0.03125,b=0.03125)", 10, 100 + seed), law), "extreme")
                 .p_value < 0.01;
  EXPECT_NEAR(below / 4000.0, 0.01, 4 * std::sqrt(0.01 * 0.99 / 4000));
  // At large n the maximum sits within a few grid steps of the bound: no extreme test.
  EXPECT_THROW(named(tests_of(draw("uniform(a=-0.03125,b=0.03125)", 100'000), law), "extreme"),
               std::runtime_error);
}

TEST(IidTestsTest, NanSamplesFailKsAndAndersonDarling) {
  auto x = draw("normal", 100'000);
  x[10] = NAN;
  const auto memory = tests_of(x, unit_normal);
  EXPECT_EQ(named(memory, "ks").statistic, 1.0);
  EXPECT_LT(named(memory, "ks").p_value, 1e-300);
  EXPECT_EQ(named(memory, "anderson_darling").p_value, 0.0);
  const auto stream = streamed(x, unit_normal, 10'000);
  EXPECT_EQ(named(stream, "ks").statistic, 1.0);
  EXPECT_EQ(named(stream, "support").statistic, 1.0);  // the NaN, non-finite
}

TEST(IidTestsTest, ExtremeCatchesAFewFarOutliers) {
  auto x = draw("normal", 10'000'000);
  EXPECT_GT(named(tests_of(x, unit_normal), "extreme").p_value, 1e-6);
  for (int i = 0; i < 3; ++i) x[1000 + i * 77777] = 7.5f;  // P(|Z| > 7.5) = 6e-14 each
  const auto r = named(tests_of(x, unit_normal), "extreme");
  EXPECT_LT(r.p_value, 1e-5);
  EXPECT_LT(value(r, "p_too_heavy"), 1e-5);
}

TEST(IidTestsTest, ExtremeCatchesClippedTails) {
  // Every value beyond +-4.5 sigma removed (a sampler that truncates its tails): at 10^7
  // 68 such values are expected, P(none) = e^-68. The one-sided test of before saw p = 1.
  std::vector<float> x;
  for (std::uint64_t seed = 3; x.size() < 10'000'000; ++seed)
    for (float v : draw("normal", 1'000'000, seed))
      if (std::abs(v) <= 4.5f && x.size() < 10'000'000) x.push_back(v);
  const auto r = named(tests_of(x, unit_normal), "extreme");
  EXPECT_LT(value(r, "p_too_light"), 1e-25);
  EXPECT_GT(value(r, "p_too_heavy"), 0.99);
  EXPECT_LT(r.p_value, 1e-25);
}

TEST(IidTestsTest, RepeatedRunsCatchAReusedStreamWhateverThePeriod) {
  auto x = draw("normal", 1'000'000);
  EXPECT_EQ(named(tests_of(x, unit_normal), "repeated_runs").statistic, 0.0);
  EXPECT_GT(named(tests_of(x, unit_normal), "autocorrelation").p_value, 1e-6);
  for (const std::size_t period : {4096u, 1001u, 65536u}) {
    auto reused = x;
    for (std::size_t i = period; i < reused.size(); ++i) reused[i] = reused[i % period];
    const auto r = named(tests_of(reused, unit_normal), "repeated_runs");
    // ~1/16 of the ~10^6 repeated windows are distinguished: ~62,000 repeats.
    EXPECT_GT(r.statistic, 50'000) << period;
    EXPECT_EQ(r.p_value, 0.0) << period;
  }
}

TEST(IidTestsTest, RepeatedRunsSeeOneReusedSegmentOf2000Samples) {
  // A single copied segment of L samples leaves ~L/16 repeats (here ~125; 3 already give
  // p ~ 1e-21 at this n).
  auto x = draw("normal", 1'000'000);
  std::copy(x.begin() + 100'000, x.begin() + 102'000, x.begin() + 700'000);
  const auto r = named(tests_of(x, unit_normal), "repeated_runs");
  EXPECT_GT(r.statistic, 60);
  EXPECT_LT(r.p_value, 1e-20);
}

TEST(IidTestsTest, QuantisedButIndependentDataPasses) {
  // PyTorch-like uniforms on a 2^24 grid repeat single values often, never 4 in a row.
  auto x = draw("uniform", 2'000'000);
  for (float& v : x) v = std::floor(v * 16777216.0f) / 16777216.0f;
  EXPECT_EQ(
      named(tests_of(x, any_law(boost::math::uniform_distribution<>(0.0, 1.0))), "repeated_runs")
          .statistic,
      0.0);
}

TEST(IidTestsTest, AutocorrelationSeesLagOneDependence) {
  auto x = draw("normal", 1'000'000);
  for (std::size_t i = 1; i < x.size(); ++i) x[i] = 0.99f * x[i] + 0.14f * x[i - 1];
  EXPECT_LT(named(tests_of(x, unit_normal), "autocorrelation").p_value, 1e-20);
}

TEST(IidTestsTest, MagnitudeAutocorrelationSeesScalesThatDriftWithoutCorrelation) {
  // Blocks of 4 samples scaled alternately by sqrt(1.1) and sqrt(0.9): the variance and the
  // linear lag-1 correlation are exact, the lag-1 correlation of squares is 0.1^2 / 4. At
  // 10^7: z = 0.0025 sqrt(10^7) = 7.9.
  auto x = draw("normal", 10'000'000, 8);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] *= static_cast<float>((i / 4) % 2 == 0 ? std::sqrt(1.1) : std::sqrt(0.9));
  const auto tests = tests_of(x, unit_normal);
  EXPECT_LT(named(tests, "magnitude_autocorrelation").p_value, 1e-10);
  EXPECT_GT(named(tests, "magnitude_autocorrelation").statistic, 5);  // expected 7.9, sd ~1
  EXPECT_GT(named(tests, "autocorrelation").p_value, 1e-3);
  EXPECT_GT(named(tests, "variance").p_value, 1e-3);
  EXPECT_GT(named(tests_of(draw("normal", 10'000'000, 8), unit_normal), "magnitude_autocorrelation")
                .p_value,
            1e-3);
}

TEST(IidTestsTest, HomogeneitySeesRowsOfDifferentScales) {
  // A 256 x 512 layer's rows alternately at variance x1.1 and x0.9 (the overall variance
  // exact): per row z = 0.1 / sqrt(2/512) = 1.6, so X ~ 3.56 G against G, sd sqrt(2 G).
  const verinit::tensor_shape shape{256, 512};
  auto x = draw("normal(std=0.0625)", 10'000'000 / 131072 * 131072, 9);
  const any_law law = boost::math::normal_distribution<>(0.0, 0.0625);
  EXPECT_GT(named(tests_of(x, law, shape), "homogeneity").p_value, 1e-3);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] *= static_cast<float>((i / 512) % 2 == 0 ? std::sqrt(1.1) : std::sqrt(0.9));
  const auto tests = tests_of(x, law, shape);
  EXPECT_LT(named(tests, "homogeneity").p_value, 1e-100);
  EXPECT_GT(named(tests, "variance").p_value, 1e-3);
  // The same in the keras layout: its output units are columns.
  auto y = draw("normal(std=0.0625)", 512 * 256 * 40, 10);
  for (std::size_t i = 0; i < y.size(); ++i)
    y[i] *= static_cast<float>((i % 256) % 2 == 0 ? std::sqrt(1.1) : std::sqrt(0.9));
  EXPECT_LT(named(tests_of(y, law, {512, 256}, verinit::layout::keras), "homogeneity").p_value,
            1e-50);
  // Rows normalised to one variance are too homogeneous: the lower tail.
  auto z = draw("normal(std=0.0625)", 512 * 2000, 11);
  for (std::size_t row = 0; row < 2000; ++row) {
    double squares = 0;
    for (std::size_t k = 0; k < 512; ++k) squares += z[row * 512 + k] * z[row * 512 + k];
    const double scale = 0.0625 / std::sqrt(squares / 512);
    for (std::size_t k = 0; k < 512; ++k) z[row * 512 + k] *= static_cast<float>(scale);
  }
  EXPECT_LT(named(tests_of(z, law, {2000, 512}), "homogeneity").p_value, 1e-50);
}

TEST(IidTestsTest, StreamingFormsAgreeWithTheInMemoryOnes) {
  const auto x = draw("normal", 1'000'000, 2);
  const auto memory = tests_of(x, unit_normal, {1'000'000});
  const auto stream = streamed(x, unit_normal, 125'000);
  ASSERT_EQ(memory.size(), stream.size());
  for (const char* name : {"mean", "variance", "extreme", "autocorrelation",
                           "magnitude_autocorrelation", "repeated_runs"})
    EXPECT_NEAR(named(stream, name).statistic, named(memory, name).statistic,
                1e-9 * std::max(1.0, std::abs(named(memory, name).statistic)))
        << name;
  // KS and A^2 are bracketed: the exact value lies inside.
  EXPECT_LE(value(named(stream, "ks"), "d_low"), named(memory, "ks").statistic);
  EXPECT_GE(value(named(stream, "ks"), "d_high"), named(memory, "ks").statistic);
  EXPECT_NE(named(stream, "ks").note.find("streaming"), std::string::npos);
  // A wrong law fails streamed too.
  const any_law narrower = boost::math::normal_distribution<>(0.0, 1 / 1.05);
  const auto wrong = streamed(x, narrower, 250'000);
  EXPECT_LT(named(wrong, "ks").p_value, 1e-10);
  EXPECT_LT(named(wrong, "variance").p_value, 1e-10);
}

}  // namespace
