// The report directory: well-formed XML everywhere, numbers that match results.json,
// failures first, JUnit structure, and atomic replacement.
#include "verinit/reports/report.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sample_run.hpp"
#include "verinit/reports/detail/format.hpp"
#include "verinit/reports/json.hpp"
#include "verinit/verify/model.hpp"
#include "xml_check.hpp"

namespace {

namespace fs = std::filesystem;
using verinit::reports::detail::format_number;

const verinit::verify::run_result& run() {
  static const verinit::verify::run_result r = verinit::test::sample_run();
  return r;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ReportTest, PageAndEverySvgAreWellFormedXml) {
  const std::string html = verinit::reports::to_html(run());
  EXPECT_EQ(verinit::test::xml_error(html), "");
  std::size_t svgs = 0;
  for (auto at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    const auto end = html.find("</svg>", at);
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(verinit::test::xml_error(html.substr(at, end + 6 - at)), "") << "svg #" << svgs;
    ++svgs;
  }
  // 3 plots for each of the 4 summarized i.i.d./sparse cases incl. wrong.npy, 3 for the
  // orthogonal entries, 4 for propagation.
  EXPECT_EQ(svgs, 4u * 3 + 3 + 4);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://www.w3.org/2000/svg") != std::string::npos, true);
  EXPECT_EQ(count(html, "src="), 0u);  // nothing loaded
}

TEST(ReportTest, NumbersInThePageMatchResultsJson) {
  const std::string html = verinit::reports::to_html(run());
  const auto doc = nlohmann::json::parse(verinit::reports::to_json(run()));
  for (const auto& scheme : doc["schemes"]) {
    EXPECT_NE(html.find(">" + std::to_string(scheme["n"].get<std::int64_t>()) + "<"),
              std::string::npos);
    for (const auto& t : scheme["tests"]) {
      const std::string statistic = format_number(t["statistic"].get<double>(), 6);
      EXPECT_NE(html.find(">" + statistic + "<"), std::string::npos) << t["name"];
      if (!t["exact"].get<bool>()) {
        EXPECT_NE(html.find(">" + format_number(t["p_value"].get<double>(), 3) + "<"),
                  std::string::npos)
            << t["name"];
        EXPECT_NE(html.find(">" + format_number(t["p_adjusted"].get<double>(), 3) + "<"),
                  std::string::npos);
      }
    }
    if (scheme.contains("summary")) {
      const auto& m = scheme["summary"]["moments"];
      for (const char* key : {"mean", "variance", "skewness", "kurtosis"})
        EXPECT_NE(html.find(">" + format_number(m[key].get<double>(), 6) + "<"), std::string::npos)
            << key;
    }
  }
  for (const auto& c : doc["propagation"]["cases"])
    EXPECT_NE(
        html.find(">" +
                  format_number(
                      c["forward_ratio"].is_null() ? NAN : c["forward_ratio"].get<double>(), 3) +
                  "<"),
        std::string::npos);
}

TEST(ReportTest, FailuresComeFirstInTheOverview) {
  const std::string html = verinit::reports::to_html(run());
  const auto overview = html.substr(html.find("<table class=\"overview\">"));
  const auto first_row = overview.find("<tr", overview.find("</tr>"));
  EXPECT_EQ(overview.find("<tr class=\"failed\">"), first_row);
  EXPECT_NE(html.find("FAIL</span>"), std::string::npos);
  const std::string md = verinit::reports::to_markdown(run());
  EXPECT_LT(md.find("❌ **FAIL**"), md.find("✅ PASS"));
  EXPECT_NE(md.find("| Configuration |"), std::string::npos);
}

TEST(ReportTest, JunitHasASuitePerSchemeACasePerTestAndFailureDetails) {
  const std::string xml = verinit::reports::to_junit(run());
  EXPECT_EQ(verinit::test::xml_error(xml), "");
  EXPECT_EQ(count(xml, "<testsuite "), run().cases.size() + 1);  // + signal propagation
  std::size_t tests = 0, failed = 0;
  for (const auto& c : run().cases) {
    tests += c.tests.size();
    for (const auto& t : c.tests) failed += !t.passed;
  }
  tests += run().propagation->cases.size();
  EXPECT_EQ(count(xml, "<testcase "), tests);
  EXPECT_GT(failed, 0u);
  EXPECT_EQ(count(xml, "<failure "), failed + (run().propagation->passed ? 0 : 1));
  EXPECT_NE(xml.find("Holm-adjusted p = "), std::string::npos);
  EXPECT_NE(xml.find("<testsuites name=\"verinit\" tests=\"" + std::to_string(tests) + "\""),
            std::string::npos);
}

// A model of 8 weights under one rule (one of them drawn at 1.5 times the law's std), 2 zero
// biases, a counter the rules skip and a tensor no rule matches.
const verinit::verify::run_result& model_run() {
  static const verinit::verify::run_result r = [] {
    static std::vector<std::vector<float>> data;
    const verinit::tensor_shape shape{64, 128};
    std::vector<verinit::verify::model_tensor> tensors;
    for (int k = 0; k < 8; ++k) {
      verinit::fill_options o;
      o.seed = 40 + static_cast<std::uint64_t>(k);
      data.push_back(verinit::sample<float>(
          shape, verinit::parse_scheme(k == 5 ? "normal(std=0.03)" : "normal(std=0.02)"), o));
    }
    data.emplace_back(64, 0.0f);
    for (int k = 0; k < 8; ++k)
      tensors.push_back({"layers." + std::to_string(k) + ".weight", "F32", shape,
                         verinit::view_of<float>(data[static_cast<std::size_t>(k)], shape),
                         nullptr});
    for (int k = 0; k < 2; ++k)
      tensors.push_back({"layers." + std::to_string(k) + ".bias",
                         "F32",
                         {64},
                         verinit::view_of<float>(data[8], verinit::tensor_shape{64}),
                         nullptr});
    static std::int64_t counter = 0;
    tensors.push_back({"bn.num_batches_tracked", "I64", {}, std::nullopt, &counter});
    tensors.push_back({"head.weight",
                       "F32",
                       {64},
                       verinit::view_of<float>(data[8], verinit::tensor_shape{64}),
                       nullptr});
    const auto rules = verinit::verify::parse_rules(
        "[[rule]]\nmatch = 'layers.*.weight'\nexpect = 'normal(std=0.02)'\n"
        "origin = 'nn.init.normal_(std=0.02) at model.py:12'\n"
        "[[rule]]\nmatch = '*.bias'\nexpect = 'zeros'\n"
        "[[rule]]\nmatch = '*.num_batches_tracked'\nskip = true\n");
    verinit::verify::run_request request;
    request.options.summaries = true;
    verinit::verify::add_plan(
        request, verinit::verify::plan_model(tensors, rules, verinit::layout::torch, "m"));
    return verinit::verify::run(request);
  }();
  return r;
}

TEST(ModelReportTest, ATableOfEveryTensorAndSectionsForTheFailedOnesAndOnePerRule) {
  const auto& r = model_run();
  ASSERT_EQ(r.cases.size(), 10u);
  EXPECT_FALSE(r.cases[5].passed);
  const std::string html = verinit::reports::to_html(r);
  EXPECT_EQ(verinit::test::xml_error(html), "");
  for (const auto& c : r.cases)
    EXPECT_NE(html.find("<code>" + c.tensor + "</code>"), std::string::npos);
  EXPECT_NE(html.find("head.weight</code></td><td></td>"), std::string::npos);
  EXPECT_NE(html.find("no rule matches"), std::string::npos);
  // Failed tensors a row each, the diagnosis with its own room; the passing grouped by law.
  EXPECT_NE(html.find("<td class=\"diag\">"), std::string::npos);
  EXPECT_NE(html.find("Passing tensors, grouped by law"), std::string::npos);
  EXPECT_LT(html.find("<td class=\"diag\">"), html.find("<details><summary>"));
  // A recorded law's call, beside the law: in the failed row, the passing group, the section.
  EXPECT_EQ(count(html, "set by nn.init.normal_(std=0.02) at model.py:12"), 2u);
  EXPECT_EQ(count(html, "Set by nn.init.normal_(std=0.02) at model.py:12."), 1u);
  EXPECT_EQ(r.cases[5].origin, "nn.init.normal_(std=0.02) at model.py:12");
  EXPECT_TRUE(r.cases[8].origin.empty());  // a bias: its rule says none
  const std::string json = verinit::reports::to_json(r);
  EXPECT_EQ(verinit::reports::from_json(json).cases[5].origin, r.cases[5].origin);
  EXPECT_EQ(verinit::reports::to_json(verinit::reports::from_json(json)), json);
  EXPECT_NE(html.find("Skipped by their rules: <code>bn.num_batches_tracked</code>"),
            std::string::npos);
  EXPECT_NE(html.find("<h2>Pooled per rule</h2>"), std::string::npos);
  EXPECT_NE(html.find("pooled_ks D "), std::string::npos);
  // Sections: the failed layers.5.weight, and per rule the one closest to failing: of the
  // weights that is layers.5 itself, of the biases one (exact checks only): 2 in all.
  EXPECT_EQ(count(html, "<section class=\"case"), 2u);
  EXPECT_NE(html.find("id=\"case-5\""), std::string::npos);
  // The failed tensor comes first in the table, and links to its section.
  EXPECT_LT(html.find("#case-5"), html.find("layers.0.weight"));
  const std::string markdown = verinit::reports::to_markdown(r);
  EXPECT_NE(markdown.find("## Tensors"), std::string::npos);
  EXPECT_NE(markdown.find("| ❌ **FAIL** | `head.weight` |"), std::string::npos);
  EXPECT_NE(markdown.find("## Pooled per rule"), std::string::npos);
  EXPECT_EQ(count(markdown, "\n### "), 2u);
}

TEST(ModelReportTest, JunitHasATestcasePerTensor) {
  const auto& r = model_run();
  const std::string xml = verinit::reports::to_junit(r);
  EXPECT_EQ(verinit::test::xml_error(xml), "");
  EXPECT_EQ(count(xml, "<testsuite "), 2u);  // model, pooled
  // 10 cases, 1 unmatched, 1 skipped; 1 pooled rule (the weights: the zero biases have no
  // variance test).
  EXPECT_EQ(count(xml, "<testcase "), 10u + 1 + 1 + r.pooled.size());
  EXPECT_NE(xml.find("<testcase classname=\"verinit.model.layers.*.weight\" "
                     "name=\"layers.5.weight\">\n      <failure message=\"failed: "),
            std::string::npos);
  EXPECT_NE(xml.find("name=\"head.weight\">\n      <failure message=\"no rule matches"),
            std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"skipped by its rule\"/>"), std::string::npos);
  std::size_t failed = 1;  // head.weight
  for (const auto& c : r.cases) failed += !c.passed;
  for (const auto& p : r.pooled) failed += !p.passed;
  EXPECT_EQ(count(xml, "<failure "), failed);
}

