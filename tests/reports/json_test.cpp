// The results document: exact round trip, timing in one place, and clear errors.
#include "verinit/reports/json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sample_run.hpp"

namespace {

using verinit::reports::from_json;
using verinit::reports::to_json;

const verinit::verify::run_result& run() {
  static const verinit::verify::run_result r = verinit::test::sample_run();
  return r;
}

TEST(JsonTest, RoundTripIsExact) {
  const std::string text = to_json(run());
  const verinit::verify::run_result back = from_json(text);
  EXPECT_EQ(to_json(back), text);
  ASSERT_EQ(back.cases.size(), run().cases.size());
  EXPECT_EQ(back.cases[0].summary->counts, run().cases[0].summary->counts);
  EXPECT_EQ(back.cases[0].tests[1].p_value, run().cases[0].tests[1].p_value);  // bitwise
  EXPECT_TRUE(std::isnan(back.cases[3].detectable_variance_error));            // eye: none
}

TEST(JsonTest, TheTextIsNlohmannsIndentedDumpByteForByte) {
  // to_json writes the document itself (not through nlohmann's dump, for speed): its text is
  // dump(2)'s exactly, escapes, UTF-8, signed zeros, NaN (null), extreme and integral doubles,
  // empty containers and large integers included.
  verinit::verify::run_result tricky = run();
  tricky.cases[0].tensor =
      "layer \"0\"\\weight\t\x01\x7f \xc3\xbc"
      "n"
      "\xc3\xaf"
      "code \xe2\x82\xac";
  tricky.cases[0].rule = "";
  tricky.cases[0].tests[0].statistic = -0.0;
  tricky.cases[0].tests[0].p_value = 4.9e-324;
  tricky.cases[0].tests[1].statistic = 1e300;
  tricky.cases[0].tests[1].p_value = 1.0;
  tricky.cases[1].tests[0].statistic = NAN;
  tricky.cases[1].tests[1].statistic = 123456789012345678.0;
  tricky.cases[1].tests[1].p_value = 0.1 + 0.2;
  tricky.notes = {"a note with a newline\n and a control \x1f"};
  tricky.unmatched = {};
  for (const auto& r : {run(), tricky}) {
    const std::string text = to_json(r);
    EXPECT_EQ(text, nlohmann::ordered_json::parse(text).dump(2) + "\n");
  }
  // Invalid UTF-8 in a name is refused as dump refuses it, not written as broken JSON.
  tricky.cases[0].tensor = "bad \xff byte";
  EXPECT_THROW(to_json(tricky), nlohmann::json::exception);
}

TEST(JsonTest, AValueNamedLikeAFieldOrTwiceReplacesItWhereItStands) {
  // As an assignment to a JSON object does (what the document was once built with): the key
  // keeps its first place, the last value wins.
  verinit::verify::run_result r = run();
  auto& test = r.cases[0].tests[0];
  test.informational = false;
  test.values = {{"n", 5}, {"statistic", 7}, {"n", 6}};
  auto& flagged = r.cases[0].tests[1];
  flagged.informational = true;
  flagged.values = {{"informational", 2}};
  r.tied = {{"a", "b"}, {"c", "d"}, {"a", "e"}};
  const auto document = nlohmann::ordered_json::parse(to_json(r));
  const auto& written = document["schemes"][0]["tests"][0];
  std::vector<std::string> keys;
  for (auto it = written.begin(); it != written.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "statistic", "p_value", "p_adjusted", "passed",
                                            "exact", "suspicious", "note", "n"}));
  EXPECT_EQ(written["statistic"], 7.0);
  EXPECT_EQ(written["n"], 6.0);
  const auto& replaced = document["schemes"][0]["tests"][1];
  keys.clear();
  for (auto it = replaced.begin(); it != replaced.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "statistic", "p_value", "p_adjusted", "passed",
                                            "exact", "suspicious", "note", "informational"}));
  EXPECT_EQ(replaced["informational"], 2.0);
  EXPECT_EQ(document["tied"].dump(), R"({"a":"e","c":"d"})");
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
  return keys;
}

