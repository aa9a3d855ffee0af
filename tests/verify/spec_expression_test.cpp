// Scheme specs with expressions: the values for a tensor (against the formulas computed here
// from torch's fan rule), every name, and every error with its text.
#include "verinit/verify/spec_expression.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>

#include "verinit/scheme.hpp"

namespace {

using namespace verinit::verify;

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

double number(const std::string& spec, const char* key) {
  return verinit::parse_scheme(spec).number(key);
}

const expression_constants constants{{"n_layer", 12}, {"d_model", 768}};

expression_scope scope(verinit::tensor_shape shape, std::optional<double> layer = 3,
                       verinit::layout l = verinit::layout::torch) {
  return {std::move(shape), l, layer, &constants};
}

TEST(SpecExpressionTest, NumericParametersAreExpressionsOverTheTensor) {
  // ViT's conv_proj: fan_in = 3 * 16 * 16 = 768.
  const auto vit =
      evaluate_spec("truncated_normal(std=sqrt(1/fan_in), a=-2, b=2)", scope({768, 3, 16, 16}));
  EXPECT_DOUBLE_EQ(number(vit, "std"), std::sqrt(1.0 / 768));
  EXPECT_EQ(number(vit, "a"), -2);
  // EfficientNet's classifier: U(+-1/sqrt(out_features)), out_features = shape[0].
  const auto head =
      evaluate_spec("uniform(a=-1/sqrt(shape[0]), b=1/sqrt(shape[0]))", scope({1000, 1280}));
  EXPECT_DOUBLE_EQ(number(head, "b"), 1 / std::sqrt(1000.0));
  // GPT-2's residual projections, from a [constants] table; layer from the name.
  EXPECT_DOUBLE_EQ(
      number(evaluate_spec("normal(std=0.02/sqrt(2*n_layer))", scope({768, 768})), "std"),
      0.02 / std::sqrt(24.0));
  EXPECT_DOUBLE_EQ(
      number(evaluate_spec("normal(std={0.02 / sqrt(2 ** (layer + 1))})", scope({8, 8})), "std"),
      0.02 / 4);
  // fan_out, receptive_field, numel, rank, pow, min, max; Keras's layout.
  const auto all =
      evaluate_spec("uniform(a=-max(fan_out, receptive_field)/numel, b=pow(rank, 2) + min(1, 2))",
                    scope({3, 3, 16, 32}, 3, verinit::layout::keras));
  EXPECT_DOUBLE_EQ(number(all, "a"), -(32.0 * 9) / (3 * 3 * 16 * 32));
  EXPECT_DOUBLE_EQ(number(all, "b"), 17);
  // Choices and numbers pass through; a spec without expressions is unchanged.
  EXPECT_EQ(evaluate_spec("kaiming_normal(mode=fan_out,nonlinearity=relu)", scope({4, 4})),
            "kaiming_normal(mode=fan_out,nonlinearity=relu)");
  EXPECT_FALSE(has_expressions("normal(std=0.02)"));
  EXPECT_TRUE(has_expressions("normal(std=0.02*2)"));
  EXPECT_TRUE(has_expressions("normal(std={1})"));
}

TEST(SpecExpressionTest, ErrorsNameTheExpressionTheColumnAndTheProblem) {
  EXPECT_EQ(
      message_of([] { check_spec_expressions("normal(std=0.02/sqrt(2*n_layr))", constants); }),
      "the expression '0.02/sqrt(2*n_layr)': Unexpected token \"n_layr\" (column 13)");
  EXPECT_EQ(message_of([] { check_spec_expressions("normal(std=0.02/(2)", constants); }),
            "the expression '0.02/(2': Missing parenthesis (column 9)");
  EXPECT_EQ(message_of([] {
              evaluate_spec("uniform(a=-1/shape[2], b=1)", scope({10, 20}));
            }),
            "the expression '-1/shape[2]': shape[2] is beyond the tensor's rank 2 (shape "
            "[10,20])");
  EXPECT_EQ(message_of([] { evaluate_spec("normal(std=1/sqrt(fan_in))", scope({10})); }),
            "the expression '1/sqrt(fan_in)': uses fan_in, but a tensor of 1 dim has no fans");
  EXPECT_EQ(message_of([] { evaluate_spec("normal(std={layer})", scope({10}, std::nullopt)); }),
            "the expression 'layer': uses layer, but the tensor's name has no numeric component");
  EXPECT_NE(message_of([] {
              evaluate_spec("normal(std=1/(rank-2))", scope({10, 10}));
            }).find("is inf for this tensor"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              check_spec_expressions("normal(std=shape[x])", constants);
            }).find("shape must be indexed by a number"),
            std::string::npos);
  // The names shape[i] is read as are not the user's (found by rules_fuzz).
  EXPECT_NE(message_of([] {
              evaluate_spec("normal(std=shape_5_)", scope({10, 10}));
            }).find("unknown name starting 'shape_' (column 1): write shape[i]"),
            std::string::npos);
  EXPECT_EQ(message_of([] { check_spec_expressions("normal(std={1)", constants); }),
            "the spec 'normal(std={1)' has a '{' without '}'");
}

}  // namespace
