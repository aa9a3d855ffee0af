// Rules and model plans: globs, the TOML document and its errors, first match, skipped,
// unmatched, tied and zero-row tensors, blocks, fans from another tensor, and the run's verdict.
#include "verinit/verify/model.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <random>
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
  // origin: free text for reports (where the law comes from), a string or an error.
  EXPECT_EQ(parse_rules("[[rule]]\nmatch = '*'\nexpect = 'zeros'\norigin = 'nn.init.zeros_ at m.py:3'\n")
                .rules[0]
                .origin,
            "nn.init.zeros_ at m.py:3");
  EXPECT_THROW(parse_rules("[[rule]]\nmatch = '*'\nexpect = 'zeros'\norigin = 3\n"),
               std::invalid_argument);  // "rule 1: origin must be a string"
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
  // A tensor with another's fans keeps its own shape beside them.
  EXPECT_EQ(run.cases[1].samples_shape, (verinit::tensor_shape{64}));
  EXPECT_TRUE(run.cases[0].samples_shape.empty());
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
  // A law the tensor's shape cannot carry (fans of a 1-D tensor) is refused by run(), before
  // any work, naming the tensor, its rule and the law.
  run_request request;
  add_plan(request, plan_model(f.tensors,
                               parse_rules("[[rule]]\nmatch = '*.bias'\nexpect = 'xavier_normal'\n"
                                           "[[rule]]\nmatch = '*'\nskip = true\n"),
                               verinit::layout::torch, "m"));
  EXPECT_NE(message_of([&] { verinit::verify::run(request); })
                .find("tensor 'fc.bias' (rule '*.bias', xavier_normal on [64]): theory: a "
                      "fan-based scheme needs a tensor of >= 2 dims, got 1"),
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

namespace {

TEST(ModelPlanTest, LayerInASpecIsTheNamesNumberInAnExpression) {
  // torchtitan's depth-scaled init: std 0.02 / sqrt(2 (layer + 1)) for each layer's output
  // projection; layer 3's is 0.02 / sqrt(8).
  const verinit::tensor_shape shape{64, 64};
  std::vector<model_tensor> tensors;
  std::vector<std::vector<float>> data;
  for (int layer : {0, 3}) {
    verinit::fill_options options;
    options.seed = static_cast<std::uint64_t>(layer) + 5;
    data.push_back(verinit::sample<float>(
        shape,
        verinit::parse_scheme("normal(std=" + std::to_string(0.02 / std::sqrt(2.0 * (layer + 1))) +
                              ")"),
        options));
  }
  for (std::size_t k = 0; k < data.size(); ++k)
    tensors.push_back({"layers." + std::to_string(k == 0 ? 0 : 3) + ".attention.wo.weight", "F32",
                       shape, verinit::view_of<float>(data[k], shape), nullptr});
  const std::string rules =
      "[[rule]]\nmatch = '*.wo.weight'\nexpect = 'normal(std={0.02 / sqrt(2 * (layer + 1))})'\n";
  const model_plan plan = plan_model(tensors, parse_rules(rules), verinit::layout::torch, "m");
  ASSERT_EQ(plan.cases.size(), 2u);
  EXPECT_DOUBLE_EQ(plan.cases[1].spec.scheme.number("std"), 0.02 / std::sqrt(8.0));
  EXPECT_DOUBLE_EQ(plan.cases[0].spec.scheme.number("std"), 0.02 / std::sqrt(2.0));
  run_request request;
  add_plan(request, plan);
  EXPECT_TRUE(verinit::verify::run(request).passed);
  // Without the layer the law is wrong for layer 3: it fails alone.
  run_request flat;
  add_plan(flat, plan_model(tensors,
                            parse_rules("[[rule]]\nmatch = '*'\nexpect = 'normal(std={0.02 / "
                                        "sqrt(2 ** 1)})'\n"),
                            verinit::layout::torch, "m"));
  std::vector<std::string> failed;
  for (const auto& c : verinit::verify::run(flat).cases)
    if (!c.passed) failed.push_back(c.tensor);
  EXPECT_EQ(failed, (std::vector<std::string>{"layers.3.attention.wo.weight"}));
  // Errors: a name without a number, a bad expression, a non-finite value.
  tensors[0].name = "head.wo.weight";
  EXPECT_NE(message_of([&] {
              plan_model(tensors, parse_rules(rules), verinit::layout::torch, "m");
            }).find("tensor 'head.wo.weight' (rule '*.wo.weight'): the expression"),
            std::string::npos);
  EXPECT_EQ(message_of([&] {
              parse_rules("[[rule]]\nmatch = '*'\nexpect = 'normal(std={0.02 / (layer})'\n");
            }),
            "rules: rule 1 ('*'): expect: the expression '0.02 / (layer': Missing parenthesis "
            "(column 15)");
  // Finite or not is known per tensor: layer 1 divides by zero.
  tensors[0].name = "layers.1.wo.weight";
  EXPECT_NE(message_of([&] {
              plan_model(tensors,
                         parse_rules("[[rule]]\nmatch = '*'\nexpect = 'normal(std={1 / (layer - "
                                     "1)})'\n",
                                     "r.toml"),
                         verinit::layout::torch, "m");
            })
                .find("r.toml: tensor 'layers.1.wo.weight' (rule '*'): the expression '1 / (layer "
                      "- 1)': is inf for this tensor"),
            std::string::npos);
}

}  // namespace

namespace {

// 24 layers' weights of one rule, each scaled by sqrt(1 + error): N(0, 0.02^2) on 256 x 1024
// (a normal law: a scaled uniform would also show outside its support). With `mixture` > 0,
// each weight is instead scaled by sqrt(1 - mixture) or sqrt(1 + mixture) at random: a scale
// mixture of the same variance, a shape error only.
struct layers {
  explicit layers(double error, double mixture = 0) {
    std::mt19937_64 coin(99);
    for (int k = 0; k < 24; ++k) {
      verinit::fill_options options;
      options.seed = 100 + static_cast<std::uint64_t>(k);
      auto w = verinit::sample<float>(shape, verinit::parse_scheme("normal(std=0.02)"), options);
      for (auto& x : w)
        x = static_cast<float>(
            x * std::sqrt(1 + error + (mixture > 0 && (coin() & 1) != 0 ? mixture : -mixture)));
      data.push_back(std::move(w));
    }
    for (int k = 0; k < 24; ++k)
      tensors.push_back({"h." + std::to_string(k) + ".mlp.weight", "F32", shape,
                         verinit::view_of<float>(data[static_cast<std::size_t>(k)], shape),
                         nullptr});
  }
  run_result run(const std::string& rules =
                     "[[rule]]\nmatch = '*.weight'\nexpect = 'normal(std=0.02)'\n") const {
    run_request request;
    request.options.threads = 2;
    add_plan(request, plan_model(tensors, parse_rules(rules), verinit::layout::torch, "m"));
    return verinit::verify::run(request);
  }
  const verinit::tensor_shape shape{256, 1024};
  std::vector<std::vector<float>> data;
  std::vector<model_tensor> tensors;
};

TEST(PooledTest, CatchesAVarianceErrorCommonToTheRulesTensorsThatNoneShowsAlone) {
  // A 0.4% variance error: 1.45 standard errors in one tensor of 262,144 normal weights
  // (relative se sqrt(2/n) = 0.276%), far below the ~5.8 a Holm family of ~170 tests at
  // alpha 1e-6 needs; pooled over 24 tensors, 7.1 standard errors.
  const run_result bad = layers(0.004).run();
  for (const auto& c : bad.cases) EXPECT_TRUE(c.passed) << c.tensor;
  ASSERT_EQ(bad.pooled.size(), 1u);
  const pooled_result& p = bad.pooled[0];
  EXPECT_EQ(p.rule, "*.weight");
  EXPECT_EQ(p.tensors.size(), 24u);
  EXPECT_EQ(p.n, 24.0 * 256 * 1024);
  ASSERT_EQ(p.tests.size(), 4u);  // and pooled_ks, pooled_anderson_darling
  EXPECT_EQ(p.tests[0].name, "pooled_variance");
  EXPECT_FALSE(p.tests[0].passed);
  EXPECT_NEAR(p.tests[0].values[0].second, 0.004, 0.0017);  // the pooled estimate, 3 se
  EXPECT_TRUE(p.tests[1].passed);                           // no mean shift
  EXPECT_FALSE(p.passed);
  EXPECT_FALSE(bad.passed);
  // What it could detect with 99% power: 0.46% (so 0.4% is found with ~90% power: z 7.1
  // against 5.8), against 2.3% for one tensor.
  EXPECT_LT(p.detectable_variance_error, 0.005);
  EXPECT_GT(bad.cases[0].detectable_variance_error, 3 * p.detectable_variance_error);
  // The correct layers pass, pooled too.
  const run_result good = layers(0).run();
  ASSERT_EQ(good.pooled.size(), 1u);
  EXPECT_TRUE(good.pooled[0].passed);
  EXPECT_TRUE(good.passed);
}

const test_result* pooled_test(const pooled_result& p, const std::string& name) {
  for (const auto& t : p.tests)
    if (t.name == name) return &t;
  return nullptr;
}

TEST(PooledTest, ThePooledPitsCatchAShapeErrorCommonToTheRulesTensorsThatNoneShowsAlone) {
  // Each weight N(0, 0.02^2 (1 +- 0.2)): the variance is exact, the law's shape is not
  // (sup |F - Phi| = 0.0028). One tensor's KS needs D ~ 0.0062 at Holm's first step (sqrt(n)
  // D = 1.4 here); the 6.3M pooled transforms have sqrt(N) D = 7.0.
  const run_result bad = layers(0, 0.2).run();
  for (const auto& c : bad.cases) EXPECT_TRUE(c.passed) << c.tensor;
  ASSERT_EQ(bad.pooled.size(), 1u);
  const pooled_result& p = bad.pooled[0];
  ASSERT_NE(pooled_test(p, "pooled_ks"), nullptr);
  ASSERT_NE(pooled_test(p, "pooled_anderson_darling"), nullptr);
  EXPECT_TRUE(pooled_test(p, "pooled_variance")->passed);
  EXPECT_FALSE(pooled_test(p, "pooled_ks")->passed);
  EXPECT_FALSE(pooled_test(p, "pooled_anderson_darling")->passed);
  EXPECT_NEAR(pooled_test(p, "pooled_ks")->statistic, 0.0028, 0.0012);
  EXPECT_FALSE(bad.passed);
  // Correct layers: every pooled test passes.
  const run_result good = layers(0).run();
  for (const auto& t : good.pooled[0].tests) EXPECT_TRUE(t.passed) << t.name;
  EXPECT_EQ(good.pooled[0].tests.size(), 4u);
}

TEST(PooledTest, Bfloat16TensorsArePooledByTheRandomisedPitAndGiveTheSameBitsOnAnyThreadCount) {
  // 8 correct bfloat16 tensors, and the same values as float32 (all on bfloat16's grid): both
  // are discrete, pooled by the randomised PIT, and pass; the numbers do not depend on threads.
  const verinit::tensor_shape shape{256, 512};
  std::vector<std::vector<verinit::bfloat16_t>> b;
  std::vector<std::vector<float>> f;
  std::vector<model_tensor> tensors;
  for (int k = 0; k < 8; ++k) {
    verinit::fill_options options;
    options.seed = 300 + static_cast<std::uint64_t>(k);
    b.push_back(
        verinit::sample<verinit::bfloat16_t>(shape, verinit::parse_scheme("he_normal"), options));
    f.emplace_back(b.back().begin(), b.back().end());
  }
  for (int k = 0; k < 8; ++k) {
    const auto i = static_cast<std::size_t>(k);
    tensors.push_back({"b." + std::to_string(k) + ".weight", "BF16", shape,
                       verinit::view_of<verinit::bfloat16_t>(b[i], shape), nullptr});
    tensors.push_back({"f." + std::to_string(k) + ".weight", "F32", shape,
                       verinit::view_of<float>(f[i], shape), nullptr});
  }
  const auto rules = parse_rules(
      "[[rule]]\nmatch = 'b.*'\nexpect = 'he_normal'\n[[rule]]\nmatch = 'f.*'\n"
      "expect = 'he_normal'\n");
  std::vector<run_result> runs;
  for (const int threads : {1, 2, 3}) {
    run_request request;
    request.options.threads = threads;
    add_plan(request, plan_model(tensors, rules, verinit::layout::torch, "m"));
    runs.push_back(verinit::verify::run(request));
  }
  ASSERT_EQ(runs[0].pooled.size(), 2u);
  for (const auto& p : runs[0].pooled) {
    ASSERT_NE(pooled_test(p, "pooled_ks"), nullptr) << p.rule;
    EXPECT_TRUE(p.passed) << p.rule;
    EXPECT_NE(pooled_test(p, "pooled_ks")->note.find("randomised"), std::string::npos);
  }
  EXPECT_TRUE(runs[0].passed);
  for (std::size_t r = 1; r < runs.size(); ++r)
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t t = 0; t < runs[0].pooled[i].tests.size(); ++t) {
        EXPECT_EQ(runs[r].pooled[i].tests[t].statistic, runs[0].pooled[i].tests[t].statistic);
        EXPECT_EQ(runs[r].pooled[i].tests[t].p_value, runs[0].pooled[i].tests[t].p_value);
      }
}

TEST(PooledTest, ALargeBfloat16PoolIsRandomisedFromItsHistogramAndPasses) {
  // 3 x 2048 x 4096 bfloat16 weights of one law: 25M values against 2^20 bins, so the pooled
  // PITs are drawn from the summed histogram (binned_fit::add_atoms, binomials over the bins
  // each atom spans) instead of value by value. Correct weights pass; the numbers do not depend
  // on threads.
  const verinit::tensor_shape shape{2048, 4096};
  std::vector<std::vector<verinit::bfloat16_t>> b;
  std::vector<model_tensor> tensors;
  for (int k = 0; k < 3; ++k) {
    verinit::fill_options options;
    options.seed = 700 + static_cast<std::uint64_t>(k);
    b.push_back(verinit::sample<verinit::bfloat16_t>(
        shape, verinit::parse_scheme("normal(std=0.02)"), options));
    tensors.push_back({"l." + std::to_string(k) + ".weight", "BF16", shape,
                       verinit::view_of<verinit::bfloat16_t>(b.back(), shape), nullptr});
  }
  const auto rules = parse_rules("[[rule]]\nmatch = '*'\nexpect = 'normal(std=0.02)'\n");
  std::vector<run_result> runs;
  for (const int threads : {1, 2}) {
    run_request request;
    request.options.threads = threads;
    add_plan(request, plan_model(tensors, rules, verinit::layout::torch, "m"));
    runs.push_back(verinit::verify::run(request));
  }
  ASSERT_EQ(runs[0].pooled.size(), 1u);
  const pooled_result& p = runs[0].pooled[0];
  ASSERT_NE(pooled_test(p, "pooled_ks"), nullptr);
  EXPECT_TRUE(p.passed);
  EXPECT_TRUE(runs[0].passed);
  EXPECT_GT(pooled_test(p, "pooled_ks")->p_value, 1e-4);
  ASSERT_EQ(runs[1].pooled.size(), 1u);
  ASSERT_EQ(runs[1].pooled[0].tests.size(), p.tests.size());
  for (std::size_t t = 0; t < p.tests.size(); ++t) {
    EXPECT_EQ(runs[1].pooled[0].tests[t].statistic, p.tests[t].statistic);
    EXPECT_EQ(runs[1].pooled[0].tests[t].p_value, p.tests[t].p_value);
  }
}

TEST(PooledTest, ARulesToleranceMakesItAnEquivalenceCheck) {
  // The same 0.4% common error, now within a rule's 1% tolerance: pooled passes, and the power
  // statement counts from the tolerance. A top-level tolerance is every rule's default.
  for (const std::string& rules :
       {std::string("[[rule]]\nmatch = '*.weight'\nexpect = 'normal(std=0.02)'\n"
                    "tolerance = { variance = 0.01 }\n"),
        std::string("tolerance = { variance = 0.01, ks = 0.01 }\n[[rule]]\nmatch = '*.weight'\n"
                    "expect = 'normal(std=0.02)'\n")}) {
    const run_result r = layers(0.004).run(rules);
    ASSERT_EQ(r.pooled.size(), 1u);
    EXPECT_EQ(r.pooled[0].tolerance.variance, 0.01) << rules;
    EXPECT_TRUE(r.pooled[0].passed) << rules;
    EXPECT_TRUE(r.passed) << rules;
    EXPECT_GT(r.pooled[0].detectable_variance_error, 0.01);
    EXPECT_EQ(r.cases[0].tolerance.variance, 0.01);
  }
  // A common 0.6% error (pooled z ~ 10) exceeds a 0.1% tolerance by ~9 standard errors: the
  // pooled test finds it, though no tensor shows it.
  EXPECT_FALSE(layers(0.006)
                   .run("[[rule]]\nmatch = '*.weight'\nexpect = 'normal(std=0.02)'\n"
                        "tolerance = { variance = 0.001 }\n")
                   .pooled[0]
                   .passed);
  // A rule's own tolerance replaces the document's whole.
  const model_rules rules = parse_rules(
      "tolerance = { variance = 0.01, ks = 0.002 }\n[[rule]]\nmatch = 'a'\n"
      "expect = 'normal'\ntolerance = { mean = 0.1 }\n[[rule]]\nmatch = 'b'\n"
      "expect = 'normal'\n");
  EXPECT_EQ(rules.tolerance, (verinit::verify::tolerance{0.01, 0, 0.002}));
  EXPECT_EQ(rules.rules[0].tolerance, (verinit::verify::tolerance{0, 0.1, 0}));
  EXPECT_FALSE(rules.rules[1].tolerance.has_value());
}

TEST(RulesTest, BadTolerancesNameTheRuleAndTheKey) {
  const std::string rule = "[[rule]]\nmatch = '*'\nexpect = 'normal'\n";
  EXPECT_NE(error_of(rule + "tolerance = 0.01\n").find("rule 1: tolerance must be a table"),
            std::string::npos);
  EXPECT_NE(error_of(rule + "tolerance = { scale = 0.01 }\n")
                .find("rule 1: tolerance has key 'scale', but the keys are variance, mean, ks"),
            std::string::npos);
  EXPECT_NE(error_of(rule + "tolerance = { ks = 'big' }\n").find("tolerance ks must be a number"),
            std::string::npos);
  EXPECT_EQ(error_of(rule + "tolerance = { variance = 1.5 }\n"),
            "r.toml: rule 1: tolerance variance is 1.5, but must be in [0, 1)");
  EXPECT_EQ(error_of("tolerance = { mean = -1 }\n" + rule),
            "r.toml: tolerance mean is -1, but must be in [0, 1)");
  EXPECT_NO_THROW(parse_rules(rule + "tolerance = { variance = 0 }\n"));
}

TEST(PooledTest, NeedsTwoTensorsWithAVarianceTest) {
  const verinit::tensor_shape shape{64, 64};
  const auto w = verinit::sample<float>(shape, verinit::parse_scheme("torch_linear"));
  const std::vector<float> zeros(64, 0.0f);
  const std::vector<model_tensor> tensors{
      {"a.weight", "F32", shape, verinit::view_of<float>(w, shape), nullptr},
      {"a.bias", "F32", {64}, verinit::view_of<float>(zeros, verinit::tensor_shape{64}), nullptr},
      {"b.bias", "F32", {64}, verinit::view_of<float>(zeros, verinit::tensor_shape{64}), nullptr}};
  run_request request;
  add_plan(request, plan_model(tensors,
                               parse_rules("[[rule]]\nmatch = '*.bias'\nexpect = 'zeros'\n"
                                           "[[rule]]\nmatch = '*'\nexpect = 'torch_linear'\n"),
                               verinit::layout::torch, "m"));
  EXPECT_TRUE(pool_by_rule(verinit::verify::run(request).cases).empty());
}

}  // namespace

