// What the HTML page and the Markdown summary both say of a run (internal to reports/src).
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "verinit/reports/detail/format.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::reports::detail {

/// "256,512 torch float32": a case's tensor as every writer shows it.
inline std::string tensor_text(const verify::case_spec& spec) {
  return to_string(spec.shape) + " " + std::string(to_string(spec.tensor_layout)) + " " +
         std::string(to_string(spec.type));
}

/// "blocks.0.attn.weight 768,768 torch float32": with the tensor's name in a model, if any.
inline std::string tensor_text(const verify::case_result& c) {
  return (c.tensor.empty() ? std::string() : c.tensor + " ") + tensor_text(c.spec);
}

/// The cases' indices, failed cases first, each group in run order.
inline std::vector<std::size_t> failures_first(const verify::run_result& run) {
  std::vector<std::size_t> order(run.cases.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_partition(order.begin(), order.end(),
                        [&](std::size_t i) { return !run.cases[i].passed; });
  return order;
}

/// A case's overview row: its smallest raw and Holm-adjusted p-values over its statistical
/// tests (NaN if it has none; informational ones not counted), and its failed tests' names.
struct case_overview {
  double smallest_p = NAN, smallest_adjusted_p = NAN;
  std::string failed_tests;
};
inline case_overview overview_of(const verify::case_result& c) {
  case_overview out;
  for (const auto& t : c.tests) {
    if (!t.exact && !t.informational) {
      if (!(t.p_value >= out.smallest_p)) out.smallest_p = t.p_value;
      if (!(t.adjusted_p_value >= out.smallest_adjusted_p))
        out.smallest_adjusted_p = t.adjusted_p_value;
    }
    if (!t.passed) out.failed_tests += (out.failed_tests.empty() ? "" : ", ") + t.name;
  }
  return out;
}

/// "5 of 6 schemes passed, 36 tests; Holm-Bonferroni over 29 statistical tests at family-wise
/// alpha 1e-06" (the caller adds punctuation).
inline std::string counts_sentence(const verify::run_result& run) {
  std::size_t failed = 0, tests = 0;
  for (const auto& c : run.cases) {
    failed += !c.passed;
    tests += c.tests.size();
  }
  return std::to_string(run.cases.size() - failed) + " of " + std::to_string(run.cases.size()) +
         " schemes passed, " + std::to_string(tests) + " tests; Holm-Bonferroni over " +
         std::to_string(run.family_size) + " statistical tests at family-wise alpha " +
         format_number(run.options.alpha, 3);
}

/// Seconds spent sampling and testing, over all cases.
inline double total_seconds(const verify::run_result& run) {
  double total = 0;
  for (const auto& c : run.cases) total += c.sample_seconds + c.test_seconds;
  return total;
}

}  // namespace verinit::reports::detail