TEST(JsonTest, EveryFieldInItsPlaceAndOfItsKind) {
  // The document's layout as the nlohmann tree that wrote it until 2026-12-07 built it (the
  // format others read): every optional field present, in order; integers as integers.
  verinit::verify::run_result r = run();
  auto& c = r.cases[0];
  c.tensor = "layer.weight";
  c.rule = "*.weight";
  c.origin = "nn.init.kaiming_normal_ at model.py:3";
  c.samples_shape = {4, 5};
  c.tolerance = {0.01, 0.02, 0.0};
  c.diagnosis = "a gain dropped";
  c.parts.push_back({{"rank 1", {0, 2}, {4, 3}, true, 20}, 12, 1, 0xabcdef});
  verinit::verify::pooled_result pooled;
  pooled.rule = "*.weight";
  pooled.tensors = {"layer.weight"};
  pooled.n = 20;
  pooled.tests = c.tests;
  pooled.tolerance = {0.0, 0.0, 0.05};
  pooled.detectable_variance_error = 0.1;
  pooled.detectable_mean_shift = 0.2;
  pooled.detectable_ks_distance = 0.3;
  r.pooled = {pooled};
  r.unmatched = {"head.weight"};
  r.skipped = {"bn.num_batches_tracked"};
  r.tied = {{"lm_head.weight", "wte.weight"}};
  r.notes = {"a note"};
  r.shares = {{2, 80, 0.5}};
  const auto d = nlohmann::ordered_json::parse(to_json(r));
  using keys = std::vector<std::string>;
  EXPECT_EQ(keys_of(d),
            (keys{"verinit", "passed", "seed", "alpha", "threads", "family_size", "schemes",
                  "propagation", "pooled", "unmatched", "skipped", "tied", "notes", "timing"}));
  const auto& s = d["schemes"][0];
  EXPECT_EQ(keys_of(s),
            (keys{"scheme",     "canonical", "law",          "source", "shape",        "layout",
                  "dtype",      "samples",   "replications", "n",      "passed",       "tests",
                  "detectable", "tensor",    "rule",         "origin", "tensor_shape", "tolerance",
                  "diagnosis",  "summary",   "parts"}));
  EXPECT_EQ(keys_of(s["detectable"]), (keys{"power", "relative_variance_error", "mean_shift_sd"}));
  EXPECT_EQ(keys_of(s["tolerance"]), (keys{"variance", "mean", "ks"}));
  EXPECT_EQ(keys_of(s["summary"]), (keys{"law", "independent", "ks_critical", "moments", "expected",
                                         "power_sums", "histogram", "density", "ecdf"}));
  EXPECT_EQ(keys_of(s["summary"]["power_sums"]), (keys{"centre", "n", "s1", "s2", "s3", "s4"}));
  EXPECT_EQ(keys_of(s["summary"]["histogram"]), (keys{"low", "high", "counts", "below", "above"}));
  EXPECT_EQ(keys_of(s["summary"]["ecdf"]), (keys{"levels", "quantiles", "at_or_below"}));
  EXPECT_EQ(keys_of(s["parts"][0]),
            (keys{"where", "offset", "n", "non_finite", "digest", "replica"}));
  EXPECT_EQ(s["parts"][0]["digest"], "0000000000abcdef");
  const auto& p = d["pooled"][0];
  EXPECT_EQ(keys_of(p),
            (keys{"rule", "tensors", "n", "passed", "tests", "detectable", "tolerance"}));
  EXPECT_EQ(keys_of(p["detectable"]),
            (keys{"power", "relative_variance_error", "mean_shift_sd", "ks_distance"}));
  EXPECT_EQ(keys_of(d["propagation"]),
            (keys{"passed", "depth", "width", "batch", "seeds", "seed", "cases"}));
  EXPECT_EQ(
      keys_of(d["propagation"]["cases"][0]),
      (keys{"label", "scheme", "activation", "expected", "verdict", "passed", "forward_ratio",
            "backward_ratio", "overflowed", "symmetric", "forward", "backward", "saturated"}));
  EXPECT_EQ(keys_of(d["timing"]), (keys{"schemes", "propagation_s", "shares"}));
  EXPECT_EQ(keys_of(d["timing"]["schemes"][0]), (keys{"sample_s", "test_s"}));
  // Integers as integers, doubles as doubles (1.0 is written "1.0").
  for (const auto* field :
       {&d["seed"], &d["threads"], &d["family_size"], &s["samples"], &s["replications"], &s["n"],
        &s["shape"][0], &s["tensor_shape"][0], &s["summary"]["histogram"]["counts"][0],
        &s["summary"]["histogram"]["below"], &s["summary"]["ecdf"]["at_or_below"][0],
        &s["parts"][0]["n"], &s["parts"][0]["offset"][1], &d["propagation"]["depth"],
        &d["propagation"]["seed"], &d["timing"]["shares"][0]["bytes"]})
    EXPECT_TRUE(field->is_number_integer()) << *field;
  for (const auto* field :
       {&d["alpha"], &s["detectable"]["power"], &p["n"], &s["summary"]["power_sums"]["n"],
        &d["timing"]["shares"][0]["seconds"], &d["timing"]["schemes"][0]["test_s"]})
    EXPECT_TRUE(field->is_number_float()) << *field;
}

TEST(JsonTest, AModelsTensorsRulesAndListsRoundTrip) {
  verinit::verify::run_result model = run();
  model.cases[0].tensor = "blocks.0.attn.weight";
  model.cases[0].rule = "*.weight";
  model.cases[0].diagnosis = "a gain of sqrt(2) dropped";
  model.unmatched = {"head.weight"};
  model.skipped = {"bn.num_batches_tracked"};
  model.tied = {{"lm_head.weight", "wte.weight"}};
  model.notes = {"tensor 'x' has no elements"};
  const std::string text = to_json(model);
  const auto document = nlohmann::json::parse(text);
  EXPECT_EQ(document["schemes"][0]["tensor"], "blocks.0.attn.weight");
  EXPECT_EQ(document["tied"]["lm_head.weight"], "wte.weight");
  EXPECT_EQ(document["unmatched"][0], "head.weight");
  EXPECT_FALSE(document["schemes"][1].contains("tensor"));  // only where given
  const verinit::verify::run_result back = from_json(text);
  EXPECT_EQ(to_json(back), text);
  EXPECT_EQ(back.tied, model.tied);
  EXPECT_EQ(back.cases[0].diagnosis, model.cases[0].diagnosis);
}

