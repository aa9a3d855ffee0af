// junit.xml: what Jenkins, GitLab and GitHub test reporters read.
//
// The de-facto schema (Jenkins' junit plugin; GitLab's "JUnit XML" reports): <testsuites>
// of <testsuite name tests failures errors skipped>, each of <testcase classname name> with an
// optional <failure message type>text</failure> or <skipped/>. No time attributes: timings live
// in results.json alone, so two runs with one seed write the same file.
//
// A run of schemes: a suite per case, a testcase per test. A model (a checkpoint with rules): one
// suite "model" with a testcase per tensor (its failure names the failed tests and the
// diagnosis), per tensor no rule matches (a failure) and per skipped tensor (skipped), and a
// suite "pooled" with a testcase per rule.
#include "overview.hpp"
#include "verinit/reports/detail/format.hpp"
#include "verinit/reports/report.hpp"

namespace verinit::reports {
namespace {

using detail::escape_xml;
using detail::format_number;

std::string attribute(const std::string& name, const std::string& value) {
  return " " + name + "=\"" + escape_xml(value) + "\"";
}

// The failure element of a failed list of tests.
std::string failure_of(const std::vector<verify::test_result>& tests, const std::string& diagnosis,
                       double alpha) {
  std::string message, text = diagnosis;
  for (const auto& t : tests) {
    if (t.passed) continue;
    message +=
        (message.empty() ? "" : "; ") + t.name +
        (t.exact ? " (exact check)" : " (adjusted p " + format_number(t.adjusted_p_value, 3) + ")");
    text += (text.empty() ? "" : "\n") + t.name + ": statistic " + format_number(t.statistic, 6) +
            ", p = " + format_number(t.p_value, 3) + ". " + t.note;
  }
  return "\n      <failure" +
         attribute("message", "failed: " + message + " at alpha " + format_number(alpha, 3)) +
         attribute("type", "law") + ">" + escape_xml(text) + "</failure>\n    ";
}

std::string model_suites(const verify::run_result& run, std::size_t& tests, std::size_t& failures) {
  std::size_t failed = 0, count = 0, skipped = 0;
  std::string cases;
  for (const auto& c : run.cases) {
    ++count;
    cases += "    <testcase" + attribute("classname", "verinit.model." + c.rule) +
             attribute("name", c.tensor.empty() ? c.canonical() : c.tensor) + ">";
    if (!c.passed) {
      ++failed;
      cases += failure_of(c.tests, c.diagnosis, run.options.alpha);
    }
    cases += "</testcase>\n";
  }
  for (const auto& name : run.unmatched) {
    ++count;
    ++failed;
    cases += "    <testcase" + attribute("classname", "verinit.model.unmatched") +
             attribute("name", name) + ">\n      <failure" +
             attribute("message", "no rule matches: not verified") +
             attribute("type", "unmatched") + "/>\n    </testcase>\n";
  }
  for (const auto& name : run.skipped) {
    ++count;
    ++skipped;
    cases += "    <testcase" + attribute("classname", "verinit.model.skipped") +
             attribute("name", name) + ">\n      <skipped" +
             attribute("message", "skipped by its rule") + "/>\n    </testcase>\n";
  }
  tests += count;
  failures += failed;
  std::string out =
      "  <testsuite" + attribute("name", "model") + attribute("tests", std::to_string(count)) +
      attribute("failures", std::to_string(failed)) + attribute("errors", "0") +
      attribute("skipped", std::to_string(skipped)) + ">\n" + cases + "  </testsuite>\n";
  if (run.pooled.empty()) return out;
  std::size_t pooled_failed = 0;
  std::string pooled;
  for (const auto& p : run.pooled) {
    pooled += "    <testcase" + attribute("classname", "verinit.pooled") +
              attribute("name", p.rule) + ">";
    if (!p.passed) {
      ++pooled_failed;
      pooled += failure_of(p.tests, "", run.options.alpha);
    }
    pooled += "</testcase>\n";
  }
  tests += run.pooled.size();
  failures += pooled_failed;
  return out + "  <testsuite" + attribute("name", "pooled") +
         attribute("tests", std::to_string(run.pooled.size())) +
         attribute("failures", std::to_string(pooled_failed)) + attribute("errors", "0") +
         attribute("skipped", "0") + ">\n" + pooled + "  </testsuite>\n";
}

}  // namespace

std::string to_junit(const verify::run_result& run) {
  std::size_t tests = 0, failures = 0;
  std::string suites;
  if (run.is_model()) suites = model_suites(run, tests, failures);
  for (const auto& c : run.cases) {
    if (run.is_model()) break;
    std::size_t failed = 0;
    std::string cases;
    const std::string classname = "verinit." + c.canonical();
    for (const auto& t : c.tests) {
      cases +=
          "    <testcase" + attribute("classname", classname) + attribute("name", t.name) + ">";
      if (!t.passed) {
        ++failed;
        const std::string message =
            t.exact ? "exact check failed: statistic " + format_number(t.statistic, 6)
                    : "statistic " + format_number(t.statistic, 6) +
                          ", p = " + format_number(t.p_value, 3) +
                          ", Holm-adjusted p = " + format_number(t.adjusted_p_value, 3) +
                          " <= alpha " + format_number(run.options.alpha, 3);
        std::string text = t.note;
        for (const auto& [key, value] : t.values)
          text += "\n" + key + " = " + format_number(value, 6);
        cases += "\n      <failure" + attribute("message", message) +
                 attribute("type", t.exact ? "exact" : "statistical") + ">" + escape_xml(text) +
                 "</failure>\n    ";
      }
      cases += "</testcase>\n";
    }
    tests += c.tests.size();
    failures += failed;
    suites += "  <testsuite" +
              attribute("name", c.canonical() + " [" + detail::tensor_text(c) + "]") +
              attribute("tests", std::to_string(c.tests.size())) +
              attribute("failures", std::to_string(failed)) + attribute("errors", "0") +
              attribute("skipped", "0") + ">\n    <properties>\n      <property" +
              attribute("name", "law") + attribute("value", c.formula) + "/>\n      <property" +
              attribute("name", "n") + attribute("value", std::to_string(c.n)) +
              "/>\n      <property" + attribute("name", "source") + attribute("value", c.source) +
              "/>\n    </properties>\n" + cases + "  </testsuite>\n";
  }
  if (run.propagation) {
    std::size_t failed = 0;
    std::string cases;
    for (const auto& c : run.propagation->cases) {
      cases += "    <testcase" + attribute("classname", "verinit.signal_propagation") +
               attribute("name", c.config.label) + ">";
      if (!c.passed) {
        ++failed;
        cases += "\n      <failure" +
                 attribute("message", "verdict " + c.verdict + ", expected " + c.config.expected +
                                          " (r = " + format_number(c.forward_ratio, 3) + ")") +
                 attribute("type", "propagation") + ">" + escape_xml(c.config.scheme) +
                 "</failure>\n    ";
      }
      cases += "</testcase>\n";
    }
    tests += run.propagation->cases.size();
    failures += failed;
    suites += "  <testsuite" + attribute("name", "signal_propagation") +
              attribute("tests", std::to_string(run.propagation->cases.size())) +
              attribute("failures", std::to_string(failed)) + attribute("errors", "0") +
              attribute("skipped", "0") + ">\n" + cases + "  </testsuite>\n";
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites" + attribute("name", "verinit") +
         attribute("tests", std::to_string(tests)) +
         attribute("failures", std::to_string(failures)) + attribute("errors", "0") + ">\n" +
         suites + "</testsuites>\n";
}

}  // namespace verinit::reports
