// Calibration experiment (CTest label `calibration`, outside the default run; ~1 minute):
// every test on correct schemes under 200 seeds. Under the null each continuous p-value is
// U(0, 1): pooled over the schemes, KS of the p-values must not reject at 1e-4, and the
// fraction below 0.01 must lie in its 99.9% binomial interval. repeated_runs has a discrete,
// conservative p-value (1 when no window repeats), so only its fraction below 0.01 is checked.
// Also the power table: for each bug of the catalogue, the smallest n in 10^3..10^7 at which
// the run fails at alpha = 1e-6, and the tests that catch it there.
// Prints the tables the README quotes:  ctest --preset calibration
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <cstdio>
#include <map>

#include "bug_catalogue.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/goodness_of_fit.hpp"
#include "verinit/verify/runner.hpp"

namespace {

using namespace verinit::verify;

TEST(CalibrationTest, PValuesAreUniformUnderTheNull) {
  const std::vector<case_spec> cases{
      case_spec::of("uniform(a=-0.3,b=0.3)", {1000, 100}, verinit::layout::torch,
                    verinit::dtype::float32, 100'000),
      case_spec::of("normal(mean=0.5,std=2)", {1000, 100}, verinit::layout::torch,
                    verinit::dtype::float64, 100'000),
      case_spec::of("truncated_normal", {1000, 100}, verinit::layout::torch,
                    verinit::dtype::float32, 100'000),
      case_spec::of("variance_scaling", {3, 3, 64, 128}, verinit::layout::keras,
                    verinit::dtype::float32, 100'000),
      case_spec::of("he_uniform", {64, 32, 3, 3}, verinit::layout::torch, verinit::dtype::float32,
                    100'000),
      case_spec::of("orthogonal", {16, 16}, verinit::layout::torch, verinit::dtype::float64,
                    200 * 256),
  };
  constexpr int seeds = 200;
  std::map<std::string, std::vector<double>> p_values;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed)
    for (const auto& spec : cases) {
      run_options options;
      options.seed = seed * 1'000'003;
      for (const auto& t : run_case({spec, std::nullopt, "verinit"}, options).tests)
        if (!t.exact) p_values[t.name].push_back(t.p_value);
    }
  std::printf(
      "| test | p-values | KS D | KS p | fraction < 0.01 | 99.9%% interval "
      "|\n|---|---|---|---|---|---|\n");
  for (auto& [name, p] : p_values) {
    const auto count = static_cast<double>(p.size());
    const boost::math::binomial_distribution<> null_count(count, 0.01);
    const double low = boost::math::quantile(null_count, 0.0005) / count;
    const double high = boost::math::quantile(boost::math::complement(null_count, 0.0005)) / count;
    const double below =
        static_cast<double>(std::count_if(p.begin(), p.end(), [](double v) { return v < 0.01; })) /
        count;
    std::sort(p.begin(), p.end());
    const double d = ks_statistic(p);
    const double ks_p =
        cdf(complement(kolmogorov_smirnov_distribution(static_cast<std::int64_t>(p.size())), d));
    std::printf("| %s | %zu | %.4f | %.3g | %.4f | [%.4f, %.4f] |\n", name.c_str(), p.size(), d,
                ks_p, below, low, high);
    EXPECT_LE(below, high) << name;
    if (name == "repeated_runs") continue;
    EXPECT_GE(below, low) << name;
    EXPECT_GT(ks_p, 1e-4) << name;
  }
}

TEST(CalibrationTest, PowerTable) {
  std::printf(
      "| bug | seen in | smallest n that fails (alpha 1e-6) | caught there by "
      "|\n|---|---|---|---|\n");
  for (const auto& b : verinit::testing::catalogue()) {
    std::string found = "> 10^7", caught;
    for (std::int64_t n = 1000; n <= 10'000'000; n *= 10) {
      const auto run = verinit::testing::verify_bug(b, b.make(n, 11));
      if (run.passed) continue;
      found =
          "10^" + std::to_string(static_cast<int>(std::lround(std::log10(static_cast<double>(n)))));
      for (const auto& t : run.cases[0].tests)
        if (!t.passed) caught += (caught.empty() ? "" : ", ") + t.name;
      break;
    }
    std::printf("| %s | %s | %s | %s |\n", b.name.c_str(), b.source.c_str(), found.c_str(),
                caught.c_str());
    EXPECT_NE(found, "> 10^7") << b.name;
  }
}

}  // namespace