TEST(JsonTest, ToleranceInformationalTestsAndTensorShapesRoundTrip) {
  verinit::verify::run_result model = run();
  model.cases[0].tolerance = {0.005, 0.01, 0.002};
  model.cases[0].samples_shape = {64};
  model.cases[0].tests[0].informational = true;
  model.pooled.push_back({"*.weight", {0.005, 0, 0}, {"a", "b"}, 2e6, {}, true, 0.01, 0.02});
  const std::string text = to_json(model);
  const auto document = nlohmann::json::parse(text);
  EXPECT_EQ(document["schemes"][0]["tolerance"]["variance"], 0.005);
  EXPECT_EQ(document["schemes"][0]["tests"][0]["informational"], true);
  EXPECT_FALSE(document["schemes"][0]["tests"][1].contains("informational"));  // only when set
  EXPECT_FALSE(document["schemes"][1].contains("tolerance"));                  // only when set
  EXPECT_EQ(document["schemes"][0]["tensor_shape"], nlohmann::json::array({64}));
  EXPECT_FALSE(document["schemes"][1].contains("tensor_shape"));
  EXPECT_EQ(document["pooled"][0]["tolerance"]["variance"], 0.005);
  const verinit::verify::run_result back = from_json(text);
  EXPECT_EQ(to_json(back), text);
  EXPECT_EQ(back.cases[0].tolerance, model.cases[0].tolerance);
  EXPECT_TRUE(back.cases[0].tests[0].informational);
  EXPECT_EQ(back.cases[0].samples_shape, model.cases[0].samples_shape);
  EXPECT_EQ(back.pooled[0].tolerance, model.pooled[0].tolerance);
  // A tolerance outside [0, 1) is not a results document.
  auto bad = document;
  bad["schemes"][0]["tolerance"]["ks"] = 2;
  EXPECT_THROW(from_json(bad.dump()), std::invalid_argument);
}

TEST(JsonTest, TimingsSitInTheTopLevelObjectOnly) {
  auto doc = nlohmann::json::parse(to_json(run()));
  ASSERT_TRUE(doc.contains("timing"));
  EXPECT_EQ(doc["timing"]["schemes"].size(), run().cases.size());
  EXPECT_TRUE(doc["timing"].contains("propagation_s"));
  // Everything else is a function of the seed: equal with the timings zeroed.
  verinit::verify::run_result other = run();
  for (auto& c : other.cases) c.sample_seconds = c.test_seconds = 12.5;
  other.propagation->seconds = 99;
  auto a = nlohmann::json::parse(to_json(other));
  a.erase("timing");
  doc.erase("timing");
  EXPECT_EQ(a, doc);
}

TEST(JsonTest, FailuresAndPropagationAreInTheDocument) {
  const auto doc = nlohmann::json::parse(to_json(run()));
  EXPECT_EQ(doc["passed"], false);  // the wrong.npy case
  EXPECT_EQ(doc["schemes"].back()["source"], "wrong.npy");
  EXPECT_EQ(doc["schemes"].back()["passed"], false);
  EXPECT_EQ(doc["propagation"]["cases"].size(), 10u);
  EXPECT_EQ(doc["propagation"]["cases"][0]["label"], "He + ReLU");
}

TEST(JsonTest, ErrorsNameTheField) {
  const auto message = [](const std::string& text) {
    try {
      from_json(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{").find("not JSON"), std::string::npos);
  EXPECT_NE(message("[1]").find("not an object"), std::string::npos);
  // A number beyond double's range (results_fuzz found it ending the process).
  EXPECT_NE(message("{\"alpha\": 9.8e13477}").find("results JSON: "), std::string::npos);
  auto doc = nlohmann::json::parse(to_json(run()));
  doc["schemes"][1].erase("n");
  EXPECT_NE(message(doc.dump()).find("'schemes[1].n' is missing"), std::string::npos);
  doc = nlohmann::json::parse(to_json(run()));
  doc["schemes"][0]["summary"]["histogram"]["counts"] = "many";
  EXPECT_NE(message(doc.dump()).find("'schemes[0].summary.histogram.counts' is of the wrong type"),
            std::string::npos);
  doc = nlohmann::json::parse(to_json(run()));
  doc["seed"] = -3;
  EXPECT_NE(message(doc.dump()).find("'seed'"), std::string::npos);
  doc = nlohmann::json::parse(to_json(run()));
  doc["schemes"][0]["layout"] = "tensorflow";
  EXPECT_NE(message(doc.dump()).find("tensorflow"), std::string::npos);
}

}  // namespace