class WriteReportTest : public ::testing::Test {
 protected:
  fs::path dir_ = fs::temp_directory_path() / ("verinit_report_test_" + std::to_string(getpid()));
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override { fs::remove_all(dir_); }
};

TEST_F(WriteReportTest, WritesFourFilesAndReplacesAnEarlierReportWhole) {
  const fs::path out = dir_ / "report";
  verinit::reports::write_report(run(), out);
  for (const char* name : {"index.html", "summary.md", "results.json", "junit.xml"})
    EXPECT_TRUE(fs::is_regular_file(out / name)) << name;
  EXPECT_EQ(read(out / "results.json"), verinit::reports::to_json(run()));
  // Re-run with a different result: the whole directory is the new one.
  verinit::verify::run_result other = run();
  other.cases.resize(1);
  other.propagation.reset();
  verinit::verify::decide(other);
  verinit::reports::write_report(other, out);
  EXPECT_EQ(read(out / "index.html"), verinit::reports::to_html(other));
  EXPECT_EQ(read(out / "junit.xml"), verinit::reports::to_junit(other));
  // No temporary directory is left beside it.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(WriteReportTest, WritesTheJsonCopyFromTheSameTextAndNothingWhenTheCopyFails) {
  // What `verinit verify --json out.json --report dir` writes: the results document twice,
  // rendered once, and the report's files as render_report renders them.
  const fs::path out = dir_ / "report";
  verinit::reports::write_report(run(), out, dir_ / "out.json");
  const verinit::reports::report_texts texts = verinit::reports::render_report(run());
  EXPECT_EQ(read(dir_ / "out.json"), texts.json);
  EXPECT_EQ(read(out / "results.json"), texts.json);
  EXPECT_EQ(read(out / "index.html"), texts.html);
  EXPECT_EQ(read(out / "summary.md"), texts.markdown);
  EXPECT_EQ(read(out / "junit.xml"), texts.junit);
  // A copy that cannot be written fails the whole: the report is not replaced, and nothing
  // temporary is left.
  verinit::verify::run_result other = run();
  other.cases.resize(1);
  EXPECT_THROW(verinit::reports::write_report(other, out, dir_ / "missing" / "out.json"),
               std::runtime_error);
  EXPECT_EQ(read(out / "index.html"), texts.html);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 2u);  // report/ and out.json
}