namespace {

using namespace verinit::verify;

TEST(ModelRulesTest, ConstantsAndMatchKeysStateRealLaws) {
  // Conv weights, not BatchNorm weights: a rank-4 rule before a rank-1 one of the same glob;
  // a bias bounded by a dimension of the shape; a constant in a law.
  const std::string text =
      "[constants]\nn_layer = 12\n"
      "[[rule]]\nmatch = '*.weight'\nrank = 4\nexpect = 'kaiming_normal(mode=fan_out)'\n"
      "[[rule]]\nmatch = '*.weight'\nshape = [10, 64]\ndtype = 'float32'\n"
      "expect = 'normal(std=0.02/sqrt(2*n_layer))'\n"
      "[[rule]]\nmatch = '*.weight'\nexpect = 'ones'\n"
      "[[rule]]\nmatch = '*.bias'\nexpect = 'uniform(a=-1/sqrt(shape[0]), b=1/sqrt(shape[0]))'\n";
  const model_rules rules = parse_rules(text, "r.toml");
  EXPECT_EQ(rules.constants.at("n_layer"), 12);
  EXPECT_EQ(match_rule(rules, "conv.weight", {8, 4, 3, 3}, verinit::dtype::float32),
            &rules.rules[0]);
  EXPECT_EQ(match_rule(rules, "fc.weight", {10, 64}, verinit::dtype::float32), &rules.rules[1]);
  EXPECT_EQ(match_rule(rules, "fc.weight", {10, 64}, verinit::dtype::bfloat16), &rules.rules[2]);
  EXPECT_EQ(match_rule(rules, "bn.weight", {8}, verinit::dtype::float32), &rules.rules[2]);
  // A plan: the bias's law from its own shape.
  std::vector<float> bias(100);
  verinit::fill_options options;
  bias = verinit::sample<float>(verinit::tensor_shape{100},
                                verinit::parse_scheme("uniform(a=-0.1,b=0.1)"), options);
  const std::vector<model_tensor> tensors{
      {"head.bias",
       "F32",
       {100},
       verinit::view_of<float>(bias, verinit::tensor_shape{100}),
       nullptr}};
  const model_plan plan = plan_model(tensors, rules, verinit::layout::torch, "m");
  ASSERT_EQ(plan.cases.size(), 1u);
  EXPECT_DOUBLE_EQ(plan.cases[0].spec.scheme.number("b"), 0.1);
}

TEST(ModelRulesTest, EveryRulesErrorNamesTheFile) {
  EXPECT_EQ(message_of([] { parse_rules("[constants]\nfan_in = 3\n", "r.toml"); }),
            "r.toml: constant 'fan_in' is the name of a tensor's variable; choose another");
  EXPECT_EQ(message_of([] { parse_rules("[constants]\nk = 'x'\n", "r.toml"); }),
            "r.toml: constant 'k' must be a finite number");
  EXPECT_EQ(
      message_of([] { parse_rules("[[rule]]\nmatch = '*'\nrank = -1\nskip = true\n", "r.toml"); }),
      "r.toml: rule 1: rank must be an integer in [0, 64]");
  EXPECT_EQ(message_of([] {
              parse_rules("[[rule]]\nmatch = '*'\ndtype = 'int8'\nskip = true\n", "r.toml");
            }),
            "r.toml: rule 1: dtype is 'int8', but must be float16, bfloat16, float32 or float64");
  EXPECT_EQ(message_of([] {
              parse_rules("[[rule]]\nmatch = '*'\nexpect = 'normal(std=1/sqrt(fan_inn))'\n",
                          "r.toml");
            }),
            "r.toml: rule 1 ('*'): expect: the expression '1/sqrt(fan_inn)': Unexpected token "
            "\"fan_inn\" (column 8)");
  EXPECT_NE(message_of([] {
              parse_rules("[[rule]]\nmatch = '*'\nexpect = 'he_normall'\n", "r.toml");
            }).find("did you mean he_normal?"),
            std::string::npos);
  // fans_from naming no tensor, and shape[i] beyond a tensor's rank, name the file too.
  std::vector<float> w(16, 0.1f);
  const std::vector<model_tensor> tensors{
      {"a.weight", "F32", {16}, verinit::view_of<float>(w, verinit::tensor_shape{16}), nullptr}};
  EXPECT_EQ(message_of([&] {
              plan_model(tensors,
                         parse_rules("[[rule]]\nmatch = '*'\nexpect = 'he_normal'\n"
                                     "fans_from = 'b.weight'\n",
                                     "r.toml"),
                         verinit::layout::torch, "m");
            }),
            "r.toml: rule '*': fans_from names 'b.weight' for tensor 'a.weight', but there is no "
            "such tensor");
  EXPECT_NE(message_of([&] {
              plan_model(
                  tensors,
                  parse_rules("[[rule]]\nmatch = '*'\nexpect = 'normal(std=shape[1])'\n", "r.toml"),
                  verinit::layout::torch, "m");
            })
                .find("r.toml: tensor 'a.weight' (rule '*'): the expression 'shape[1]': shape[1] "
                      "is beyond the tensor's rank 1"),
            std::string::npos);
}

}  // namespace
