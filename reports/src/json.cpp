// The results document, both ways.
#include "verinit/reports/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "text_buffer.hpp"
#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"
#include "verinit/version.hpp"

namespace verinit::reports {
namespace {

using json = nlohmann::ordered_json;

// The inverse of json_text::number (NaN written as null, the infinities as "inf" and "-inf");
// nullopt for anything else.
std::optional<double> as_number(const json& v) {
  if (v.is_null()) return NAN;
  if (v.is_number()) return v.get<double>();
  if (v == "inf") return INFINITY;
  if (v == "-inf") return -INFINITY;
  return std::nullopt;
}

// The document's text exactly as nlohmann's dump(2) writes the same document (JsonTest checks
// this byte for byte), written as it goes: no DOM. A model's document holds a million numbers
// (9 MB for efficientnet_v2_s's 672 cases); building them into nlohmann's tree first, then
// walking it, cost more than writing them, mostly in fresh memory for the tree. Doubles go
// through nlohmann::detail::to_chars, the function dump formats them with; strings other than
// plain printable ASCII through dump itself, for its escapes and its UTF-8 checks.
class json_text {
 public:
  explicit json_text(std::string& out) : out_(out) {}

  // Containers: a value (an array's element or a member's, after key()) that holds others.
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  // An object's next member: its key; its value follows.
  json_text& key(std::string_view name) {
    separate();
    string(name);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }

  // Scalars, as dump writes them.
  void null() { literal("null"); }
  void boolean(bool b) { literal(b ? "true" : "false"); }
  template <class Integer>
  requires std::is_integral_v<Integer>
  void integer(Integer i) {
    before_value();
    char text[24];
    const char* const end = std::to_chars(text, text + sizeof text, i).ptr;
    out_.append(text, static_cast<std::size_t>(end - text));
  }
  // A double as dump writes it: non-finite as null.
  void floating(double x) {
    if (!std::isfinite(x)) return null();
    before_value();
    char text[64];
    const char* const end = nlohmann::detail::to_chars(text, text + sizeof text, x);
    out_.append(text, static_cast<std::size_t>(end - text));
  }
  // A number of the results format: NaN as null, the infinities as "inf" and "-inf".
  void number(double x) {
    if (std::isinf(x)) return text(x > 0 ? "inf" : "-inf");
    floating(x);
  }
  void text(std::string_view s) {
    before_value();
    string(s);
  }

  // Arrays of one kind.
  void numbers(const std::vector<double>& values) {
    begin_array();
    for (const double v : values) number(v);
    end_array();
  }
  void integers(const std::vector<std::int64_t>& values) {
    begin_array();
    for (const std::int64_t v : values) integer(v);
    end_array();
  }
  void texts(const std::vector<std::string>& values) {
    begin_array();
    for (const std::string& v : values) text(v);
    end_array();
  }

 private:
  // Before a member's key or an array's element: the separator and the indentation.
  void separate() {
    out_ += open_.back() == 0 ? "\n" : ",\n";
    ++open_.back();
    out_.append(2 * open_.size(), ' ');
  }
  void before_value() {
    if (after_key_)
      after_key_ = false;
    else if (!open_.empty())
      separate();
  }
  void literal(std::string_view word) {
    before_value();
    out_ += word;
  }
  void open(char bracket) {
    before_value();
    out_ += bracket;
    open_.push_back(0);
  }
  void close(char bracket) {
    const std::size_t count = open_.back();
    open_.pop_back();
    if (count != 0) {  // else "{}" or "[]", as dump writes an empty container
      out_ += '\n';
      out_.append(2 * open_.size(), ' ');
    }
    out_ += bracket;
  }
  void string(std::string_view s) {
    for (const char c : s)
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        out_ += json(std::string(s)).dump();
        return;
      }
    out_ += '"';
    out_ += s;
    out_ += '"';
  }