TEST_F(WriteReportTest, RefusesACopyThatIsTheReportDirectoryOrInIt) {
  // `--json out --report out`: the copy would be swapped away by the directory's commit.
  for (const fs::path& copy : {dir_ / "report", dir_ / "report" / "out.json",
                               dir_ / "report" / "." / "x" / ".." / "out.json"}) {
    EXPECT_TRUE(verinit::reports::lies_in_report(dir_ / "report/", copy)) << copy;
    EXPECT_THROW(verinit::reports::write_report(run(), dir_ / "report", copy),
                 std::invalid_argument)
        << copy;
  }
  EXPECT_TRUE(fs::is_empty(dir_));  // nothing written, nothing staged
  EXPECT_FALSE(verinit::reports::lies_in_report(dir_ / "report", dir_ / "report.json"));
  EXPECT_FALSE(verinit::reports::lies_in_report(dir_ / "report", dir_ / "out.json"));
  fs::create_directories(dir_ / "real");
  fs::create_symlink(dir_ / "real", dir_ / "link");
  EXPECT_TRUE(verinit::reports::lies_in_report(dir_ / "link", dir_ / "real" / "out.json"));
}

TEST_F(WriteReportTest, RebuiltFromResultsJsonIsByteIdentical) {
  verinit::reports::write_report(run(), dir_ / "a");
  const auto back = verinit::reports::from_json(read(dir_ / "a" / "results.json"));
  verinit::reports::write_report(back, dir_ / "b");
  for (const char* name : {"index.html", "summary.md", "results.json", "junit.xml"})
    EXPECT_EQ(read(dir_ / "a" / name), read(dir_ / "b" / name)) << name;
}

TEST_F(WriteReportTest, RefusesToReplaceWhatIsNotAReport) {
  const fs::path mine = dir_ / "mine";
  fs::create_directories(mine);
  std::ofstream(mine / "notes.txt") << "precious";
  EXPECT_THROW(verinit::reports::write_report(run(), mine), std::invalid_argument);
  EXPECT_EQ(read(mine / "notes.txt"), "precious");
  std::ofstream(dir_ / "file") << "x";
  EXPECT_THROW(verinit::reports::write_report(run(), dir_ / "file"), std::invalid_argument);
  EXPECT_THROW(verinit::reports::write_report(run(), "/"), std::invalid_argument);
}

TEST_F(WriteReportTest, AnUnwritableParentLeavesNothingBehind) {
  if (geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
  const fs::path locked = dir_ / "locked";
  fs::create_directories(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(verinit::reports::write_report(run(), locked / "report"), std::runtime_error);
  fs::permissions(locked, fs::perms::owner_all);
  EXPECT_TRUE(fs::is_empty(locked));
}

}  // namespace
