// Signal propagation: the verdicts of the standard configurations on a small network, the
// criterion's logic, determinism, and bad options.
#include "verinit/verify/propagation.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace verinit::verify;

propagation_options small() {
  propagation_options o;
  o.depth = 30;
  o.width = 128;
  o.batch = 128;
  o.seeds = 2;
  return o;
}

TEST(PropagationTest, EveryStandardConfigurationGetsItsExpectedVerdict) {
  const propagation_result r = propagate(standard_propagation_configs(), small());
  ASSERT_EQ(r.cases.size(), 10u);
  for (const auto& c : r.cases) {
    EXPECT_EQ(c.verdict, c.config.expected) << c.config.label << " r=" << c.forward_ratio;
    EXPECT_TRUE(c.passed);
    EXPECT_EQ(c.forward.size(), c.overflowed ? c.forward.size() : 30u);
  }
  EXPECT_TRUE(r.passed);
  // He + ReLU: the first layer sees unit-variance inputs, so Var(z_1) = 2 (He's gain);
  // LeCun + SELU holds 1.
  EXPECT_NEAR(r.cases[0].forward[0], 2.0, 0.1);
  EXPECT_NEAR(r.cases[2].forward.back(), 1.0, 0.1);
  // normal(0, 1) + ReLU at width 128: x64 a layer, 20 layers from 10 to 30.
  EXPECT_GT(r.cases[6].forward_ratio, 1e30);
  EXPECT_GT(r.cases[7].saturated.back(), 0.75);  // normal(0, 1) + tanh
  EXPECT_TRUE(r.cases[3].symmetric && r.cases[4].symmetric);
  EXPECT_FALSE(r.cases[0].symmetric);
}

TEST(PropagationTest, Float32OverflowIsExplodingAndStopsTheCurve) {
  propagation_options o = small();
  o.width = 512;
  o.batch = 16;
  o.depth = 40;  // x256 a layer: float32 overflows near layer 16
  o.seeds = 1;
  const propagation_result r =
      propagate({{"normal(0, 1) + ReLU", "normal", activation::relu, "exploding"}}, o);
  EXPECT_TRUE(r.cases[0].overflowed);
  EXPECT_LT(r.cases[0].forward.size(), 40u);
  EXPECT_TRUE(r.cases[0].backward.empty());
  EXPECT_TRUE(std::isnan(r.cases[0].forward_ratio));
  EXPECT_EQ(r.cases[0].verdict, "exploding");
}

TEST(PropagationTest, AWrongSchemeFailsTheMatchedPair) {
  // Xavier's variance where He's is needed: the matched-pair claim fails, as it should.
  const propagation_result r =
      propagate({{"He + ReLU, wrong gain", "xavier_normal", activation::relu, "stable"}}, small());
  EXPECT_EQ(r.cases[0].verdict, "vanishing");
  EXPECT_FALSE(r.passed);
}

TEST(PropagationTest, VerdictFollowsTheCriterionInOrder) {
  propagation_case c;
  c.config.act = activation::tanh;
  c.forward_ratio = 1;
  EXPECT_EQ(propagation_verdict(c), "stable");
  c.forward_ratio = 0.49;
  EXPECT_EQ(propagation_verdict(c), "vanishing");
  c.forward_ratio = 2.01;
  EXPECT_EQ(propagation_verdict(c), "exploding");
  c.forward_ratio = 1;
  c.saturated = {0.2, 0.51};
  EXPECT_EQ(propagation_verdict(c), "saturating");
  c.config.act = activation::relu;  // saturation is a tanh verdict
  EXPECT_EQ(propagation_verdict(c), "stable");
  c.forward_ratio = NAN;
  EXPECT_EQ(propagation_verdict(c), "vanishing");
  c.overflowed = true;
  EXPECT_EQ(propagation_verdict(c), "exploding");
  c.symmetric = true;
  EXPECT_EQ(propagation_verdict(c), "symmetric");
}

TEST(PropagationTest, SameResultOnOneThreadAndTwo) {
  propagation_options o = small();
  o.depth = 20;
  o.width = 32;
  o.batch = 16;
  o.threads = 1;
  const auto one = propagate(standard_propagation_configs(), o);
  o.threads = 2;
  const auto two = propagate(standard_propagation_configs(), o);
  for (std::size_t i = 0; i < one.cases.size(); ++i) {
    EXPECT_EQ(one.cases[i].forward, two.cases[i].forward);
    EXPECT_EQ(one.cases[i].backward, two.cases[i].backward);
  }
}

TEST(PropagationTest, BadOptionsAreNamed) {
  const auto configs = standard_propagation_configs();
  const auto message = [&](propagation_options o) {
    try {
      propagate(configs, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  propagation_options o;
  o.depth = 10;
  EXPECT_NE(message(o).find("depth"), std::string::npos);
  o = {};
  o.batch = 1;
  EXPECT_NE(message(o).find("batch"), std::string::npos);
  o = {};
  o.seeds = 0;
  EXPECT_NE(message(o).find("seeds"), std::string::npos);
  EXPECT_THROW(propagate({{"x", "not_a_scheme", activation::relu, "stable"}}, small()),
               std::invalid_argument);
  EXPECT_THROW(parse_activation("gelu"), std::invalid_argument);
  EXPECT_EQ(parse_activation("selu"), activation::selu);
}

}  // namespace
