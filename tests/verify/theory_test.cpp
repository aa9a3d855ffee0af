// The verifier's theory table: known answers, computed here from the formulas by hand.
#include "verinit/verify/theory.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace verinit::verify;
using verinit::layout;

double sd_of(const char* spec, verinit::tensor_shape shape, layout l = layout::torch) {
  const auto e = theory_for(verinit::parse_scheme(spec), shape, l);
  return std::sqrt(e.law->moments().variance);
}

TEST(TheoryTest, KnownStandardDeviations) {
  EXPECT_NEAR(sd_of("he_normal", {256, 512}), 0.0625, 1e-16);
  EXPECT_NEAR(sd_of("he_uniform", {256, 512}), 0.0625, 1e-16);  // uniform's sd = bound/sqrt(3)
  EXPECT_NEAR(sd_of("xavier_normal", {300, 100}), std::sqrt(2.0 / 400), 1e-16);
  EXPECT_NEAR(sd_of("kaiming_normal(a=0.2)", {10, 50}), std::sqrt(2.0 / 1.04 / 50), 1e-16);
  EXPECT_NEAR(sd_of("kaiming_normal(mode=fan_out,nonlinearity=tanh)", {10, 50, 3}),
              5.0 / 3 / std::sqrt(30.0), 1e-16);
  EXPECT_NEAR(sd_of("torch_linear", {10, 400}), 0.05 / std::sqrt(3.0), 1e-16);
  EXPECT_NEAR(sd_of("lecun_normal", {3, 3, 16, 4}, layout::keras), std::sqrt(1.0 / 144), 1e-16);
}

TEST(TheoryTest, KerasTruncatedNormalHasTheTargetVarianceAfterTruncation) {
  const auto e = theory_for(verinit::parse_scheme("variance_scaling(scale=2)"),
                            verinit::tensor_shape{3, 3, 16, 4}, layout::keras);
  EXPECT_NEAR(e.law->moments().variance, 2.0 / 144, 1e-15);
  EXPECT_NEAR(e.law->moments().kurtosis, 2.3655367171296495, 1e-12);
}

TEST(TheoryTest, FansAreItsOwn) {
  const auto torch = fans_from_shape(std::vector<std::int64_t>{64, 32, 3, 5}, layout::torch);
  EXPECT_EQ(torch.fan_in, 32 * 15);
  EXPECT_EQ(torch.fan_out, 64 * 15);
  const auto keras = fans_from_shape(std::vector<std::int64_t>{3, 5, 32, 64}, layout::keras);
  EXPECT_EQ(keras.fan_in, 32 * 15);
  EXPECT_THROW(fans_from_shape(std::vector<std::int64_t>{7}, layout::torch), std::invalid_argument);
}

TEST(TheoryTest, StructuredExpectations) {
  const auto sparse = theory_for(verinit::parse_scheme("sparse(sparsity=0.33)"),
                                 verinit::tensor_shape{50, 40}, layout::torch);
  EXPECT_EQ(sparse.kind, expectation_kind::sparse);
  EXPECT_EQ(sparse.zeros_per_input, 17);
  const auto orth = theory_for(verinit::parse_scheme("orthogonal(gain=2)"),
                               verinit::tensor_shape{3, 3, 8, 24}, layout::keras);
  EXPECT_EQ(orth.rows, 72);
  EXPECT_EQ(orth.cols, 24);
  EXPECT_EQ(orth.gain, 2.0);
  EXPECT_EQ(theory_for(verinit::parse_scheme("constant(value=0.5)"), verinit::tensor_shape{2, 2},
                       layout::torch)
                .value,
            0.5);
}

}  // namespace
