// Rules and model plans: globs, the TOML document and its errors, first match, skipped,
// unmatched, tied and zero-row tensors, blocks, fans from another tensor, and the run's verdict.
#include "verinit/verify/model.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "verinit/fill.hpp"

namespace {

using namespace verinit::verify;

TEST(GlobTest, MatchesLikeAShell) {
  EXPECT_TRUE(glob_match("*.bias", "layer.0.bias"));  // * crosses dots
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("h.?.attn", "h.3.attn"));
  EXPECT_FALSE(glob_match("h.?.attn", "h.13.attn"));
  EXPECT_TRUE(glob_match("h.[0-3].w", "h.2.w"));
  EXPECT_FALSE(glob_match("h.[0-3].w", "h.5.w"));
  EXPECT_TRUE(glob_match("h.[!0-3].w", "h.5.w"));
  EXPECT_TRUE(glob_match("[ab]x", "bx"));
  EXPECT_TRUE(glob_match("a[b", "a[b"));  // an unclosed set is literal
  EXPECT_FALSE(glob_match("*.weight", "weight"));
  EXPECT_TRUE(glob_match("*a*b*c", "xxaybzzc"));
  EXPECT_FALSE(glob_match("*a*b*c", "xxaybzz"));
  EXPECT_FALSE(glob_match("bias", "bias2"));
}

const char* document = R"(
layout = "torch"
[[rule]]
match = "*.num_batches_tracked"
skip = true
[[rule]]
match = "*.bias"
expect = "torch_linear"
fans_from = "{parent}.weight"
[[rule]]
match = "emb.weight"
expect = "normal"
zero_rows = [0, -1]
[[rule]]
match = "fc.*"
expect = "torch_linear"
[[rule]]
match = "proj.weight"
expect = "kaiming_normal"
fan_in = 64
fan_out = 32
layout = "keras"
)";

TEST(RulesTest, ParsesEveryKey) {
  const model_rules rules = parse_rules(document, "r.toml");
  ASSERT_EQ(rules.rules.size(), 5u);
  EXPECT_EQ(rules.tensor_layout, verinit::layout::torch);
  EXPECT_TRUE(rules.rules[0].skip);
  EXPECT_EQ(rules.rules[1].fans_from, "{parent}.weight");
  EXPECT_EQ(rules.rules[2].zero_rows, (std::vector<std::int64_t>{0, -1}));
  EXPECT_EQ(rules.rules[4].fan_in, 64);
  EXPECT_EQ(rules.rules[4].tensor_layout, verinit::layout::keras);
  // First match wins: fc.bias is the *.bias rule's, fc.weight the fc.* one's.
  EXPECT_EQ(match_rule(rules, "fc.bias")->match, "*.bias");
  EXPECT_EQ(match_rule(rules, "fc.weight")->match, "fc.*");
  EXPECT_EQ(match_rule(rules, "other"), nullptr);
}

// The message of the std::invalid_argument `f` throws, or "no error".
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

std::string error_of(const std::string& text) {
  return message_of([&] { parse_rules(text, "r.toml"); });
}

TEST(RulesTest, BadDocumentsNameTheRuleAndTheKey) {
  EXPECT_NE(error_of("[[rule]\n").find("r.toml: not valid TOML"), std::string::npos);
  EXPECT_NE(error_of("colour = 1\n").find("top-level key 'colour' is unknown"), std::string::npos);
  EXPECT_NE(error_of("layout = 'tf'\n").find("layout is 'tf', but must be 'torch' or 'keras'"),
            std::string::npos);
  EXPECT_NE(error_of("rule = 3\n").find("array of tables"), std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nexpect = 'normal'\n").find("rule 1: match is missing"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\n").find("expect is missing"), std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\nexpect = 'normal'\nhue = 1\n").find("has key 'hue'"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\nexpect = 'normal'\nfan_in = 3\n").find("together"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\nexpect = 'normal'\nfan_in = 0\nfan_out = 1\n")
                .find("fan_in must be an integer >= 1"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\nexpect = 'normal'\nzero_rows = 'x'\n")
                .find("zero_rows must be a list of integers"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = 'a'\nexpect = 'normal'\n[[rule]]\nmatch = 'b'\n"
                     "expect = 'kaiming_nromal'\n")
                .find("rule 2 ('b'): expect:"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\nexpect = 'normal'\nfans_from = 'x'\nfan_in = 1\n"
                     "fan_out = 1\n")
                .find("alternatives"),
            std::string::npos);
}

