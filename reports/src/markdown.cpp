// summary.md: GitHub-flavoured Markdown for a pull request or a CI job summary.
#include <algorithm>
#include <cmath>

#include "overview.hpp"
#include "verinit/reports/detail/format.hpp"
#include "verinit/reports/report.hpp"

namespace verinit::reports {
namespace {

using detail::format_number;

// Table cells: a '|' would end the cell, a newline the row.
std::string cell(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string to_markdown(const verify::run_result& run) {
  std::string s =
      "# verinit verification: " + std::string(run.passed ? "PASSED" : "FAILED") + "\n\n";
  if (!run.cases.empty()) s += detail::counts_sentence(run) + "; ";
  s += "seed " + std::to_string(run.options.seed) + ".\n\n";
  if (run.is_model()) {
    s += "## Tensors\n\n| Verdict | Tensor | Shape | dtype | Rule | Law | n | Smallest adjusted p "
         "| Failed tests; diagnosis |\n|---|---|---|---|---|---|--:|--:|---|\n";
    for (std::size_t i : detail::failures_first(run)) {
      const auto& c = run.cases[i];
      const detail::case_overview o = detail::overview_of(c);
      std::string failed = o.failed_tests;
      if (!c.diagnosis.empty()) failed += (failed.empty() ? "" : "; ") + c.diagnosis;
      s += "| " + std::string(c.passed ? "✅ PASS" : "❌ **FAIL**") + " | `" + cell(c.tensor) +
           "` | " + detail::shape_text(c) + " | " + std::string(to_string(c.spec.type)) + " | `" +
           cell(c.rule) + "` | " + cell(c.formula) + " | " + std::to_string(c.n) + " | " +
           (std::isnan(o.smallest_p) ? "exact checks only"
                                     : format_number(o.smallest_adjusted_p, 3)) +
           " | " + cell(failed) + " |\n";
    }
    for (const auto& name : run.unmatched)
      s += "| ❌ **FAIL** | `" + cell(name) + "` | | | | | | | no rule matches: not verified |\n";
    if (!run.skipped.empty()) {
      s += "\nSkipped by their rules:";
      for (const auto& name : run.skipped) s += " `" + cell(name) + "`";
      s += "\n";
    }
    for (const auto& [name, verified] : run.tied)
      s += "\nTied: `" + cell(name) + "` = `" + cell(verified) + "` (verified once)\n";
    if (!run.pooled.empty()) {
      s += "\n## Pooled per rule\n\n| Verdict | Rule | Tensors | n | Tests | Detectable |\n"
           "|---|---|--:|--:|---|---|\n";
      for (const auto& p : run.pooled) {
        std::string tests;
        for (const auto& t : p.tests)
          tests += (tests.empty() ? "" : "; ") + detail::pooled_test_text(t);
        s += "| " + std::string(p.passed ? "✅ PASS" : "❌ **FAIL**") + " | `" + cell(p.rule) +
             "` | " + std::to_string(p.tensors.size()) + " | " + format_number(p.n, 6) + " | " +
             cell(tests) + " | " + cell(detail::pooled_detectable_text(p)) + " |\n";
      }
    }
  } else if (!run.cases.empty()) {
    s += "## Overview\n\n| Verdict | Scheme | Tensor | Law | n | Smallest adjusted p | Failed "
         "tests |\n|---|---|---|---|--:|--:|---|\n";
    for (std::size_t i : detail::failures_first(run)) {
      const auto& c = run.cases[i];
      const detail::case_overview o = detail::overview_of(c);
      s += "| " + std::string(c.passed ? "✅ PASS" : "❌ **FAIL**") + " | `" + cell(c.canonical()) +
           "` | " + cell(detail::tensor_text(c)) + " | " + cell(c.formula) + " | " +
           std::to_string(c.n) + " | " +
           (std::isnan(o.smallest_p) ? "exact checks only"
                                     : format_number(o.smallest_adjusted_p, 3)) +
           " | " + cell(o.failed_tests) + " |\n";
    }
  }
  if (run.propagation) {
    const auto& p = *run.propagation;
    s += "\n## Signal propagation: " + std::string(p.passed ? "PASSED" : "FAILED") + "\n\n" +
         std::to_string(p.options.depth) + "-layer MLP, width " + std::to_string(p.options.width) +
         ", batch " + std::to_string(p.options.batch) + ", " + std::to_string(p.options.seeds) +
         " seeds. r = Var(z_" + std::to_string(p.options.depth) +
         ") / Var(z_10); stable iff 1/2 <= r <= 2 (see the HTML report for the criterion).\n\n"
         "| Configuration | Weights | Activation | r | Gradient ratio | Units identical | "
         "Verdict | Expected |\n|---|---|---|--:|--:|---|---|---|\n";
    for (const auto& c : p.cases)
      s += "| " + cell(c.config.label) + " | `" + cell(c.config.scheme) + "` | " +
           std::string(verify::to_string(c.config.act)) + " | " +
           format_number(c.forward_ratio, 3) + " | " + format_number(c.backward_ratio, 3) + " | " +
           (c.symmetric ? "yes" : "no") + " | " + c.verdict + " | " + c.config.expected + " " +
           (c.passed ? "✅" : "❌") + " |\n";
  }
  if (!run.cases.empty()) {
    const std::vector<bool> sections = detail::with_section(run);
    s += run.is_model() ? "\n## Tests of the failed tensors and, per rule, the one closest "
                          "to failing\n"
                        : "\n## Tests\n";
    for (std::size_t i = 0; i < run.cases.size(); ++i) {
      if (!sections[i]) continue;
      const auto& c = run.cases[i];
      s += "\n### " + std::string(c.passed ? "✅" : "❌") + " " +
           (c.tensor.empty() ? "" : "`" + cell(c.tensor) + "`: ") + "`" + cell(c.canonical()) +
           "` — " + cell(c.formula) + ", n = " + std::to_string(c.n) + "\n\n" +
           "| Test | Statistic | p | Adjusted p | Verdict | Note |\n|---|--:|--:|--:|---|---|\n";
      for (const auto& t : c.tests)
        s += "| " + t.name + " | " + format_number(t.statistic, 6) + " | " +
             (t.exact ? "exact" : format_number(t.p_value, 3)) + " | " +
             (t.exact ? "" : format_number(t.adjusted_p_value, 3)) + " | " +
             (t.informational ? "information"
              : t.passed      ? (t.suspicious ? "ok (suspicious)" : "ok")
                              : "**FAIL**") +
             " | " + cell(t.note) + " |\n";
    }
  }
  s += "\n---\nTiming: sampling and tests " + format_number(detail::total_seconds(run), 3) + " s";
  if (run.propagation)
    s += ", signal propagation " + format_number(run.propagation->seconds, 3) + " s";
  return s + ".\n";
}

}  // namespace verinit::reports
