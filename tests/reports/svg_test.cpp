// The SVG plotter, and the XML checker the report tests rely on.
#include "verinit/reports/detail/svg.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "verinit/reports/detail/format.hpp"
#include "xml_check.hpp"

namespace {

using verinit::reports::detail::nice_ticks;
using verinit::reports::detail::svg_plot;
using verinit::test::xml_error;

TEST(XmlCheckTest, AcceptsWellFormedAndNamesWhatIsWrong) {
  EXPECT_EQ(xml_error("<?xml version=\"1.0\"?>\n<a x=\"1\" y='2'><b/>t &amp; &#215;</a>"), "");
  EXPECT_NE(xml_error("<a><b></a></b>"), "");
  EXPECT_NE(xml_error("<a>1 < 2</a>"), "");
  EXPECT_NE(xml_error("<a>AT&T</a>"), "");
  EXPECT_NE(xml_error("<a x=1></a>"), "");
  EXPECT_NE(xml_error("<a x=\"1\" x=\"2\"></a>"), "");
  EXPECT_NE(xml_error("<a></a><b></b>"), "");
  EXPECT_NE(xml_error("<a>"), "");
  EXPECT_NE(xml_error("<a title=\"x<y\"/>"), "");
}

TEST(NiceTicksTest, RoundStepsInsideTheRange) {
  EXPECT_EQ(nice_ticks(0, 1, 5, false), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  const auto t = nice_ticks(-0.23, 0.23, 5, false);
  EXPECT_EQ(t, (std::vector<double>{-0.2, -0.1, 0, 0.1, 0.2}));
  EXPECT_EQ(nice_ticks(1e-3, 1e3, 7, true),
            (std::vector<double>{1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3}));
  EXPECT_EQ(nice_ticks(1e-80, 1e40, 5, true).size(), 5u);  // every 10^30: a readable count
  EXPECT_TRUE(nice_ticks(1, 1, 5, false).empty());
  EXPECT_TRUE(nice_ticks(NAN, 1, 5, false).empty());
}

TEST(SvgPlotTest, WellFormedWithEveryElementAndHostileText) {
  svg_plot plot("p<1>", "A & B <title>", {-1, 1, false, "x \"quoted\""}, {1e-3, 1e3, true, "y"});
  plot.bars({-1, 0, 1}, {1, 10}, "#1f77b4", "bars & more");
  plot.line({-1, 0, NAN, 1}, {1, 2, 3, INFINITY}, "#d62728", "line", true);
  plot.band({-1, 1}, {0.1, 0.1}, {10, 10}, "#2ca02c", "band");
  plot.points({-0.5, 0.5}, {0, 5}, "#000", "points");  // 0 cannot show on a log axis
  plot.legend_outside(120);
  const std::string svg = plot.str();
  EXPECT_EQ(xml_error(svg), "");
  EXPECT_NE(svg.find("A &amp; B &lt;title&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
}

TEST(SvgPlotTest, DegenerateRangesStillDraw) {
  svg_plot plot("d", "flat", {0, 0, false, "x"}, {0, 0, true, "y"});
  plot.line({0, 0}, {1, 1}, "#000", "");
  const std::string svg = plot.str();
  EXPECT_EQ(xml_error(svg), "");
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(FormatTest, NumbersAndEscapes) {
  using verinit::reports::detail::escape_xml;
  using verinit::reports::detail::format_number;
  EXPECT_EQ(format_number(0.000304391234, 6), "0.000304391");
  EXPECT_EQ(format_number(NAN), "NaN");
  EXPECT_EQ(format_number(-INFINITY), "-inf");
  EXPECT_EQ(escape_xml("<a href='x'>&\"</a>"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;");
}

TEST(FormatTest, FixedTwoDecimalsAreWhatPrintfWrites) {
  // std::to_chars in place of snprintf("%.2f"): the same text, exact halves (rounded to even
  // on the binary value), signed zeros, the extremes and 10^5 random magnitudes included.
  using verinit::reports::detail::format_fixed2;
  std::vector<double> values{0.125,      0.375,    2.675,        1.005, -0.005, 0.0,
                             -0.0,       -0.001,   1e15 + 0.125, 1e300, -1e300, 4.9e-324,
                             123456.785, INFINITY, -INFINITY,    NAN};
  std::mt19937_64 engine(20261207);
  std::uniform_real_distribution<double> exponent(-8, 8), unit(-1, 1);
  for (int i = 0; i < 100'000; ++i)
    values.push_back(unit(engine) * std::pow(10.0, exponent(engine)));
  for (int k = -2000; k <= 2000; ++k) values.push_back(k / 8.0);  // exact ties at 3 decimals
  for (const double v : values) {
    char expected[400];
    std::snprintf(expected, sizeof expected, "%.2f", v);
    ASSERT_EQ(format_fixed2(v), expected) << v;
  }
}

}  // namespace