  std::string& out_;
  std::vector<std::size_t> open_;  // the open containers' element counts
  bool after_key_ = false;
};

// Mean, variance, skewness and kurtosis: the sample's (verify::sample_moments) or the law's
// (law_moments), one object.
template <class Moments>
void write_moments(json_text& out, const Moments& m) {
  out.begin_object();
  out.key("mean").number(m.mean);
  out.key("variance").number(m.variance);
  out.key("skewness").number(m.skewness);
  out.key("kurtosis").number(m.kurtosis);
  out.end_object();
}

// Named pairs with each name once, as successive assignments to a JSON object leave them: a
// name's first place, its last value.
template <class Pairs>
auto assigned_once(const Pairs& pairs) {
  using value = std::remove_cvref_t<decltype(pairs.begin()->second)>;
  std::vector<std::pair<std::string_view, value>> once;
  for (const auto& pair : pairs) {
    const auto same = std::find_if(once.begin(), once.end(),
                                   [&](const auto& o) { return o.first == pair.first; });
    if (same != once.end())
      same->second = pair.second;
    else
      once.emplace_back(pair.first, pair.second);
  }
  return once;
}

void write_summary(json_text& out, const verify::sample_summary& s) {
  out.begin_object();
  out.key("law").text(s.law);
  out.key("independent").boolean(s.independent);
  out.key("ks_critical").number(s.ks_critical);
  out.key("moments");
  write_moments(out, verify::moments_of(s));
  out.key("expected");
  write_moments(out, s.expected);
  out.key("power_sums").begin_object();
  out.key("centre").number(s.expected.mean);
  out.key("n").number(s.sums.n);
  out.key("s1").number(s.sums.s1);
  out.key("s2").number(s.sums.s2);
  out.key("s3").number(s.sums.s3);
  out.key("s4").number(s.sums.s4);
  out.end_object();
  out.key("histogram").begin_object();
  out.key("low").number(s.low);
  out.key("high").number(s.high);
  out.key("counts").integers(s.counts);
  out.key("below").integer(s.below);
  out.key("above").integer(s.above);
  out.end_object();
  out.key("density").begin_object();
  out.key("x").numbers(s.density_x);
  out.key("pdf").numbers(s.density);
  out.end_object();
  out.key("ecdf").begin_object();
  out.key("levels").numbers(s.levels);
  out.key("quantiles").numbers(s.quantiles);
  out.key("at_or_below").integers(s.at_or_below);
  out.end_object();
  if (!s.grid.empty()) {
    out.key("grid").begin_object();
    out.key("dtype").text(s.grid);
    out.key("distinct").integer(s.distinct);
    out.key("expected_distinct").number(s.expected_distinct);
    out.key("atoms").begin_object();
    out.key("values").numbers(s.atom_values);
    out.key("probabilities").numbers(s.atom_probabilities);
    out.key("counts").integers(s.atom_counts);
    out.end_object();
    out.end_object();
  }
  out.end_object();
}

void write_propagation(json_text& out, const verify::propagation_result& p) {
  out.begin_object();
  out.key("passed").boolean(p.passed);
  out.key("depth").integer(p.options.depth);
  out.key("width").integer(p.options.width);
  out.key("batch").integer(p.options.batch);
  out.key("seeds").integer(p.options.seeds);
  out.key("seed").integer(p.options.seed);
  out.key("cases").begin_array();
  for (const auto& c : p.cases) {
    out.begin_object();
    out.key("label").text(c.config.label);
    out.key("scheme").text(c.config.scheme);
    out.key("activation").text(verify::to_string(c.config.act));
    out.key("expected").text(c.config.expected);
    out.key("verdict").text(c.verdict);
    out.key("passed").boolean(c.passed);
    out.key("forward_ratio").number(c.forward_ratio);
    out.key("backward_ratio").number(c.backward_ratio);
    out.key("overflowed").boolean(c.overflowed);
    out.key("symmetric").boolean(c.symmetric);
    out.key("forward").numbers(c.forward);
    out.key("backward").numbers(c.backward);
    out.key("saturated").numbers(c.saturated);
    out.end_object();
  }
  out.end_array();
  out.end_object();
}

// Reading: every access names the field it wanted.
class reader {
 public:
  reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw std::invalid_argument("results JSON: field '" + path_ + key + "' is " +
                                (j_.contains(key) ? "of the wrong type" : "missing") +
                                ", expected " + expected);
  }
  const json& at(const std::string& key, json::value_t type, const std::string& expected) const {
    if (!j_.is_object() || !j_.contains(key)) fail(key, expected);
    const json& v = j_.at(key);
    const bool ok = type == json::value_t::number_float      ? v.is_number()
                    : type == json::value_t::number_unsigned ? v.is_number_integer()
                                                             : v.type() == type;
    if (!ok) fail(key, expected);
    return v;
  }
  bool has(const std::string& key) const { return j_.is_object() && j_.contains(key); }
  double number(const std::string& key) const {
    if (!has(key)) fail(key, "a number");
    const auto value = as_number(j_.at(key));
    if (!value) fail(key, "a number");
    return *value;
  }
  std::int64_t integer(const std::string& key) const {
    return at(key, json::value_t::number_unsigned, "an integer").get<std::int64_t>();
  }
  std::uint64_t seed(const std::string& key) const {
    const json& v = at(key, json::value_t::number_unsigned, "a non-negative integer");
    if (!v.is_number_unsigned() && v.get<std::int64_t>() < 0) fail(key, "a non-negative integer");
    return v.get<std::uint64_t>();
  }
  bool boolean(const std::string& key) const {
    return at(key, json::value_t::boolean, "true or false").get<bool>();
  }
  std::string string(const std::string& key) const {
    return at(key, json::value_t::string, "a string").get<std::string>();
  }
  reader object(const std::string& key) const {
    return {at(key, json::value_t::object, "an object"), path_ + key + "."};
  }
  std::vector<reader> array(const std::string& key) const {
    std::vector<reader> out;
    const json& a = at(key, json::value_t::array, "an array");
    for (std::size_t i = 0; i < a.size(); ++i)
      out.emplace_back(a[i], path_ + key + "[" + std::to_string(i) + "].");
    return out;
  }
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> out;
    for (const json& v : at(key, json::value_t::array, "an array of numbers")) {
      const auto value = as_number(v);
      if (!value) fail(key, "an array of numbers");
      out.push_back(*value);
    }
    return out;
  }
  std::vector<std::int64_t> integers(const std::string& key) const {
    std::vector<std::int64_t> out;
    for (const json& v : at(key, json::value_t::array, "an array of integers")) {
      if (!v.is_number_integer()) fail(key, "an array of integers");
      out.push_back(v.get<std::int64_t>());
    }
    return out;
  }
  const json& raw() const { return j_; }

 private:
  const json& j_;
  std::string path_;
};

