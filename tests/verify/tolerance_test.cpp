#include "verinit/verify/tolerance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "verinit/fill.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/runner.hpp"

namespace {

using verinit::verify::apply_tolerance;
using verinit::verify::case_request;
using verinit::verify::case_spec;
using verinit::verify::equivalence_p;
using verinit::verify::run;
using verinit::verify::run_request;
using verinit::verify::run_result;
using verinit::verify::test_result;
using verinit::verify::tolerance;

TEST(ToleranceTest, WithoutOneTheEquivalencePIsTheTwoSidedP) {
  for (double z : {0.0, 0.5, -1.96, 3.0, -7.5})
    EXPECT_DOUBLE_EQ(equivalence_p(z, 0.01, 0), verinit::verify::detail::two_sided_normal_p(z));
  EXPECT_EQ(equivalence_p(NAN, 0.01, 0.1), 0);  // not computable: rejected, as without one
  // Inside the tolerance by many standard errors: no evidence of a deviation beyond it.
  EXPECT_GT(equivalence_p(5.0, 0.001, 0.01), 1 - 1e-6);  // effect 0.005 < 0.01
  // Beyond it: the distance counts from the tolerance, not from 0: Q(20 - 10) + Q(20 + 10).
  EXPECT_DOUBLE_EQ(equivalence_p(20.0, 0.001, 0.01), 0.5 * std::erfc(10 / std::sqrt(2.0)));
}

TEST(ToleranceTest, TheEquivalenceTestHasItsLevelAtTheToleranceAndLessInside) {
  // z ~ N(effect / se, 1): at effect = tol the rejection rate is alpha (exact at the boundary of
  // the null); inside it, below. 200,000 draws, a fixed seed: the rate's sd is 4.9e-4.
  std::mt19937_64 engine(20261202);
  std::normal_distribution<double> noise;
  const double se = 0.001, tol = 0.005, alpha = 0.05;
  for (const double effect : {tol, -tol, 0.6 * tol}) {
    int rejected = 0;
    const int draws = 200'000;
    for (int i = 0; i < draws; ++i)
      rejected += equivalence_p(effect / se + noise(engine), se, tol) <= alpha;
    const double rate = static_cast<double>(rejected) / draws;
    if (std::abs(effect) == tol)
      EXPECT_NEAR(rate, alpha, 4 * 4.9e-4) << effect;
    else
      EXPECT_LT(rate, 1e-3) << effect;  // 2 standard errors inside: P ~ Q(3.6) = 1.6e-4
  }
}

TEST(ToleranceTest, BadTolerancesAreNamed) {
  EXPECT_NO_THROW(verinit::verify::check_tolerance({0.005, 0.01, 0.001}, "rules"));
  try {
    verinit::verify::check_tolerance({0.005, -0.1, 0}, "rules.toml: rule 2");
    FAIL();
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()),
              "rules.toml: rule 2: tolerance mean is -0.1, but must be in [0, 1)");
  }
  EXPECT_THROW(verinit::verify::check_tolerance({NAN, 0, 0}, "x"), std::invalid_argument);
  EXPECT_THROW(verinit::verify::check_tolerance({0, 0, 1}, "x"), std::invalid_argument);
  EXPECT_EQ(to_string(tolerance{0.005, 0.01, 0.002}), "variance +-0.5%, mean +-0.01 sd, ks 0.002");
  EXPECT_EQ(to_string(tolerance{}), "none");
}

// He-normal weights of a [2000, 2000] tensor (4 * 10^6), with their variance scaled by
// `variance` and their mean shifted by `shift` standard deviations, verified with `t`.
run_result verify_quirk(double variance, double shift, const tolerance& t) {
  const verinit::tensor_shape shape{2000, 2000};
  auto w = verinit::sample<double>(shape, verinit::parse_scheme("he_normal"), {.seed = 7});
  const double sd = std::sqrt(2.0 / 2000);
  for (double& x : w) x = x * std::sqrt(variance) + shift * sd;
  run_request request;
  case_request c{case_spec::of("he_normal", shape),
                 verinit::view_of(std::span<const double>(w), shape), "w"};
  c.tolerance = t;
  request.cases.push_back(c);
  return run(request);
}

const test_result& test_named(const run_result& r, const std::string& name) {
  const auto& tests = r.cases.at(0).tests;
  const auto it = std::find_if(tests.begin(), tests.end(),
                               [&](const test_result& t) { return t.name == name; });
  if (it == tests.end()) throw std::logic_error("no test " + name);
  return *it;
}