struct fixture {
  std::vector<float> fc_w = verinit::sample<float>(std::vector<std::int64_t>{64, 128},
                                                   verinit::parse_scheme("torch_linear"));
  std::vector<float> fc_b;
  std::vector<float> emb;
  std::vector<float> proj;
  std::int64_t counter = 0;
  std::vector<model_tensor> tensors;
  fixture() {
    verinit::fill_options o;
    o.seed = 2;
    o.explicit_fans =
        verinit::compute_fans(std::vector<std::int64_t>{64, 128}, verinit::layout::torch);
    fc_b = verinit::sample<float>(std::vector<std::int64_t>{64},
                                  verinit::parse_scheme("torch_linear"), o);
    o.seed = 3;
    emb = verinit::sample<float>(std::vector<std::int64_t>{500, 16},
                                 verinit::parse_scheme("normal"), o);
    std::fill(emb.begin(), emb.begin() + 16, 0.0f);  // row 0
    std::fill(emb.end() - 16, emb.end(), 0.0f);      // row -1
    o.seed = 4;
    o.explicit_fans = verinit::fans{64, 32, 1};
    proj = verinit::sample<float>(std::vector<std::int64_t>{40, 50},
                                  verinit::parse_scheme("kaiming_normal"), o);
    const auto view = [](const std::vector<float>& v, verinit::tensor_shape s) {
      return verinit::view_of<float>(v, s);
    };
    tensors = {
        {"fc.weight", "F32", {64, 128}, view(fc_w, {64, 128}), fc_w.data()},
        {"fc.bias", "F32", {64}, view(fc_b, {64}), fc_b.data()},
        {"emb.weight", "F32", {500, 16}, view(emb, {500, 16}), emb.data()},
        {"proj.weight", "F32", {40, 50}, view(proj, {40, 50}), proj.data()},
        {"bn.num_batches_tracked", "I64", {}, std::nullopt, &counter},
    };
  }
};

TEST(ModelPlanTest, PlansEveryTensorByItsRule) {
  const fixture f;
  const model_plan plan =
      plan_model(f.tensors, parse_rules(document), verinit::layout::torch, "model");
  std::vector<std::string> names;
  for (const auto& c : plan.cases) names.push_back(c.tensor);
  EXPECT_EQ(names, (std::vector<std::string>{"fc.weight", "fc.bias", "emb.weight[rows 0,499]",
                                             "emb.weight", "proj.weight"}));
  EXPECT_EQ(plan.skipped, (std::vector<std::string>{"bn.num_batches_tracked"}));
  EXPECT_TRUE(plan.unmatched.empty());
  // fc.bias's fans are fc.weight's; proj's are the explicit ones, in keras layout.
  EXPECT_EQ(plan.cases[1].spec.shape, (verinit::tensor_shape{64, 128}));
  EXPECT_EQ(plan.cases[4].spec.shape, (verinit::tensor_shape{64, 32}));
  EXPECT_EQ(plan.cases[4].spec.tensor_layout, verinit::layout::keras);
  EXPECT_EQ(plan.cases[2].samples->size(), 32);
  EXPECT_EQ(plan.cases[3].samples->size(), 498 * 16);
  run_request request;
  request.options.threads = 2;
  add_plan(request, plan);
  const run_result run = verinit::verify::run(request);
  EXPECT_TRUE(run.passed);
  for (const auto& c : run.cases) {
    EXPECT_TRUE(c.passed) << c.tensor;
    EXPECT_FALSE(c.rule.empty());
  }
}

