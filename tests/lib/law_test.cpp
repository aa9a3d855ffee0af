// Known answers for every scheme's formula on non-square shapes, in both layouts.
// Sources: PyTorch torch.nn.init docs, Keras initializers docs, and the formulas in
// scheme.hpp's references. Tolerance: 1 ulp-level (EXPECT_DOUBLE_EQ) unless stated.
#include "verinit/law.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using verinit::layout;
using verinit::parse_scheme;

verinit::element_law law_of(const char* spec, verinit::tensor_shape shape,
                            layout l = layout::torch) {
  return verinit::resolve_law(parse_scheme(spec), verinit::compute_fans(shape, l));
}

double bound_of(const char* spec, verinit::tensor_shape shape, layout l = layout::torch) {
  const auto u = std::get<verinit::uniform_law>(law_of(spec, shape, l));
  EXPECT_EQ(u.a, -u.b);
  return u.b;
}

double std_of(const char* spec, verinit::tensor_shape shape, layout l = layout::torch) {
  const auto n = std::get<verinit::normal_law>(law_of(spec, shape, l));
  EXPECT_EQ(n.mean, 0.0);
  return n.std;
}

TEST(LawTest, HeNormalOnA256By512TorchLayer) {
  EXPECT_EQ(std_of("he_normal", {256, 512}), 0.0625);  // sqrt(2/512), exact
  EXPECT_DOUBLE_EQ(std_of("he_normal", {256, 512}, layout::keras), std::sqrt(2.0 / 256));
}

TEST(LawTest, HeAndLecunUseFanIn) {
  EXPECT_DOUBLE_EQ(bound_of("he_uniform", {64, 32, 3, 3}), std::sqrt(6.0 / 288));
  EXPECT_DOUBLE_EQ(bound_of("lecun_uniform", {3, 3, 32, 64}, layout::keras), std::sqrt(3.0 / 288));
  EXPECT_DOUBLE_EQ(std_of("lecun_normal", {100, 400}), std::sqrt(1.0 / 400));
}

TEST(LawTest, XavierUsesBothFans) {
  EXPECT_DOUBLE_EQ(bound_of("xavier_uniform", {300, 100}), std::sqrt(6.0 / 400));
  EXPECT_DOUBLE_EQ(bound_of("glorot_uniform(gain=2)", {300, 100}), 2 * std::sqrt(6.0 / 400));
  EXPECT_DOUBLE_EQ(std_of("xavier_normal(gain=1.5)", {16, 8, 5}), 1.5 * std::sqrt(2.0 / (40 + 80)));
}

TEST(LawTest, KaimingFollowsPyTorch) {
  // Default: leaky_relu with a = 0 -> gain sqrt(2); fan_in.
  EXPECT_DOUBLE_EQ(bound_of("kaiming_uniform", {256, 512}), std::sqrt(2.0) * std::sqrt(3.0 / 512));
  EXPECT_DOUBLE_EQ(std_of("kaiming_normal(mode=fan_out)", {256, 512}), std::sqrt(2.0 / 256));
  EXPECT_DOUBLE_EQ(std_of("kaiming_normal(a=0.2)", {10, 50}),
                   std::sqrt(2.0 / 1.04) / std::sqrt(50.0));
  EXPECT_DOUBLE_EQ(std_of("kaiming_normal(nonlinearity=tanh,a=3)", {10, 50}),
                   (5.0 / 3.0) / std::sqrt(50.0));  // a is only a slope for leaky_relu
  EXPECT_DOUBLE_EQ(std_of("kaiming_normal(nonlinearity=selu)", {10, 50, 2}),
                   0.75 / std::sqrt(100.0));
}

TEST(LawTest, TorchLinearIsUniformOneOverSqrtFanIn) {
  EXPECT_NEAR(bound_of("torch_linear", {10, 400}), 0.05, 1e-16);
  EXPECT_NEAR(bound_of("torch_linear", {8, 4, 5, 5}), 0.1, 1e-16);
}

TEST(LawTest, VarianceScalingMatchesKeras) {
  EXPECT_DOUBLE_EQ(
      bound_of("variance_scaling(distribution=uniform,mode=fan_avg,scale=2)", {30, 10}),
      std::sqrt(3.0 * 2 / 20));
  EXPECT_DOUBLE_EQ(std_of("variance_scaling(distribution=normal,mode=fan_out)", {30, 10}),
                   std::sqrt(1.0 / 30));
  const auto t = std::get<verinit::truncated_normal_law>(
      law_of("variance_scaling(scale=2)", {3, 3, 16, 4}, layout::keras));
  const double sigma = std::sqrt(2.0 / 144) / 0.87962566103423978;
  EXPECT_DOUBLE_EQ(t.std, sigma);
  EXPECT_DOUBLE_EQ(t.a, -2 * sigma);
  EXPECT_DOUBLE_EQ(t.b, 2 * sigma);
  EXPECT_EQ(t.mean, 0.0);
}

TEST(LawTest, PlainLawsKeepTheirParameters) {
  const auto u = std::get<verinit::uniform_law>(law_of("uniform(a=-0.3,b=0.5)", {2, 2}));
  EXPECT_EQ(u.a, -0.3);
  EXPECT_EQ(u.b, 0.5);
  const auto t = std::get<verinit::truncated_normal_law>(
      law_of("truncated_normal(mean=1,std=2,a=0,b=5)", {2, 2}));
  EXPECT_EQ(t.mean, 1.0);
  EXPECT_EQ(t.std, 2.0);
  EXPECT_EQ(std::get<verinit::constant_law>(law_of("constant(value=0.25)", {2, 2})).value, 0.25);
  EXPECT_EQ(std::get<verinit::constant_law>(law_of("ones", {2, 2})).value, 1.0);
}

TEST(LawTest, RejectsStructuredSchemesAndZeroFans) {
  EXPECT_THROW(law_of("orthogonal", {4, 4}), std::invalid_argument);
  EXPECT_THROW(law_of("eye", {4, 4}), std::invalid_argument);
  EXPECT_THROW(verinit::resolve_law(parse_scheme("he_normal"), verinit::fans{0, 5, 1}),
               std::invalid_argument);
  EXPECT_FALSE(verinit::is_elementwise(verinit::scheme_kind::sparse));
  EXPECT_TRUE(verinit::is_elementwise(verinit::scheme_kind::he_normal));
}

}  // namespace
