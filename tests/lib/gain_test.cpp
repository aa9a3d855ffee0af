// torch.nn.init.calculate_gain's table (PyTorch docs, "calculate_gain").
#include "verinit/gain.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using verinit::nonlinearity;

TEST(GainTest, MatchesPyTorchTable) {
  for (const auto nl :
       {nonlinearity::linear, nonlinearity::conv1d, nonlinearity::conv2d, nonlinearity::conv3d,
        nonlinearity::conv_transpose1d, nonlinearity::conv_transpose2d,
        nonlinearity::conv_transpose3d, nonlinearity::sigmoid})
    EXPECT_EQ(verinit::calculate_gain(nl), 1.0) << verinit::to_string(nl);
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::selu), 0.75);
}

TEST(GainTest, LeakyReluUsesTheSquaredSlope) {
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::leaky_relu),
                   std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::leaky_relu, 0.0), std::sqrt(2.0));
  // sqrt(2/(1+a^2)), not the common bug sqrt(2/(1+a)): they differ for a = 0.2.
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::leaky_relu, 0.2), std::sqrt(2.0 / 1.04));
  EXPECT_DOUBLE_EQ(verinit::calculate_gain(nonlinearity::leaky_relu, std::sqrt(5.0)),
                   std::sqrt(1.0 / 3.0));
}

TEST(GainTest, ParsesEveryName) {
  EXPECT_EQ(verinit::parse_nonlinearity("leaky_relu"), nonlinearity::leaky_relu);
  EXPECT_EQ(verinit::parse_nonlinearity("conv_transpose2d"), nonlinearity::conv_transpose2d);
  EXPECT_THROW(verinit::parse_nonlinearity("gelu"), std::invalid_argument);
}

TEST(GainTest, RejectsBadParams) {
  EXPECT_THROW(verinit::calculate_gain(nonlinearity::relu, 0.1), std::invalid_argument);
  EXPECT_THROW(verinit::calculate_gain(nonlinearity::leaky_relu, NAN), std::invalid_argument);
  EXPECT_THROW(verinit::calculate_gain(nonlinearity::leaky_relu, INFINITY), std::invalid_argument);
}

}  // namespace