constexpr const char* test_keys[] = {"name",  "statistic",     "p_value",    "p_adjusted", "passed",
                                     "exact", "informational", "suspicious", "note"};

verify::sample_summary read_summary(const reader& r) {
  verify::sample_summary s;
  s.law = r.string("law");
  s.independent = r.boolean("independent");
  s.ks_critical = r.number("ks_critical");
  const reader e = r.object("expected");
  s.expected = {e.number("mean"), e.number("variance"), e.number("kurtosis"), e.number("skewness")};
  const reader p = r.object("power_sums");
  if (p.number("centre") != s.expected.mean && !std::isnan(s.expected.mean))
    throw std::invalid_argument("results JSON: a summary's power_sums.centre is not its mean");
  s.sums = {p.number("n"), p.number("s1"), p.number("s2"), p.number("s3"), p.number("s4")};
  const reader h = r.object("histogram");
  s.low = h.number("low");
  s.high = h.number("high");
  s.counts = h.integers("counts");
  s.below = h.integer("below");
  s.above = h.integer("above");
  const reader d = r.object("density");
  s.density_x = d.numbers("x");
  s.density = d.numbers("pdf");
  const reader c = r.object("ecdf");
  s.levels = c.numbers("levels");
  s.quantiles = c.numbers("quantiles");
  s.at_or_below = c.integers("at_or_below");
  if (r.has("grid")) {
    const reader g = r.object("grid");
    s.grid = g.string("dtype");
    s.distinct = g.integer("distinct");
    s.expected_distinct = g.number("expected_distinct");
    const reader a = g.object("atoms");
    s.atom_values = a.numbers("values");
    s.atom_probabilities = a.numbers("probabilities");
    s.atom_counts = a.integers("counts");
  }
  if (s.density_x.size() != s.density.size() || s.levels.size() != s.quantiles.size() ||
      s.levels.size() != s.at_or_below.size() || s.counts.empty() ||
      s.atom_values.size() != s.atom_probabilities.size() ||
      s.atom_values.size() != s.atom_counts.size())
    throw std::invalid_argument("results JSON: a summary's arrays differ in length");
  return s;
}

