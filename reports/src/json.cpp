// The results document, both ways.
#include "verinit/reports/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"
#include "verinit/version.hpp"

namespace verinit::reports {
namespace {

using json = nlohmann::ordered_json;

// JSON has no NaN or infinity: null stands for NaN, "inf" and "-inf" for the infinities.
json number(double value) {
  if (std::isnan(value)) return nullptr;
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// The inverse of number(); nullopt for anything else.
std::optional<double> as_number(const json& v) {
  if (v.is_null()) return NAN;
  if (v.is_number()) return v.get<double>();
  if (v == "inf") return INFINITY;
  if (v == "-inf") return -INFINITY;
  return std::nullopt;
}

json numbers(const std::vector<double>& values) {
  json out = json::array();
  for (double v : values) out.push_back(number(v));
  return out;
}

json summary_json(const verify::sample_summary& s) {
  const verify::sample_moments m = verify::moments_of(s);
  json out = {{"law", s.law},
              {"independent", s.independent},
              {"ks_critical", number(s.ks_critical)},
              {"moments",
               {{"mean", number(m.mean)},
                {"variance", number(m.variance)},
                {"skewness", number(m.skewness)},
                {"kurtosis", number(m.kurtosis)}}},
              {"expected",
               {{"mean", number(s.expected.mean)},
                {"variance", number(s.expected.variance)},
                {"skewness", number(s.expected.skewness)},
                {"kurtosis", number(s.expected.kurtosis)}}},
              {"power_sums",
               {{"centre", number(s.expected.mean)},
                {"n", number(s.sums.n)},
                {"s1", number(s.sums.s1)},
                {"s2", number(s.sums.s2)},
                {"s3", number(s.sums.s3)},
                {"s4", number(s.sums.s4)}}},
              {"histogram",
               {{"low", number(s.low)},
                {"high", number(s.high)},
                {"counts", s.counts},
                {"below", s.below},
                {"above", s.above}}},
              {"density", {{"x", numbers(s.density_x)}, {"pdf", numbers(s.density)}}},
              {"ecdf",
               {{"levels", numbers(s.levels)},
                {"quantiles", numbers(s.quantiles)},
                {"at_or_below", s.at_or_below}}}};
  if (!s.grid.empty())
    out["grid"] = {{"dtype", s.grid},
                   {"distinct", s.distinct},
                   {"expected_distinct", number(s.expected_distinct)},
                   {"atoms",
                    {{"values", numbers(s.atom_values)},
                     {"probabilities", numbers(s.atom_probabilities)},
                     {"counts", s.atom_counts}}}};
  return out;
}

json propagation_json(const verify::propagation_result& p) {
  json cases = json::array();
  for (const auto& c : p.cases)
    cases.push_back({{"label", c.config.label},
                     {"scheme", c.config.scheme},
                     {"activation", verify::to_string(c.config.act)},
                     {"expected", c.config.expected},
                     {"verdict", c.verdict},
                     {"passed", c.passed},
                     {"forward_ratio", number(c.forward_ratio)},
                     {"backward_ratio", number(c.backward_ratio)},
                     {"overflowed", c.overflowed},
                     {"symmetric", c.symmetric},
                     {"forward", numbers(c.forward)},
                     {"backward", numbers(c.backward)},
                     {"saturated", numbers(c.saturated)}});
  return {{"passed", p.passed},
          {"depth", p.options.depth},
          {"width", p.options.width},
          {"batch", p.options.batch},
          {"seeds", p.options.seeds},
          {"seed", p.options.seed},
          {"cases", cases}};
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

json tests_json(const std::vector<verify::test_result>& list) {
  json tests = json::array();
  for (const auto& t : list) {
    json test{{"name", t.name},
              {"statistic", number(t.statistic)},
              {"p_value", number(t.p_value)},
              {"p_adjusted", number(t.adjusted_p_value)},
              {"passed", t.passed},
              {"exact", t.exact},
              {"suspicious", t.suspicious},
              {"note", t.note}};
    if (t.informational) test["informational"] = true;  // only then: older documents lack it
    for (const auto& [key, value] : t.values) test[key] = number(value);
    tests.push_back(std::move(test));
  }
  return tests;
}

json tolerance_json(const verify::tolerance& t) {
  return {{"variance", number(t.variance)}, {"mean", number(t.mean)}, {"ks", number(t.ks)}};
}

verify::tolerance read_tolerance(const reader& r) {
  verify::tolerance t{r.number("variance"), r.number("mean"), r.number("ks")};
  verify::check_tolerance(t, "results JSON: tolerance");
  return t;
}

json detectable_json(double variance_error, double mean_shift) {
  return {{"power", 0.99},
          {"relative_variance_error", number(variance_error)},
          {"mean_shift_sd", number(mean_shift)}};
}

// The document's text exactly as nlohmann's dump(2) writes it (JsonTest checks the two agree
// byte for byte), a few times faster: dump writes through a virtual call per piece, most of
// the time of a model's document (9 MB for efficientnet_v2_s's 672 cases). Doubles go through
// nlohmann::detail::to_chars, the function dump formats them with; strings other than plain
// printable ASCII through dump itself, for its escapes and its UTF-8 checks.
class indented_text {
 public:
  explicit indented_text(std::string& out) : out_(out) {}

  void value(const json& v, int depth) {
    switch (v.type()) {
      case json::value_t::null:
        out_ += "null";
        return;
      case json::value_t::boolean:
        out_ += v.get<bool>() ? "true" : "false";
        return;
      case json::value_t::number_integer:
        integer(v.get<std::int64_t>());
        return;
      case json::value_t::number_unsigned:
        integer(v.get<std::uint64_t>());
        return;
      case json::value_t::number_float:
        floating(v.get<double>());
        return;
      case json::value_t::string:
        string(v.get_ref<const std::string&>());
        return;
      case json::value_t::array:
        if (v.empty()) {
          out_ += "[]";
          return;
        }
        out_ += "[\n";
        for (auto it = v.begin(); it != v.end(); ++it) {
          indent(depth + 1);
          value(*it, depth + 1);
          out_ += std::next(it) == v.end() ? "\n" : ",\n";
        }
        indent(depth);
        out_ += ']';
        return;
      case json::value_t::object:
        if (v.empty()) {
          out_ += "{}";
          return;
        }
        out_ += "{\n";
        for (auto it = v.begin(); it != v.end(); ++it) {
          indent(depth + 1);
          string(it.key());
          out_ += ": ";
          value(it.value(), depth + 1);
          out_ += std::next(it) == v.end() ? "\n" : ",\n";
        }
        indent(depth);
        out_ += '}';
        return;
      default:  // binary and discarded values: never in a results document
        out_ += v.dump();
        return;
    }
  }

 private:
  void indent(int depth) { out_.append(static_cast<std::size_t>(2 * depth), ' '); }

  template <class Integer>
  void integer(Integer i) {
    char text[24];
    const char* const end = std::to_chars(text, text + sizeof text, i).ptr;
    out_.append(text, static_cast<std::size_t>(end - text));
  }

  void floating(double x) {
    if (!std::isfinite(x)) {
      out_ += "null";
      return;
    }
    char text[64];
    const char* const end = nlohmann::detail::to_chars(text, text + sizeof text, x);
    out_.append(text, static_cast<std::size_t>(end - text));
  }

  void string(const std::string& s) {
    for (const char c : s)
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        out_ += json(s).dump();
        return;
      }
    out_ += '"';
    out_ += s;
    out_ += '"';
  }

  std::string& out_;
};

}  // namespace

std::string to_json(const verify::run_result& run) {
  json schemes = json::array();
  json case_timing = json::array();
  for (const auto& c : run.cases) {
    json entry{{"scheme", c.spec.spelling},
               {"canonical", c.canonical()},
               {"law", c.formula},
               {"source", c.source},
               {"shape", c.spec.shape},
               {"layout", to_string(c.spec.tensor_layout)},
               {"dtype", to_string(c.spec.type)},
               {"samples", c.spec.samples},
               {"replications", c.spec.replications},
               {"n", c.n},
               {"passed", c.passed},
               {"tests", tests_json(c.tests)}};
    if (!std::isnan(c.detectable_variance_error))
      entry["detectable"] = detectable_json(c.detectable_variance_error, c.detectable_mean_shift);
    if (!c.tensor.empty()) entry["tensor"] = c.tensor;
    if (!c.rule.empty()) entry["rule"] = c.rule;
    if (!c.origin.empty()) entry["origin"] = c.origin;
    if (!c.samples_shape.empty()) entry["tensor_shape"] = c.samples_shape;
    if (c.tolerance.any()) entry["tolerance"] = tolerance_json(c.tolerance);
    if (!c.diagnosis.empty()) entry["diagnosis"] = c.diagnosis;
    if (c.summary) entry["summary"] = summary_json(*c.summary);
    if (!c.parts.empty()) {
      json parts = json::array();
      for (const auto& p : c.parts) {
        char digest[19];
        std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(p.digest));
        parts.push_back({{"where", p.place.where},
                         {"offset", p.place.offset},
                         {"n", p.n},
                         {"non_finite", p.non_finite},
                         {"digest", digest},
                         {"replica", p.place.replica}});
      }
      entry["parts"] = std::move(parts);
    }
    schemes.push_back(std::move(entry));
    case_timing.push_back({{"sample_s", c.sample_seconds}, {"test_s", c.test_seconds}});
  }
  json document{{"verinit", verinit::version},  {"passed", run.passed},
                {"seed", run.options.seed},     {"alpha", run.options.alpha},
                {"threads", run.threads_used},  {"family_size", run.family_size},
                {"schemes", std::move(schemes)}};
  if (run.propagation) document["propagation"] = propagation_json(*run.propagation);
  if (!run.pooled.empty()) {
    json pooled = json::array();
    for (const auto& p : run.pooled) {
      json entry{
          {"rule", p.rule},
          {"tensors", p.tensors},
          {"n", number(p.n)},
          {"passed", p.passed},
          {"tests", tests_json(p.tests)},
          {"detectable", detectable_json(p.detectable_variance_error, p.detectable_mean_shift)}};
      if (p.tolerance.any()) entry["tolerance"] = tolerance_json(p.tolerance);
      if (!std::isnan(p.detectable_ks_distance))
        entry["detectable"]["ks_distance"] = number(p.detectable_ks_distance);
      pooled.push_back(std::move(entry));
    }
    document["pooled"] = std::move(pooled);
  }
  if (!run.unmatched.empty()) document["unmatched"] = run.unmatched;
  if (!run.skipped.empty()) document["skipped"] = run.skipped;
  if (!run.tied.empty()) {
    json tied = json::object();
    for (const auto& [name, verified] : run.tied) tied[name] = verified;
    document["tied"] = tied;
  }
  if (!run.notes.empty()) document["notes"] = run.notes;
  json timing{{"schemes", std::move(case_timing)}};
  if (run.propagation) timing["propagation_s"] = run.propagation->seconds;
  if (!run.shares.empty()) {
    json shares = json::array();
    for (const auto& share : run.shares)
      shares.push_back(
          {{"units", share.units}, {"bytes", share.bytes}, {"seconds", share.seconds}});
    timing["shares"] = std::move(shares);
  }
  document["timing"] = std::move(timing);
  std::string text;
  text.reserve(run.cases.size() * 16384);
  indented_text(text).value(document, 0);
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
