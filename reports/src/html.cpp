// index.html: one self-contained page.
#include <algorithm>
#include <cmath>
#include <optional>

#include "overview.hpp"
#include "text_buffer.hpp"
#include "verinit/reports/detail/format.hpp"
#include "verinit/reports/detail/svg.hpp"
#include "verinit/reports/report.hpp"
#include "verinit/scheme.hpp"
#include "verinit/verify/summary.hpp"
#include "verinit/verify/theory.hpp"
#include "verinit/version.hpp"

namespace verinit::reports {
namespace {

using detail::escape_xml;
using detail::format_number;
using detail::plot_axis;
using detail::svg_plot;

constexpr const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

constexpr const char* style = R"(
body { font-family: -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto;
       max-width: 1280px; color: #222; line-height: 1.4; padding: 0 16px; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ccc; }
h3 { margin-top: 28px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: bold;
           color: white; }
.pass { background: #2e7d32; } .fail { background: #c62828; }
.banner { font-size: 1.2em; margin: 12px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fde8e8; }
.plots { display: flex; flex-wrap: wrap; gap: 10px; }
.plots svg { border: 1px solid #e2e2e2; }
.note { color: #555; font-size: 0.9em; }
.case { border-left: 4px solid #2e7d32; padding-left: 14px; }
.case.failed { border-left-color: #c62828; }
code { background: #f4f4f4; padding: 0 3px; }
table.overview { width: 100%; }
table.overview code { overflow-wrap: anywhere; }
table.overview td:nth-child(2) { min-width: 12em; }
table.overview td:nth-child(5) { min-width: 8em; }
table.overview td.law { min-width: 10em; max-width: 16em; }
table.overview td.law .note { overflow-wrap: anywhere; font-size: 0.85em; }
table.overview td.diag { min-width: 22em; }
details summary { cursor: pointer; }
footer { margin-top: 40px; color: #666; font-size: 0.85em; }
)";

std::string verdict_badge(bool passed) {
  return passed ? "<span class=\"verdict pass\">PASS</span>"
                : "<span class=\"verdict fail\">FAIL</span>";
}

// The smallest Holm-adjusted p-value with the raw one beside it.
std::string smallest_p(const detail::case_overview& o) {
  if (std::isnan(o.smallest_p)) return "exact checks only";
  return format_number(o.smallest_adjusted_p, 3) + " <span class=\"note\">(raw " +
         format_number(o.smallest_p, 3) + ")</span>";
}

std::string td(const std::string& text, bool number = false) {
  return std::string(number ? "<td class=\"num\">" : "<td>") + text + "</td>";
}

// A law as a reader names it: the distribution with its numbers (the part of the theory's
// formula after its derivation, "N(0, 0.0253^2)"), the whole formula as the cell's tooltip;
// where the rule says where the law comes from (a recorded call and its site), that below it.
std::string law_cell(const std::string& formula, const std::string& origin = {}) {
  const auto colon = formula.rfind(": ");
  const std::string shown = colon == std::string::npos ? formula : formula.substr(colon + 2);
  return "<td class=\"law\" title=\"" + escape_xml(formula) + "\">" + escape_xml(shown) +
         (origin.empty() ? ""
                         : "<br/><span class=\"note\">set by " + escape_xml(origin) + "</span>") +
         "</td>";
}

// A model's overview, for a 1280-pixel window and a model of hundreds of tensors: the failed
// tensors (and the unmatched) each a row, first, with the diagnosis given the room; then the
// passing tensors grouped by law, one row a law with its tensors' names folded.
std::string model_overview(const verify::run_result& run, const std::vector<bool>& sections) {
  std::string s =
      "<table class=\"overview\"><tr><th>Verdict</th><th>Tensor</th><th>Shape</th>"
      "<th>dtype</th><th>Rule</th><th>Law</th><th>n</th><th>Smallest adjusted p</th>"
      "<th>Failed tests; diagnosis</th></tr>\n";
  struct group {
    std::vector<std::size_t> cases;
    std::int64_t n = 0;
    double smallest = 1;
  };
  std::vector<std::pair<std::string, group>> passing;  // by law, in order of first appearance
  for (std::size_t i : detail::failures_first(run)) {
    const auto& c = run.cases[i];
    const detail::case_overview o = detail::overview_of(c);
    const std::string name = "<code>" + escape_xml(c.tensor) + "</code>";
    const std::string link =
        sections[i] ? "<a href=\"#case-" + std::to_string(i) + "\">" + name + "</a>" : name;
    if (c.passed) {
      auto it = std::find_if(passing.begin(), passing.end(),
                             [&](const auto& g) { return g.first == c.formula; });
      if (it == passing.end()) it = passing.insert(passing.end(), {c.formula, group{}});
      it->second.cases.push_back(i);
      it->second.n += c.n;
      if (!std::isnan(o.smallest_adjusted_p))
        it->second.smallest = std::min(it->second.smallest, o.smallest_adjusted_p);
      continue;
    }
    std::string failed = escape_xml(o.failed_tests);
    if (!c.diagnosis.empty()) failed += (failed.empty() ? "" : "; ") + escape_xml(c.diagnosis);
    s += "<tr class=\"failed\">" + td(verdict_badge(false)) + td(link) +
         td(escape_xml(detail::shape_text(c))) + td(std::string(verinit::to_string(c.spec.type))) +
         td("<code>" + escape_xml(c.rule) + "</code>") + law_cell(c.formula, c.origin) +
         td(std::to_string(c.n), true) + td(smallest_p(o), true) + "<td class=\"diag\">" + failed +
         "</td></tr>\n";
  }
  for (const auto& name : run.unmatched)
    s += "<tr class=\"failed\">" + td(verdict_badge(false)) +
         td("<code>" + escape_xml(name) + "</code>") + td("") + td("") + td("") + td("") + td("") +
         td("") + td("no rule matches: not verified") + "</tr>\n";
  s += "</table>\n";
  if (passing.empty()) return s;
  s += "<p class=\"note\">Passing tensors, grouped by law (open a row for their names).</p>\n"
       "<table class=\"overview\"><tr><th>Verdict</th><th>Law</th><th>Tensors</th><th>n</th>"
       "<th>Smallest adjusted p</th></tr>\n";
  for (const auto& [formula, g] : passing) {
    std::string names;
    for (const std::size_t i : g.cases) {
      const std::string name = "<code>" + escape_xml(run.cases[i].tensor) + "</code>";
      names +=
          (names.empty() ? "" : " ") +
          (sections[i] ? "<a href=\"#case-" + std::to_string(i) + "\">" + name + "</a>" : name);
    }
    // Where the group's law comes from: its one origin, or how many calls set it.
    std::vector<std::string> origins;
    for (const std::size_t i : g.cases)
      if (const auto& o = run.cases[i].origin;
          !o.empty() && std::find(origins.begin(), origins.end(), o) == origins.end())
        origins.push_back(o);
    const std::string origin = origins.size() == 1 ? origins[0]
                               : origins.empty()   ? std::string()
                                                   : std::to_string(origins.size()) +
                                                       " calls (each in its tensor's section)";
    s += "<tr>" + td(verdict_badge(true)) + law_cell(formula, origin) +
         td("<details><summary>" + std::to_string(g.cases.size()) + " tensor" +
            (g.cases.size() == 1 ? "" : "s") + "</summary>" + names + "</details>") +
         td(format_number(static_cast<double>(g.n), 6), true) +
         td(format_number(g.smallest, 3), true) + "</tr>\n";
  }
  return s + "</table>\n";
}

// A model's skipped and tied tensors, notes, and the pooled tests per rule.
std::string model_lists(const verify::run_result& run) {
  std::string s;
  const auto names = [](const std::vector<std::string>& list) {
    std::string out;
    for (const auto& n : list)
      out += (out.empty() ? "" : ", ") + ("<code>" + escape_xml(n) + "</code>");
    return out;
  };
  if (!run.skipped.empty())
    s += "<p class=\"note\">Skipped by their rules: " + names(run.skipped) + ".</p>\n";
  if (!run.tied.empty()) {
    s += "<p class=\"note\">Tied (verified once, as the tensor they share storage with):";
    for (const auto& [name, verified] : run.tied)
      s += " <code>" + escape_xml(name) + "</code> = <code>" + escape_xml(verified) + "</code>";
    s += ".</p>\n";
  }
  for (const auto& note : run.notes) s += "<p class=\"note\">" + escape_xml(note) + "</p>\n";
  if (run.pooled.empty()) return s;
  s += "<h2>Pooled per rule</h2>\n<p>The tensors of one rule are independent samples of known "
       "laws: their mean and variance z-tests are pooled by precision, and their "
       "probability-integral transforms into one sample of U(0, 1) (KS, A<sup>2</sup>), so that "
       "an error common to them shows though no tensor shows it alone. Part of the run's Holm "
       "family.</p>\n<table><tr><th>Verdict</th><th>Rule</th><th>Tensors</th><th>n</th>"
       "<th>Tests</th><th>Detectable (99% power; the KS distance for certain)</th></tr>\n";
  for (const auto& p : run.pooled) {
    std::string tests;
    for (const auto& t : p.tests)
      tests += (tests.empty() ? "" : "<br/>") + escape_xml(detail::pooled_test_text(t));
    std::string detectable = escape_xml(detail::pooled_detectable_text(p));
    if (p.tolerance.any())
      detectable += "<br/>tolerance: " + escape_xml(verify::to_string(p.tolerance));
    s += std::string(p.passed ? "<tr>" : "<tr class=\"failed\">") + td(verdict_badge(p.passed)) +
         td("<code>" + escape_xml(p.rule) + "</code>") +
         td(std::to_string(p.tensors.size()), true) + td(format_number(p.n, 6), true) + td(tests) +
         td(detectable) + "</tr>\n";
  }
  return s + "</table>\n";
}

std::string overview(const verify::run_result& run) {
  std::string s =
      "<table class=\"overview\"><tr><th>Verdict</th><th>Scheme</th><th>Tensor</th><th>Law</th>"
      "<th>n</th><th>Smallest adjusted p</th><th>Failed tests</th></tr>\n";
  for (std::size_t i : detail::failures_first(run)) {
    const auto& c = run.cases[i];
    const detail::case_overview o = detail::overview_of(c);
    s += std::string(c.passed ? "<tr>" : "<tr class=\"failed\">") + td(verdict_badge(c.passed)) +
         td("<a href=\"#case-" + std::to_string(i) + "\"><code>" + escape_xml(c.canonical()) +
            "</code></a>") +
         td(escape_xml(detail::tensor_text(c))) + td(escape_xml(c.formula)) +
         td(std::to_string(c.n), true) + td(smallest_p(o), true) + td(escape_xml(o.failed_tests)) +
         "</tr>\n";
  }
  return s + "</table>\n";
}

std::string histogram_plot(const std::string& id, const verify::sample_summary& s) {
  const double n = s.sums.n;
  const auto bins = static_cast<double>(s.counts.size());
  const double width = (s.high - s.low) / bins;
  std::vector<double> edges, heights;
  double top = 0;
  for (std::size_t b = 0; b <= s.counts.size(); ++b) edges.push_back(s.low + width * b);
  for (auto c : s.counts) {
    heights.push_back(static_cast<double>(c) / (n * width));
    top = std::max(top, heights.back());
  }
  double pdf_top = 0;
  for (double d : s.density)
    if (std::isfinite(d)) pdf_top = std::max(pdf_top, d);
  // A density that diverges at a bound (Beta with shape < 1) must not flatten the bars.
  top = std::max(top, std::min(pdf_top, 3 * top)) * 1.12;
  svg_plot plot(id + "-hist", "Histogram and density", {s.low, s.high, false, "x"},
                {0, top > 0 ? top : 1, false, "density"});
  plot.bars(edges, heights, "#1f77b4",
            "samples (" + std::to_string(s.counts.size()) + " bins, all n)");
  plot.line(s.density_x, s.density, "#d62728",
            s.grid.empty() ? "law's pdf" : "law's mass per bin (" + s.grid + " atoms)");
  return plot.str();
}

std::string ecdf_plot(const std::string& id, const verify::sample_summary& s) {
  const double n = s.sums.n;
  std::vector<double> xs, deviation;
  double extent = s.ks_critical > 0 ? s.ks_critical : 0;
  for (std::size_t k = 0; k < s.levels.size(); ++k) {
    if (!std::isfinite(s.quantiles[k])) continue;
    xs.push_back(s.quantiles[k]);
    deviation.push_back(static_cast<double>(s.at_or_below[k]) / n - s.levels[k]);
    extent = std::max(extent, std::abs(deviation.back()));
  }
  extent = extent > 0 ? extent * 1.25 : 1e-3;
  const double low = xs.empty() ? s.low : xs.front(), high = xs.empty() ? s.high : xs.back();
  svg_plot plot(id + "-ecdf", s.grid.empty() ? "ECDF minus CDF" : "ECDF minus step CDF at atoms",
                {low, high, false, "x"}, {-extent, extent, false, "F_n(x) - F(x)"});
  if (s.ks_critical > 0) {
    const std::vector<double> band_x{low, high}, lower(2, -s.ks_critical), upper(2, s.ks_critical);
    plot.band(band_x, lower, upper, "#2ca02c",
              "KS band \u00b1" + format_number(s.ks_critical, 3) + " (outside: FAIL)");
  }
  plot.line({low, high}, {0, 0}, "#777", "", true);
  plot.line(xs, deviation, "#1f77b4", "F_n - F at " + std::to_string(xs.size()) + " levels");
  return plot.str();
}

std::string qq_plot(const std::string& id, const verify::sample_summary& s,
                    const verify::any_law& law) {
  // Point k: the sample quantile x_k (x_k is exceeded by n - at_or_below[k] samples) against
  // the law's quantile at the same probability F_n(x_k).
  const double n = s.sums.n;
  std::vector<double> theory, sample;
  for (std::size_t k = 0; k < s.levels.size(); ++k) {
    const auto c = s.at_or_below[k];
    if (c <= 0 || static_cast<double>(c) >= n || !std::isfinite(s.quantiles[k])) continue;
    theory.push_back(law.quantile(static_cast<double>(c) / n));
    sample.push_back(s.quantiles[k]);
  }
  double low = s.low, high = s.high;
  for (double v : theory)
    if (std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
  svg_plot plot(id + "-qq", "Q-Q against the law", {low, high, false, "law's quantile"},
                {low, high, false, "sample quantile"});
  plot.line({low, high}, {low, high}, "#777", "y = x", true);
  plot.points(theory, sample, "#1f77b4", "samples");
  return plot.str();
}

// A discrete law's atoms around its most probable one: the law's probability of each (a stem) and
// the share of samples on it. A lattice or a missing atom shows as points off their stems.
std::string atoms_plot(const std::string& id, const verify::sample_summary& s) {
  const double n = s.sums.n;
  double top = 0;
  std::vector<double> shares;
  for (std::size_t k = 0; k < s.atom_values.size(); ++k) {
    shares.push_back(static_cast<double>(s.atom_counts[k]) / n);
    top = std::max({top, shares.back(), s.atom_probabilities[k]});
  }
  double low = s.atom_values.front(), high = s.atom_values.back();
  const double pad = high > low ? (high - low) * 0.03 : 0.5;
  svg_plot plot(id + "-atoms", "The grid's most probable atoms",
                {low - pad, high + pad, false, "x"},
                {0, top > 0 ? top * 1.12 : 1, false, "probability"});
  for (std::size_t k = 0; k < s.atom_values.size(); ++k)
    plot.line({s.atom_values[k], s.atom_values[k]}, {0, s.atom_probabilities[k]}, "#d62728",
              k == 0 ? "law's P(x) (" + std::to_string(s.atom_values.size()) + " atoms)" : "");
  plot.points(s.atom_values, shares, "#1f77b4", "share of samples");
  return plot.str();
}

std::string moments_table(const verify::sample_summary& s) {
  const verify::sample_moments m = verify::moments_of(s);
  const auto [ci_low, ci_high] = verify::variance_interval(s);
  const std::string ci =
      std::isfinite(ci_low) && std::isfinite(ci_high)
          ? "[" + format_number(ci_low, 6) + ", " + format_number(ci_high, 6) + "]"
          : "";
  const auto row = [](const std::string& name, double sample, double law,
                      const std::string& extra) {
    return "<tr><td>" + name + "</td>" + td(format_number(sample, 6), true) +
           td(format_number(law, 6), true) + td(extra) + "</tr>\n";
  };
  std::string out =
      "<table><tr><th>Moment</th><th>Sample</th><th>Law</th><th>Note</th></tr>\n"
      "<tr><td>n</td>" +
      td(std::to_string(s.n()), true) + td("") +
      td(s.below + s.above > 0 ? std::to_string(s.below + s.above) + " outside the histogram"
                               : "") +
      "</tr>\n";
  out += row("mean", m.mean, s.expected.mean, "");
  out += row("variance", m.variance, s.expected.variance,
             ci.empty() ? "" : "95% CI (about the law's mean): " + ci);
  out += row("skewness", m.skewness, s.expected.skewness, "");
  out += row("kurtosis", m.kurtosis, s.expected.kurtosis, "not excess");
  return out + "</table>\n";
}

std::string tests_table(const verify::case_result& c) {
  std::string s =
      "<table><tr><th>Test</th><th>Statistic</th><th>p</th><th>Adjusted p</th>"
      "<th>Verdict</th><th>Details</th></tr>\n";
  for (const auto& t : c.tests) {
    std::string details = escape_xml(t.note), values;
    for (const auto& [key, value] : t.values)
      values += (values.empty() ? "" : ", ") + escape_xml(key) + " = " + format_number(value, 6);
    if (!values.empty()) details += "<br/><code>" + values + "</code>";
    s += std::string(t.passed ? "<tr>" : "<tr class=\"failed\">") + td(escape_xml(t.name)) +
         td(format_number(t.statistic, 6), true) +
         td(t.exact ? "exact" : format_number(t.p_value, 3), true) +
         td(t.exact ? "" : format_number(t.adjusted_p_value, 3), true) +
         td(t.informational ? "information"
            : t.passed      ? (t.suspicious ? "ok (suspicious)" : "ok")
                            : "<b>FAIL</b>") +
         td(details) + "</tr>\n";
  }
  return s + "</table>\n";
}

std::string case_section(const verify::case_result& c, std::size_t index) {
  const std::string id = "case-" + std::to_string(index);
  std::string s = "<section class=\"case" + std::string(c.passed ? "" : " failed") + "\" id=\"" +
                  id + "\">\n<h3>" + verdict_badge(c.passed) + " <code>" +
                  escape_xml(c.canonical()) + "</code></h3>\n";
  s += "<p>Tensor " + escape_xml(detail::tensor_text(c)) + ", source " + escape_xml(c.source) +
       ", n = " + std::to_string(c.n) + (c.rule.empty() ? "" : ", rule " + escape_xml(c.rule)) +
       ". Law: " + escape_xml(c.formula) + "." +
       (c.origin.empty() ? "" : " Set by " + escape_xml(c.origin) + ".") + "</p>\n";
  if (c.tolerance.any())
    s += "<p class=\"note\">Tolerance: " + escape_xml(verify::to_string(c.tolerance)) +
         " (equivalence tests).</p>\n";
  if (!c.diagnosis.empty())
    s += "<p class=\"note\">Diagnosis: " + escape_xml(c.diagnosis) + "</p>\n";
  if (!std::isnan(c.detectable_variance_error))
    s += "<p class=\"note\">Detectable with 99% power at this n and the run's alpha: a variance "
         "error of " +
         format_number(100 * c.detectable_variance_error, 3) + "%, a mean shift of " +
         format_number(c.detectable_mean_shift, 3) + " sd.</p>\n";
  if (c.summary) {
    const verify::sample_summary& sum = *c.summary;
    std::optional<verify::any_law> law;
    try {
      law = verify::summary_law_for(
          verify::theory_for(c.spec.scheme, c.spec.shape, c.spec.tensor_layout));
    } catch (const std::exception&) {
      law.reset();  // a document edited by hand: draw what needs no law
    }
    s += "<p class=\"note\">Plotted against " + escape_xml(sum.law) +
         (sum.independent ? "" : " (entries of one matrix are dependent: no KS band)") + ".";
    if (sum.grid.empty()) {
      s += "</p>\n<div class=\"plots\">\n" + histogram_plot(id, sum) + ecdf_plot(id, sum) +
           (law ? qq_plot(id, sum, *law) : "") + "</div>\n";
    } else {
      // A discrete law: its atoms, not a density's quantiles.
      s += " Distinct values: " + std::to_string(sum.distinct) + " seen, " +
           format_number(sum.expected_distinct, 6) + " expected under the law.</p>\n" +
           "<div class=\"plots\">\n" + histogram_plot(id, sum) + ecdf_plot(id, sum) +
           (sum.atom_values.empty() ? "" : atoms_plot(id, sum)) + "</div>\n";
    }
    s += moments_table(sum);
  }
  s += tests_table(c);
  return s + "</section>\n";
}

std::string propagation_section(const verify::propagation_result& p) {
  const auto& o = p.options;
  std::string s =
      "<h2 id=\"propagation\">Signal propagation " + verdict_badge(p.passed) + "</h2>\n";
  s +=
      "<p>What initialization is for: a unit-variance batch of " + std::to_string(o.batch) +
      " goes through a " + std::to_string(o.depth) + "-layer MLP of width " +
      std::to_string(o.width) + " (no bias), weights from verinit's schemes, averaged over " +
      std::to_string(o.seeds) +
      " seeds. Forward: Var(z<sub>l</sub>) of the pre-activations; backward: Var(dL/dz<sub>l</sub>)"
      " for a unit-variance gradient at the top.</p>\n";
  s += "<p><b>Criterion.</b> r = Var(z<sub>" + std::to_string(o.depth) +
       "</sub>) / Var(z<sub>10</sub>): the last layer against the regime the network settles in "
       "after 10 layers. Verdicts, the first that holds: <i>symmetric</i> (every hidden unit "
       "computes the same value), <i>exploding</i> (the pre-activations overflowed float32, or r "
       "&gt; 2), "
       "<i>saturating</i> (tanh with over half the units at |tanh| &gt; 0.99 in the last layer), "
       "<i>vanishing</i> (r &lt; 1/2), else <i>stable</i>. Each configuration passes when its "
       "verdict is the expected one. The gradient ratio Var(dL/dz<sub>1</sub>) / "
       "Var(dL/dz<sub>" +
       std::to_string(o.depth - 9) +
       "</sub>) is shown, not judged: tanh at gain 5/3 lies in the chaotic phase at this "
       "width, where gradients grow about 1.2&#215; a layer (Schoenholz et al., ICLR 2017).</p>\n";
  // Plots: matched pairs and what not to do, forward and backward.
  const auto plot_group = [&](bool matched, bool forward) {
    double low = INFINITY, high = 0;
    for (const auto& c : p.cases) {
      if ((c.config.expected == "stable") != matched) continue;
      for (double v : forward ? c.forward : c.backward)
        if (v > 0 && std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
    }
    if (!(low <= high)) low = 0.1, high = 10;
    low = std::pow(10.0, std::floor(std::log10(low)));
    high = std::pow(10.0, std::ceil(std::log10(high)));
    if (low == high) low /= 10, high *= 10;
    const std::string title =
        std::string(forward ? "Forward: Var(z_l)" : "Backward: Var(dL/dz_l)") +
        (matched ? ", matched pairs" : ", what not to do");
    svg_plot plot(std::string("prop-") + (matched ? "m" : "b") + (forward ? "f" : "g"), title,
                  {1, static_cast<double>(o.depth), false, "layer"},
                  {low, high, true, forward ? "pre-activation variance" : "gradient variance"}, 620,
                  320);
    plot.legend_outside(230);
    std::size_t colour = 0;
    for (std::size_t i = 0; i < p.cases.size(); ++i) {
      const auto& c = p.cases[i];
      if ((c.config.expected == "stable") != matched) continue;
      const auto& values = forward ? c.forward : c.backward;
      std::vector<double> layers;
      for (std::size_t l = 0; l < values.size(); ++l) layers.push_back(static_cast<double>(l + 1));
      plot.line(layers, values, palette[colour++ % 10], c.config.label + " (" + c.verdict + ")");
    }
    return plot.str();
  };
  s += "<div class=\"plots\">\n" + plot_group(true, true) + plot_group(false, true) +
       plot_group(true, false) + plot_group(false, false) + "</div>\n";
  s += "<p class=\"note\">Zero weights give variance 0 at every layer, which a log axis cannot "
       "draw; an overflowing configuration's curve stops where float32 overflowed.</p>\n";
  s += "<table><tr><th>Configuration</th><th>Weights</th><th>Activation</th>"
       "<th>Var(z<sub>1</sub>)</th><th>Var(z<sub>10</sub>)</th><th>Var(z<sub>" +
       std::to_string(o.depth) +
       "</sub>)</th><th>r</th><th>Gradient ratio</th><th>Saturated (last layer)</th>"
       "<th>Units identical</th><th>Verdict</th><th>Expected</th></tr>\n";
  for (const auto& c : p.cases) {
    const auto at = [&](std::size_t l) {
      return l < c.forward.size() ? format_number(c.forward[l], 3) : std::string("overflow");
    };
    s += std::string(c.passed ? "<tr>" : "<tr class=\"failed\">") + td(escape_xml(c.config.label)) +
         td("<code>" + escape_xml(c.config.scheme) + "</code>") +
         td(std::string(verify::to_string(c.config.act))) + td(at(0), true) + td(at(9), true) +
         td(at(static_cast<std::size_t>(o.depth) - 1), true) +
         td(format_number(c.forward_ratio, 3), true) +
         td(format_number(c.backward_ratio, 3), true) +
         td(c.saturated.empty() ? "" : format_number(c.saturated.back(), 3), true) +
         td(c.symmetric ? "yes" : "no") + td(escape_xml(c.verdict)) +
         td(escape_xml(c.config.expected) + " " + verdict_badge(c.passed)) + "</tr>\n";
  }
  return s + "</table>\n";
}

}  // namespace

std::string to_html(const verify::run_result& run) {
  // A case's section with its plots is ~10 KB (efficientnet_v2_s: 7 MB for 672); more is only
  // reserved, not touched.
  std::string s;
  detail::reserve_text(s, 65536 + 16384 * run.cases.size());
  s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
       "<title>verinit verification report</title>\n<style>" +
       std::string(style) + "</style>\n</head>\n<body>\n<h1>verinit verification report</h1>\n";
  s += "<p class=\"banner\">" + verdict_badge(run.passed) + " ";
  if (!run.cases.empty()) s += detail::counts_sentence(run) + ";";
  s += " seed " + std::to_string(run.options.seed) + ", " + std::to_string(run.threads_used) +
       " threads.";
  if (run.propagation)
    s += " Signal propagation: " + std::string(run.propagation->passed ? "PASS" : "FAIL") + ".";
  s += "</p>\n";
  const std::vector<bool> sections = detail::with_section(run);
  if (run.is_model()) {
    s += "<h2>Tensors</h2>\n" + model_overview(run, sections) + model_lists(run);
  } else if (!run.cases.empty()) {
    s += "<h2>Overview</h2>\n" + overview(run);
  }
  if (run.propagation) s += propagation_section(*run.propagation);
  if (!run.cases.empty()) {
    s += run.is_model()
             ? "<h2>Sections</h2>\n<p class=\"note\">Every failed tensor, and per rule the "
               "tensor closest to failing (the smallest adjusted p); every tensor is in the table "
               "above.</p>\n"
             : "<h2>Schemes</h2>\n";
    for (std::size_t i = 0; i < run.cases.size(); ++i)
      if (sections[i]) s += case_section(run.cases[i], i);
  }
  // Timings: the only part that differs between two runs with one seed.
  s += "<footer id=\"timing\"><b>Timing</b>:";
  s += " sampling and tests " + format_number(detail::total_seconds(run), 3) + " s";
  if (run.propagation)
    s += ", signal propagation " + format_number(run.propagation->seconds, 3) + " s";
  s += ". Written by verinit " + std::string(verinit::version) + ".</footer>\n</body>\n</html>\n";
  return s;
}

}  // namespace verinit::reports