verify::propagation_result read_propagation(const reader& r) {
  verify::propagation_result p;
  p.passed = r.boolean("passed");
  p.options.depth = static_cast<int>(r.integer("depth"));
  p.options.width = static_cast<int>(r.integer("width"));
  p.options.batch = static_cast<int>(r.integer("batch"));
  p.options.seeds = static_cast<int>(r.integer("seeds"));
  p.options.seed = r.seed("seed");
  for (const reader& c : r.array("cases")) {
    verify::propagation_case out;
    out.config = {c.string("label"), c.string("scheme"),
                  verify::parse_activation(c.string("activation")), c.string("expected")};
    out.verdict = c.string("verdict");
    out.passed = c.boolean("passed");
    out.forward_ratio = c.number("forward_ratio");
    out.backward_ratio = c.number("backward_ratio");
    out.overflowed = c.boolean("overflowed");
    out.symmetric = c.boolean("symmetric");
    out.forward = c.numbers("forward");
    out.backward = c.numbers("backward");
    out.saturated = c.numbers("saturated");
    p.cases.push_back(std::move(out));
  }
  return p;
}

void write_tests(json_text& out, const std::vector<verify::test_result>& list) {
  out.begin_array();
  for (const auto& t : list) {
    // A value named like a field, or twice, replaces it where it stands (as a JSON object's
    // assignment does); the others follow the fields, in order.
    auto values = assigned_once(t.values);
    const auto field = [&](std::string_view name, const auto& write) {
      const auto given = std::find_if(values.begin(), values.end(),
                                      [&](const auto& v) { return v.first == name; });
      out.key(name);
      if (given == values.end()) return write();
      out.number(given->second);
      values.erase(given);
    };
    out.begin_object();
    field("name", [&] { out.text(t.name); });
    field("statistic", [&] { out.number(t.statistic); });
    field("p_value", [&] { out.number(t.p_value); });
    field("p_adjusted", [&] { out.number(t.adjusted_p_value); });
    field("passed", [&] { out.boolean(t.passed); });
    field("exact", [&] { out.boolean(t.exact); });
    field("suspicious", [&] { out.boolean(t.suspicious); });
    field("note", [&] { out.text(t.note); });
    if (t.informational) field("informational", [&] { out.boolean(true); });  // older lack it
    for (const auto& [key, value] : values) out.key(key).number(value);
    out.end_object();
  }
  out.end_array();
}

void write_tolerance(json_text& out, const verify::tolerance& t) {
  out.begin_object();
  out.key("variance").number(t.variance);
  out.key("mean").number(t.mean);
  out.key("ks").number(t.ks);
  out.end_object();
}

verify::tolerance read_tolerance(const reader& r) {
  verify::tolerance t{r.number("variance"), r.number("mean"), r.number("ks")};
  verify::check_tolerance(t, "results JSON: tolerance");
  return t;
}

