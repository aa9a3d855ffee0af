// Streaming verification: the brackets hold the in-memory statistics, pieces do not matter,
// the other tests agree with the in-memory ones, and a wrong law still fails.
#include "verinit/verify/streaming.hpp"

#include <gtest/gtest.h>

#include "verinit/fill.hpp"
#include "verinit/scheme.hpp"
#include "verinit/verify/goodness_of_fit.hpp"
#include "verinit/verify/runner.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> he_normal(std::int64_t rows, std::uint64_t seed) {
  std::vector<float> x(static_cast<std::size_t>(rows * 1000));
  verinit::fill_options fill;
  fill.seed = seed;
  verinit::fill(std::span<float>(x), verinit::tensor_shape{rows, 1000},
                verinit::parse_scheme("he_normal"), fill);
  return x;
}

const continuous_law he_law = boost::math::normal_distribution<>(0.0, 0.044721359549995794);

const test_result& named(const std::vector<test_result>& tests, const char* name) {
  for (const auto& t : tests)
    if (t.name == name) return t;
  throw std::runtime_error(std::string("no test ") + name);
}

TEST(StreamingTest, BracketsHoldTheExactStatisticsAndAreNarrow) {
  const auto x = he_normal(2000, 1);  // 2*10^6
  for (const std::int64_t bins : {std::int64_t{1} << 10, std::int64_t{1} << 16}) {
    stream_accumulator stream(he_law, static_cast<std::int64_t>(x.size()), bins);
    stream.add(std::span<const float>(x));
    const auto b = stream.fit_bracket();
    const fit_statistics exact = fit_statistics_of(std::span<const float>(x), he_law);
    EXPECT_LE(b.d_low, exact.d) << bins;
    EXPECT_GE(b.d_high, exact.d) << bins;
    EXPECT_LE(b.a2_low, exact.a2 * (1 + 1e-9)) << bins;
    EXPECT_GE(b.a2_high, exact.a2 * (1 - 1e-9)) << bins;
    // D's bracket: at most 1/K + the fullest bin's share.
    EXPECT_LT(b.d_high - b.d_low, 1.0 / static_cast<double>(bins) + 4.0 / bins) << bins;
  }
}

TEST(StreamingTest, PiecesDoNotChangeTheResultAndOtherTestsAgreeWithMemory) {
  const auto x = he_normal(1000, 2);
  stream_accumulator whole(he_law, 1'000'000, 1 << 12), pieces(he_law, 1'000'000, 1 << 12);
  whole.add(std::span<const float>(x));
  for (std::size_t at = 0; at < x.size(); at += 77'777)
    pieces.add(std::span<const float>(x).subspan(at, std::min<std::size_t>(77'777, x.size() - at)));
  const auto a = whole.finish(), b = pieces.finish();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_NEAR(a[i].statistic, b[i].statistic, 1e-9 * std::max(1.0, std::abs(a[i].statistic)))
        << a[i].name;
  }
  // The same tests in memory.
  run_options options;
  const case_spec spec{"he_normal", {1000, 1000}, verinit::layout::torch, dtype::float32, 0};
  options.seed = 2;
  const case_result memory = run_case(spec, options);
  for (const char* name : {"mean", "variance", "extreme", "autocorrelation", "repeated_runs"})
    EXPECT_NEAR(named(a, name).statistic, named(memory.tests, name).statistic,
                1e-6 * std::max(1.0, std::abs(named(memory.tests, name).statistic)))
        << name;
  EXPECT_EQ(named(a, "support").statistic, 0);
}

TEST(StreamingTest, AWrongLawFailsAndNanIsCaught) {
  auto x = he_normal(1000, 3);
  const continuous_law xavier =
      boost::math::normal_distribution<>(0.0, 0.044721359549995794 / 1.05);
  stream_accumulator stream(xavier, 1'000'000, 1 << 16);
  stream.add(std::span<const float>(x));
  const auto tests = stream.finish();
  EXPECT_LT(named(tests, "ks").p_value, 1e-10);
  EXPECT_LT(named(tests, "variance").p_value, 1e-10);
  x[5] = NAN;
  stream_accumulator with_nan(he_law, 1'000'000, 1 << 16);
  with_nan.add(std::span<const float>(x));
  const auto nan_tests = with_nan.finish();
  EXPECT_EQ(named(nan_tests, "ks").statistic, 1.0);
  EXPECT_FALSE(named(nan_tests, "support").passed);
  EXPECT_THROW(stream_accumulator(he_law, 10, 1000), std::invalid_argument);
}

TEST(StreamingTest, DataFarFromTheLawOverflowsTheOuterBinWithoutHoldingIt) {
  // Every u is ~1 against N(-10, 1): all 5*10^6 samples land in the top bin, more than the
  // 2^22 exact values a tail may hold. The bin is then bracketed; the fit fails, as it must.
  const auto x = he_normal(5000, 4);
  const continuous_law far = boost::math::normal_distribution<>(-10.0, 1.0);
  stream_accumulator stream(far, 5'000'000, 1 << 16);
  stream.add(std::span<const float>(x).subspan(0, 3'000'000));
  stream.add(std::span<const float>(x).subspan(3'000'000));
  const auto b = stream.fit_bracket();
  EXPECT_LE(b.d_low, b.d_high);
  EXPECT_GT(b.d_low, 0.99);
  EXPECT_TRUE(std::isinf(b.a2_high));
  const auto tests = stream.finish();
  EXPECT_LT(named(tests, "ks").p_value, 1e-300);
}

TEST(StreamingTest, TheRunnerStreamsBeyondTheMemoryBudget) {
  run_options options;
  options.memory_bytes = 4'000'000;  // 10^6 float32 and their copy need 8 MB
  options.summaries = true;
  const case_spec spec{"he_normal", {1000, 1000}, verinit::layout::torch, dtype::float32, 0};
  const case_result streamed = run_case(spec, options);
  EXPECT_EQ(streamed.n, 1'000'000);
  EXPECT_NE(named(streamed.tests, "ks").note.find("streaming"), std::string::npos);
  ASSERT_TRUE(streamed.summary.has_value());
  EXPECT_EQ(streamed.summary->n(), 1'000'000);
  run_result run;
  run.options = options;
  run.cases.push_back(streamed);
  decide(run);
  EXPECT_TRUE(run.passed);
  // Not i.i.d.: no streaming, a clear error.
  const case_spec orthogonal{
      "orthogonal", {256, 256}, verinit::layout::torch, dtype::float32, 256 * 256 * 40};
  EXPECT_THROW(run_case(orthogonal, options), std::invalid_argument);
}

}  // namespace