TEST(ModelPlanTest, UnmatchedTensorsFailTheRunAndTiedOnesAreVerifiedOnce) {
  fixture f;
  f.tensors.push_back({"head.weight", "F32", {64, 128}, f.tensors[0].values, f.fc_w.data()});
  f.tensors.push_back({"extra", "F32", {64}, f.tensors[1].values, nullptr});
  const model_plan plan =
      plan_model(f.tensors, parse_rules(document), verinit::layout::torch, "model");
  EXPECT_EQ(plan.unmatched, (std::vector<std::string>{"extra"}));
  ASSERT_EQ(plan.tied.size(), 1u);
  EXPECT_EQ(plan.tied[0], (std::pair<std::string, std::string>{"head.weight", "fc.weight"}));
  run_request request;
  add_plan(request, plan);
  const run_result run = verinit::verify::run(request);
  EXPECT_FALSE(run.passed);
  for (const auto& c : run.cases) EXPECT_TRUE(c.passed) << c.tensor;
  EXPECT_EQ(run.unmatched, plan.unmatched);
}

TEST(ModelPlanTest, AWrongLawAndANonZeroPaddingRowFailByName) {
  fixture f;
  for (auto& x : f.fc_w) x *= 2;
  f.emb[5] = 0.5f;  // row 0
  run_request request;
  const model_plan plan =
      plan_model(f.tensors, parse_rules(document), verinit::layout::torch, "model");
  add_plan(request, plan);
  const run_result run = verinit::verify::run(request);
  std::vector<std::string> failed;
  for (const auto& c : run.cases)
    if (!c.passed) failed.push_back(c.tensor);
  EXPECT_EQ(failed, (std::vector<std::string>{"fc.weight", "emb.weight[rows 0,499]"}));
}

TEST(ModelPlanTest, InputErrorsNameTheTensor) {
  const fixture f;
  const auto plan_error = [&](const std::vector<model_tensor>& tensors, const std::string& rules) {
    return message_of(
        [&] { plan_model(tensors, parse_rules(rules), verinit::layout::torch, "m"); });
  };
  const auto error_of = [&](const std::string& rules) { return plan_error(f.tensors, rules); };
  EXPECT_NE(error_of("[[rule]]\nmatch = '*'\nexpect = 'zeros'\n")
                .find("tensor 'bn.num_batches_tracked' is I64, not a weight"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = '*.bias'\nexpect = 'torch_linear'\n"
                     "fans_from = '{parent}.kernel'\n[[rule]]\nmatch = '*'\nskip = true\n")
                .find("fans_from names 'fc.kernel' for tensor 'fc.bias'"),
            std::string::npos);
  // A name holding "{parent}" is substituted once, not without end.
  const auto parent_shape = [](std::string_view) -> std::optional<verinit::tensor_shape> {
    return std::nullopt;
  };
  tensor_rule from;
  from.match = "*";
  from.expect = "torch_linear";
  from.fans_from = "{parent}.weight";
  EXPECT_NE(message_of([&] {
              fans_shape_of(from, "x.{parent}.bias", verinit::layout::torch, parent_shape);
            }).find("names 'x.{parent}.weight'"),
            std::string::npos);
  // A shape that does not hold the tensor's elements.
  std::vector<model_tensor> lying = f.tensors;
  lying[0].shape = {64, 129};
  EXPECT_NE(plan_error(lying,
                       "[[rule]]\nmatch = 'fc.weight'\nexpect = 'normal'\n"
                       "[[rule]]\nmatch = '*'\nskip = true\n")
                .find("tensor 'fc.weight' has shape [64,129] but 8192"),
            std::string::npos);
  EXPECT_NE(error_of("[[rule]]\nmatch = 'emb.weight'\nexpect = 'normal'\nzero_rows = [500]\n"
                     "[[rule]]\nmatch = '*'\nskip = true\n")
                .find("outside tensor 'emb.weight''s 500 rows"),
            std::string::npos);
}

}  // namespace