// The detectable effects; ks_distance only where not NaN.
void write_detectable(json_text& out, double variance_error, double mean_shift,
                      double ks_distance = NAN) {
  out.begin_object();
  out.key("power").floating(0.99);
  out.key("relative_variance_error").number(variance_error);
  out.key("mean_shift_sd").number(mean_shift);
  if (!std::isnan(ks_distance)) out.key("ks_distance").number(ks_distance);
  out.end_object();
}

}  // namespace

std::string to_json(const verify::run_result& run) {
  std::string text;
  detail::reserve_text(text, 65536 + run.cases.size() * 16384);
  json_text out(text);
  out.begin_object();
  out.key("verinit").text(verinit::version);
  out.key("passed").boolean(run.passed);
  out.key("seed").integer(run.options.seed);
  out.key("alpha").floating(run.options.alpha);
  out.key("threads").integer(run.threads_used);
  out.key("family_size").integer(run.family_size);
  out.key("schemes").begin_array();
  for (const auto& c : run.cases) {
    out.begin_object();
    out.key("scheme").text(c.spec.spelling);
    out.key("canonical").text(c.canonical());
    out.key("law").text(c.formula);
    out.key("source").text(c.source);
    out.key("shape").integers(c.spec.shape);
    out.key("layout").text(to_string(c.spec.tensor_layout));
    out.key("dtype").text(to_string(c.spec.type));
    out.key("samples").integer(c.spec.samples);
    out.key("replications").integer(c.spec.replications);
    out.key("n").integer(c.n);
    out.key("passed").boolean(c.passed);
    out.key("tests");
    write_tests(out, c.tests);
    if (!std::isnan(c.detectable_variance_error)) {
      out.key("detectable");
      write_detectable(out, c.detectable_variance_error, c.detectable_mean_shift);
    }
    if (!c.tensor.empty()) out.key("tensor").text(c.tensor);
    if (!c.rule.empty()) out.key("rule").text(c.rule);
    if (!c.origin.empty()) out.key("origin").text(c.origin);
    if (!c.samples_shape.empty()) out.key("tensor_shape").integers(c.samples_shape);
    if (c.tolerance.any()) {
      out.key("tolerance");
      write_tolerance(out, c.tolerance);
    }
    if (!c.diagnosis.empty()) out.key("diagnosis").text(c.diagnosis);
    if (c.summary) {
      out.key("summary");
      write_summary(out, *c.summary);
    }
    if (!c.parts.empty()) {
      out.key("parts").begin_array();
      for (const auto& p : c.parts) {
        char digest[19];
        std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(p.digest));
        out.begin_object();
        out.key("where").text(p.place.where);
        out.key("offset").integers(p.place.offset);
        out.key("n").integer(p.n);
        out.key("non_finite").integer(p.non_finite);
        out.key("digest").text(digest);
        out.key("replica").boolean(p.place.replica);
        out.end_object();
      }
      out.end_array();
    }
    out.end_object();
  }
  out.end_array();
  if (run.propagation) {
    out.key("propagation");
    write_propagation(out, *run.propagation);
  }
  if (!run.pooled.empty()) {
    out.key("pooled").begin_array();
    for (const auto& p : run.pooled) {
      out.begin_object();
      out.key("rule").text(p.rule);
      out.key("tensors").texts(p.tensors);
      out.key("n").number(p.n);
      out.key("passed").boolean(p.passed);
      out.key("tests");
      write_tests(out, p.tests);
      out.key("detectable");
      write_detectable(out, p.detectable_variance_error, p.detectable_mean_shift,
                       p.detectable_ks_distance);
      if (p.tolerance.any()) {
        out.key("tolerance");
        write_tolerance(out, p.tolerance);
      }
      out.end_object();
    }
    out.end_array();
  }
  if (!run.unmatched.empty()) out.key("unmatched").texts(run.unmatched);
  if (!run.skipped.empty()) out.key("skipped").texts(run.skipped);
  if (!run.tied.empty()) {
    out.key("tied").begin_object();
    for (const auto& [name, verified] : assigned_once(run.tied)) out.key(name).text(verified);
    out.end_object();
  }
  if (!run.notes.empty()) out.key("notes").texts(run.notes);
  out.key("timing").begin_object();
  out.key("schemes").begin_array();
  for (const auto& c : run.cases) {
    out.begin_object();
    out.key("sample_s").floating(c.sample_seconds);
    out.key("test_s").floating(c.test_seconds);
    out.end_object();
  }
  out.end_array();
  if (run.propagation) out.key("propagation_s").floating(run.propagation->seconds);
  if (!run.shares.empty()) {
    out.key("shares").begin_array();
    for (const auto& share : run.shares) {
      out.begin_object();
      out.key("units").integer(share.units);
      out.key("bytes").integer(share.bytes);
      out.key("seconds").floating(share.seconds);
      out.end_object();
    }
    out.end_array();
  }
  out.end_object();
  out.end_object();
  text += '\n';
  return text;
}