TEST(ToleranceTest, AHarmlessVarianceQuirkPassesWithinItsToleranceAndFailsBeyondIt) {
  // +0.8% variance at n = 4e6: the variance z is ~11, and AD sees it too; the exact law fails.
  const run_result exact = verify_quirk(1.008, 0, {});
  EXPECT_FALSE(exact.passed);
  EXPECT_FALSE(test_named(exact, "variance").passed);
  // A variance tolerance alone: AD still sees the changed shape.
  const run_result variance_only = verify_quirk(1.008, 0, {.variance = 0.015});
  EXPECT_TRUE(test_named(variance_only, "variance").passed);
  EXPECT_FALSE(variance_only.passed);
  EXPECT_FALSE(test_named(variance_only, "anderson_darling").passed);
  // With a KS distance too, AD is information only: the gate passes.
  const run_result tolerated = verify_quirk(1.008, 0, {.variance = 0.015, .ks = 0.003});
  EXPECT_TRUE(tolerated.passed);
  EXPECT_TRUE(test_named(tolerated, "anderson_darling").informational);
  EXPECT_LT(test_named(tolerated, "anderson_darling").p_value, 1e-6);  // reported, not decided
  EXPECT_EQ(tolerated.cases[0].tolerance, (tolerance{0.015, 0, 0.003}));
  // The power statement counts from the tolerance: 1.5% plus ~6 standard errors of 7.1e-4.
  EXPECT_GT(tolerated.cases[0].detectable_variance_error, 0.015 + 0.003);
  EXPECT_LT(tolerated.cases[0].detectable_variance_error, 0.015 + 0.006);
  // A tolerance of 0.2% is exceeded by 0.6%, 8.5 standard errors: a failure.
  const run_result beyond = verify_quirk(1.008, 0, {.variance = 0.002, .ks = 0.003});
  EXPECT_FALSE(test_named(beyond, "variance").passed);
  EXPECT_FALSE(beyond.passed);
}

TEST(ToleranceTest, AMeanQuirkPassesWithinItsTolerance) {
  // A shift of 0.005 sd at n = 4e6: z = 10, and KS's D ~ 0.002 (sqrt(n) D ~ 4) fails too.
  const run_result exact = verify_quirk(1, 0.005, {});
  EXPECT_FALSE(test_named(exact, "mean").passed);
  EXPECT_FALSE(test_named(exact, "ks").passed);
  const run_result tolerated = verify_quirk(1, 0.005, {.mean = 0.01, .ks = 0.003});
  EXPECT_TRUE(tolerated.passed);
  EXPECT_NE(test_named(tolerated, "ks").note.find("equivalence"), std::string::npos);
  EXPECT_FALSE(verify_quirk(1, 0.005, {.mean = 0.001, .ks = 0.003}).passed);
}

TEST(ToleranceTest, NoToleranceExcusesNonFiniteValues) {
  const verinit::tensor_shape shape{500, 500};
  auto w = verinit::sample<double>(shape, verinit::parse_scheme("he_normal"), {.seed = 3});
  w[1234] = NAN;
  run_request request;
  case_request c{case_spec::of("he_normal", shape),
                 verinit::view_of(std::span<const double>(w), shape), "w"};
  c.tolerance = {0.5, 0.5, 0.5};
  request.cases.push_back(c);
  EXPECT_FALSE(run(request).passed);
}

TEST(ToleranceTest, ZeroToleranceChangesNothing) {
  const run_result plain = verify_quirk(1, 0, {});
  auto tests = plain.cases[0].tests;
  apply_tolerance(tests, {});
  ASSERT_EQ(tests.size(), plain.cases[0].tests.size());
  for (std::size_t i = 0; i < tests.size(); ++i) {
    EXPECT_EQ(tests[i].p_value, plain.cases[0].tests[i].p_value) << tests[i].name;
    EXPECT_EQ(tests[i].informational, false);
  }
}

TEST(ToleranceTest, ReplicatedCasesRefuseATolerance) {
  run_request request;
  case_request c{case_spec::of("he_normal", {64, 64}, verinit::layout::torch,
                               verinit::dtype::float32, 4096, 3)};
  c.tolerance = {0.01, 0, 0};
  request.cases.push_back(c);
  EXPECT_THROW(run(request), std::invalid_argument);
}

}  // namespace
