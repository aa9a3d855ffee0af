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

/// "768,768", or a tensor whose fans are another's: "768 (fans of 768,3072)".
inline std::string shape_text(const verify::case_result& c) {
  return c.samples_shape.empty()
             ? to_string(c.spec.shape)
             : to_string(c.samples_shape) + " (fans of " + to_string(c.spec.shape) + ")";
}

/// "blocks.0.attn.weight 768,768 torch float32": a case's tensor as every writer shows it (with
/// its name in a model).
inline std::string tensor_text(const verify::case_result& c) {
  return (c.tensor.empty() ? std::string() : c.tensor + " ") + shape_text(c) + " " +
         std::string(to_string(c.spec.tensor_layout)) + " " + std::string(to_string(c.spec.type));
}

/// The cases' indices, failed cases first, each group in run order.
inline std::vector<std::size_t> failures_first(const verify::run_result& run) {
  std::vector<std::size_t> order(run.cases.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_partition(order.begin(), order.end(),
                        [&](std::size_t i) { return !run.cases[i].passed; });
  return order;
}

/// Which cases get a section of their own, with plots: every case of a run of schemes; of a
/// model, every failed tensor and, per rule, the one tensor closest to failing (the smallest
/// adjusted p), so that a 300-tensor model is a table and a few pages, not 300.
inline std::vector<bool> with_section(const verify::run_result& run) {
  std::vector<bool> out(run.cases.size(), !run.is_model());
  if (!run.is_model()) return out;
  std::vector<std::pair<std::string, std::size_t>> closest;  // rule -> case
  const auto smallest = [&](std::size_t i) {
    double p = 2;  // exact checks only: after any statistical test
    for (const auto& t : run.cases[i].tests)
      if (!t.exact && !t.informational && !(t.adjusted_p_value >= p)) p = t.adjusted_p_value;
    return p;
  };
  for (std::size_t i = 0; i < run.cases.size(); ++i) {
    if (!run.cases[i].passed) out[i] = true;
    auto at = std::find_if(closest.begin(), closest.end(),
                           [&](const auto& e) { return e.first == run.cases[i].rule; });
    if (at == closest.end())
      closest.emplace_back(run.cases[i].rule, i);
    else if (smallest(i) < smallest(at->second))
      at->second = i;
  }
  for (const auto& [rule, i] : closest) out[i] = true;
  return out;
}

/// "pooled_ks D 0.0028 (adjusted p 1e-12)": a pooled test in a line.
inline std::string pooled_test_text(const verify::test_result& t) {
  const char* what = t.name == "pooled_ks"                 ? " D "
                     : t.name == "pooled_anderson_darling" ? " A^2 "
                                                           : " z ";
  return t.name + what + format_number(t.statistic, 3) + " (adjusted p " +
         format_number(t.adjusted_p_value, 3) +
         (t.informational ? ", information"
          : t.passed      ? ""
                          : ", FAIL") +
         ")";
}

/// "0.46% variance error, 0.0015 sd mean shift, KS distance 0.0013": what a pooled rule's tests
/// detect (99% power; the KS distance for certain).
inline std::string pooled_detectable_text(const verify::pooled_result& p) {
  std::string s = format_number(100 * p.detectable_variance_error, 3) + "% variance error, " +
                  format_number(p.detectable_mean_shift, 3) + " sd mean shift";
  if (!std::isnan(p.detectable_ks_distance))
    s += ", KS distance " + format_number(p.detectable_ks_distance, 3);
  return s;
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
/// alpha 1e-06" (the caller adds punctuation); a model's "tensors", and those no rule matched.
inline std::string counts_sentence(const verify::run_result& run) {
  std::size_t failed = 0, tests = 0;
  for (const auto& c : run.cases) {
    failed += !c.passed;
    tests += c.tests.size();
  }
  const std::string unmatched =
      run.unmatched.empty() ? "" : ", " + std::to_string(run.unmatched.size()) + " matched no rule";
  return std::to_string(run.cases.size() - failed) + " of " + std::to_string(run.cases.size()) +
         (run.is_model() ? " tensors passed" : " schemes passed") + unmatched + ", " +
         std::to_string(tests) + " tests; Holm-Bonferroni over " + std::to_string(run.family_size) +
         " statistical tests at family-wise alpha " + format_number(run.options.alpha, 3);
}

/// Seconds spent sampling and testing, over all cases.
inline double total_seconds(const verify::run_result& run) {
  double total = 0;
  for (const auto& c : run.cases) total += c.sample_seconds + c.test_seconds;
  return total;
}

}  // namespace verinit::reports::detail