namespace {

std::vector<verify::test_result> read_tests(const reader& r) {
  std::vector<verify::test_result> tests;
  for (const reader& t : r.array("tests")) {
    verify::test_result out;
    out.name = t.string("name");
    out.statistic = t.number("statistic");
    out.p_value = t.number("p_value");
    out.adjusted_p_value = t.number("p_adjusted");
    out.passed = t.boolean("passed");
    out.exact = t.boolean("exact");
    out.informational = t.has("informational") && t.boolean("informational");
    out.suspicious = t.boolean("suspicious");
    out.note = t.string("note");
    for (const auto& [key, value] : t.raw().items()) {
      bool known = false;
      for (const char* k : test_keys) known = known || key == k;
      if (!known) out.values.emplace_back(key, t.number(key));
    }
    tests.push_back(std::move(out));
  }
  return tests;
}

}  // namespace

verify::run_result from_json(std::string_view text) {
  json document;
  try {
    document = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& error) {
    throw std::invalid_argument("results JSON: not JSON (byte " + std::to_string(error.byte) + ")");
  } catch (const json::exception& error) {
    // Other parse failures: a number beyond double's range (out_of_range 406), found by
    // results_fuzz; nlohmann's message names the number.
    throw std::invalid_argument(std::string("results JSON: ") + error.what());
  }
  const reader r(document, "");
  if (!document.is_object())
    throw std::invalid_argument("results JSON: the document is not an object");
  verify::run_result run;
  run.passed = r.boolean("passed");
  run.options.seed = r.seed("seed");
  run.options.alpha = r.number("alpha");
  run.options.summaries = true;
  run.threads_used = static_cast<int>(r.integer("threads"));
  run.family_size = static_cast<std::size_t>(r.integer("family_size"));
  const reader timing = r.object("timing");
  const std::vector<reader> times = timing.array("schemes");
  const std::vector<reader> schemes = r.array("schemes");
  if (times.size() != schemes.size())
    throw std::invalid_argument("results JSON: 'timing.schemes' and 'schemes' differ in length");
  for (std::size_t i = 0; i < schemes.size(); ++i) {
    const reader& s = schemes[i];
    verify::case_result c;
    c.spec.spelling = s.string("scheme");
    const auto shape_of = [&](const char* key) {
      verinit::tensor_shape shape;
      for (const json& d : s.at(key, json::value_t::array, "an array of integers")) {
        if (!d.is_number_integer()) s.fail(key, "an array of integers");
        shape.push_back(d.get<std::int64_t>());
      }
      return shape;
    };
    c.spec.shape = shape_of("shape");
    if (s.has("tensor_shape")) c.samples_shape = shape_of("tensor_shape");
    c.spec.tensor_layout = parse_layout(s.string("layout"));
    c.spec.type = parse_dtype(s.string("dtype"));
    c.spec.samples = s.integer("samples");
    c.spec.replications = s.integer("replications");
    try {
      c.spec.scheme = parse_scheme(s.string("canonical"));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("results JSON: field '" + std::string("schemes[") +
                                  std::to_string(i) +
                                  "].canonical' is not a scheme: " + error.what());
    }
    c.formula = s.string("law");
    c.source = s.string("source");
    if (s.has("tensor")) c.tensor = s.string("tensor");
    if (s.has("rule")) c.rule = s.string("rule");
    if (s.has("origin")) c.origin = s.string("origin");
    if (s.has("tolerance")) c.tolerance = read_tolerance(s.object("tolerance"));
    if (s.has("diagnosis")) c.diagnosis = s.string("diagnosis");
    c.n = s.integer("n");
    c.passed = s.boolean("passed");
    c.tests = read_tests(s);
    if (s.has("detectable")) {
      const reader d = s.object("detectable");
      c.detectable_variance_error = d.number("relative_variance_error");
      c.detectable_mean_shift = d.number("mean_shift_sd");
    }
    if (s.has("summary")) c.summary = read_summary(s.object("summary"));
    if (s.has("parts"))
      for (const reader& p : s.array("parts")) {
        verify::part_digest row;
        row.place.where = p.string("where");
        for (const json& o : p.at("offset", json::value_t::array, "an array of integers")) {
          if (!o.is_number_integer()) p.fail("offset", "an array of integers");
          row.place.offset.push_back(o.get<std::int64_t>());
        }
        row.n = p.integer("n");
        row.non_finite = p.integer("non_finite");
        const std::string digest = p.string("digest");
        if (digest.size() != 16 ||
            digest.find_first_not_of("0123456789abcdef") != std::string::npos)
          p.fail("digest", "16 hexadecimal digits");
        row.digest = std::stoull(digest, nullptr, 16);
        row.place.replica = p.boolean("replica");
        c.parts.push_back(std::move(row));
      }
    c.sample_seconds = times[i].number("sample_s");
    c.test_seconds = times[i].number("test_s");
    run.cases.push_back(std::move(c));
  }
  if (timing.has("shares"))
    for (const reader& share : timing.array("shares"))
      run.shares.push_back({static_cast<std::size_t>(share.integer("units")),
                            static_cast<std::size_t>(share.integer("bytes")),
                            share.number("seconds")});
  if (r.has("propagation")) {
    run.propagation = read_propagation(r.object("propagation"));
    run.propagation->seconds = timing.number("propagation_s");
  }
  const auto strings = [&](const char* key) {
    std::vector<std::string> out;
    if (!r.has(key)) return out;
    if (!r.raw().at(key).is_array())
      throw std::invalid_argument(std::string("results JSON: ") + key + " must be an array");
    for (const json& v : r.raw().at(key)) {
      if (!v.is_string())
        throw std::invalid_argument(std::string("results JSON: ") + key +
                                    " must be an array of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  };
  if (r.has("pooled")) {
    for (const reader& p : r.array("pooled")) {
      verify::pooled_result out;
      out.rule = p.string("rule");
      for (const json& v : p.at("tensors", json::value_t::array, "an array of strings")) {
        if (!v.is_string())
          throw std::invalid_argument("results JSON: pooled tensors must be strings");
        out.tensors.push_back(v.get<std::string>());
      }
      if (p.has("tolerance")) out.tolerance = read_tolerance(p.object("tolerance"));
      out.n = p.number("n");
      out.passed = p.boolean("passed");
      out.tests = read_tests(p);
      const reader d = p.object("detectable");
      out.detectable_variance_error = d.number("relative_variance_error");
      out.detectable_mean_shift = d.number("mean_shift_sd");
      if (d.has("ks_distance")) out.detectable_ks_distance = d.number("ks_distance");
      run.pooled.push_back(std::move(out));
    }
  }
  run.unmatched = strings("unmatched");
  run.skipped = strings("skipped");
  run.notes = strings("notes");
  if (r.has("tied")) {
    const reader tied = r.object("tied");
    for (const auto& [name, verified] : tied.raw().items()) {
      if (!verified.is_string())
        throw std::invalid_argument("results JSON: tied." + name + " must be a string");
      run.tied.emplace_back(name, verified.get<std::string>());
    }
  }
  return run;
}

}  // namespace verinit::reports
