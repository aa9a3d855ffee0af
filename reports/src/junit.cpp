// junit.xml: what Jenkins, GitLab and GitHub test reporters read.
//
// The de-facto schema (Jenkins' junit plugin; GitLab's "JUnit XML" reports): <testsuites>
// of <testsuite name tests failures errors skipped>, each of <testcase classname name> with an
// optional <failure message type>text</failure>. No time attributes: timings live in
// results.json alone, so two runs with one seed write the same file.
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

}  // namespace

std::string to_junit(const verify::run_result& run) {
  std::size_t tests = 0, failures = 0;
  std::string suites;
  for (const auto& c : run.cases) {
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
