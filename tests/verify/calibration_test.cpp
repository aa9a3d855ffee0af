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
#include "verinit/fill.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/goodness_of_fit.hpp"
#include "verinit/verify/model.hpp"
#include "verinit/verify/runner.hpp"

namespace {

using namespace verinit::verify;

// Prints the table of p-values by test name and checks each against U(0, 1) (above). A test
// whose name starts with one of `conservative` (p from the lower end of a bracket) need only
// not give small p-values too often: its fraction below 0.01 within the interval's upper end,
// and one-sided Smirnov D+ = max(i/n - p_(i)) not rejecting at 1e-4.
void check_uniform(std::map<std::string, std::vector<double>>& p_values,
                   const std::vector<std::string>& conservative = {}) {
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
    if (std::any_of(conservative.begin(), conservative.end(),
                    [&, &name = name](const std::string& c) { return name.rfind(c, 0) == 0; })) {
      double d_plus = 0;
      for (std::size_t i = 0; i < p.size(); ++i)
        d_plus = std::max(d_plus, static_cast<double>(i + 1) / count - p[i]);
      const double smirnov_p =
          verinit::verify::detail::smirnov_sf(static_cast<std::int64_t>(p.size()), d_plus);
      std::printf("|   (conservative: D+ %.4f, p %.3g) | | | | | |\n", d_plus, smirnov_p);
      EXPECT_GT(smirnov_p, 1e-4) << name;
      continue;
    }
    EXPECT_GE(below, low) << name;
    EXPECT_GT(ks_p, 1e-4) << name;
  }
}

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
  check_uniform(p_values);
}

TEST(CalibrationTest, PooledTestsAreUniformUnderTheNull) {
  // The pooled tests of a model's rules (runner.hpp's pooled_result) under 200 seeds: one rule
  // of three float32 he_uniform tensors (continuous PITs), one of three bfloat16 he_normal
  // tensors and one of three float32 truncated normals on bfloat16's grid (randomised PITs, the
  // rounded law's moments). Each p-value must be U(0, 1) as above.
  const verinit::tensor_shape shape{128, 256};
  const auto rules = parse_rules(
      "[[rule]]\nmatch = 'u.*'\nexpect = 'he_uniform'\n[[rule]]\nmatch = 'b.*'\n"
      "expect = 'he_normal'\n[[rule]]\nmatch = 'g.*'\nexpect = 'truncated_normal(std=0.02)'\n");
  constexpr int seeds = 200;
  std::map<std::string, std::vector<double>> p_values;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    std::vector<std::vector<float>> u, g;
    std::vector<std::vector<verinit::bfloat16_t>> b;
    std::vector<model_tensor> tensors;
    for (std::uint64_t k = 0; k < 3; ++k) {
      verinit::fill_options o;
      o.seed = seed * 1'000'003 + 10 * k;
      u.push_back(verinit::sample<float>(shape, verinit::parse_scheme("he_uniform"), o));
      o.seed += 1;
      b.push_back(
          verinit::sample<verinit::bfloat16_t>(shape, verinit::parse_scheme("he_normal"), o));
      o.seed += 1;  // independent of b's draws
      const auto rounded = verinit::sample<verinit::bfloat16_t>(
          shape, verinit::parse_scheme("truncated_normal(std=0.02)"), o);
      g.emplace_back(rounded.begin(), rounded.end());
    }
    for (std::size_t k = 0; k < 3; ++k) {
      const std::string i = std::to_string(k);
      tensors.push_back({"u." + i, "F32", shape, verinit::view_of<float>(u[k], shape), nullptr});
      tensors.push_back(
          {"b." + i, "BF16", shape, verinit::view_of<verinit::bfloat16_t>(b[k], shape), nullptr});
      tensors.push_back({"g." + i, "F32", shape, verinit::view_of<float>(g[k], shape), nullptr});
    }
    run_request request;
    request.options.seed = seed;
    add_plan(request, plan_model(tensors, rules, verinit::layout::torch, "m"));
    const run_result r = run(request);
    EXPECT_EQ(r.pooled.size(), 3u);
    for (const auto& p : r.pooled)
      for (const auto& t : p.tests) p_values[t.name + " " + p.rule].push_back(t.p_value);
  }
  // A^2 from binned transforms: the p-value at the bracket's lower end is conservative.
  check_uniform(p_values, {"pooled_anderson_darling"});
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