namespace {

// A packed tensor of `rows` x `cols` whose blocks along `axis` hold 0, 1, 2, ... (block k
// all equal to k).
std::vector<float> packed(std::int64_t rows, std::int64_t cols, int axis, int blocks) {
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      out[static_cast<std::size_t>(r * cols + c)] =
          static_cast<float>(axis == 0 ? r / (rows / blocks) : c / (cols / blocks));
  return out;
}

const verinit::tensor_shape shape69{6, 9};

TEST(ModelPlanTest, BlocksAreCasesOfTheirOwnAlongEitherAxis) {
  const std::string along_rows =
      "[[rule]]\nmatch = 'w'\nblocks = ['zeros', 'ones', 'constant(value=2)']\n";
  for (const int axis : {0, 1}) {
    const auto data = packed(6, 9, axis, 3);
    const std::vector<model_tensor> tensors{
        {"w", "F32", {6, 9}, verinit::view_of<float>(data, shape69), nullptr}};
    const std::string rules = along_rows + (axis == 1 ? "axis = -1\n" : "");
    const model_plan plan = plan_model(tensors, parse_rules(rules), verinit::layout::torch, "m");
    ASSERT_EQ(plan.cases.size(), 3u);
    EXPECT_EQ(plan.cases[1].tensor, "w[block 2 of 3]");
    EXPECT_EQ(plan.cases[1].spec.shape,
              (axis == 0 ? verinit::tensor_shape{2, 9} : verinit::tensor_shape{6, 3}));
    // Along the first axis the blocks are views of the tensor; along another, copies.
    EXPECT_EQ(
        plan.cases[1].samples->bytes.data() == reinterpret_cast<const std::byte*>(data.data() + 18),
        axis == 0);
    verinit::verify::run_request request;
    add_plan(request, plan);
    const auto run = verinit::verify::run(request);
    EXPECT_TRUE(run.passed) << axis;
    // The blocks in the wrong order: the first two fail, by name.
    const std::string swapped =
        "[[rule]]\nmatch = 'w'\nblocks = ['ones', 'zeros', 'constant(value=2)']\n" +
        std::string(axis == 1 ? "axis = 1\n" : "");
    verinit::verify::run_request wrong;
    const model_plan wrong_plan =
        plan_model(tensors, parse_rules(swapped), verinit::layout::torch, "m");
    add_plan(wrong, wrong_plan);
    std::vector<std::string> failed;
    for (const auto& c : verinit::verify::run(wrong).cases)
      if (!c.passed) failed.push_back(c.tensor);
    EXPECT_EQ(failed, (std::vector<std::string>{"w[block 1 of 3]", "w[block 2 of 3]"}));
  }
}

TEST(ModelPlanTest, BadBlocksNameTheRuleOrTheTensor) {
  const auto data = packed(6, 9, 0, 3);
  const std::vector<model_tensor> tensors{
      {"w", "F32", {6, 9}, verinit::view_of<float>(data, shape69), nullptr}};
  const auto plan_error = [&](const std::string& rules) {
    return message_of(
        [&] { plan_model(tensors, parse_rules(rules), verinit::layout::torch, "m"); });
  };
  EXPECT_NE(plan_error("[[rule]]\nmatch = 'w'\nblocks = ['zeros', 'ones', 'zeros', 'ones']\n")
                .find("dim 0 (6) does not split into 4 equal blocks"),
            std::string::npos);
  EXPECT_NE(plan_error("[[rule]]\nmatch = 'w'\nblocks = ['zeros']\naxis = 2\n")
                .find("axis 2 is outside tensor 'w''s 2 dims"),
            std::string::npos);
  const auto rules_error = [](const std::string& text) {
    return message_of([&] { parse_rules(text, "r.toml"); });
  };
  EXPECT_NE(rules_error("[[rule]]\nmatch = 'w'\nexpect = 'zeros'\nblocks = ['ones']\n")
                .find("expect and blocks are alternatives"),
            std::string::npos);
  EXPECT_NE(rules_error("[[rule]]\nmatch = 'w'\nexpect = 'zeros'\naxis = 1\n")
                .find("axis is given without blocks"),
            std::string::npos);
  EXPECT_NE(rules_error("[[rule]]\nmatch = 'w'\nblocks = []\n").find("non-empty list"),
            std::string::npos);
  EXPECT_NE(rules_error("[[rule]]\nmatch = 'w'\nblocks = ['zeros', 'nonsense']\n")
                .find("rule 1 ('w'): blocks[1]: "),
            std::string::npos);
  EXPECT_NE(rules_error("[[rule]]\nmatch = 'w'\nblocks = ['zeros']\nzero_rows = [0]\n")
                .find("blocks and zero_rows are alternatives"),
            std::string::npos);
}

}  // namespace
