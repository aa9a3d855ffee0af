// diagnose(): each known bug, made on purpose from the library's own correct samples, is named;
// a case that passed has no diagnosis.
#include "verinit/verify/diagnosis.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "verinit/fill.hpp"
#include "verinit/verify/runner.hpp"

namespace {

using namespace verinit::verify;

std::vector<float> draw(const std::string& spec, const verinit::tensor_shape& shape,
                        std::uint64_t seed = 7) {
  verinit::fill_options options;
  options.seed = seed;
  return verinit::sample<float>(shape, verinit::parse_scheme(spec), options);
}

// The decided run's diagnosis of `data` against `expect` on `shape`.
std::string diagnosis_of(const std::vector<float>& data, const verinit::tensor_shape& shape,
                         const std::string& expect) {
  run_request request;
  request.options.threads = 2;
  request.cases.push_back(
      {case_spec::of(expect, shape), verinit::view_of<float>(data, shape), "test"});
  return run(request).cases.at(0).diagnosis;
}

const verinit::tensor_shape shape{128, 512};

TEST(DiagnosisTest, APassingCaseHasNone) {
  EXPECT_EQ(diagnosis_of(draw("kaiming_normal", shape), shape, "kaiming_normal"), "");
}

TEST(DiagnosisTest, NamesADroppedGain) {
  auto w = draw("kaiming_normal", shape);
  for (auto& x : w) x *= std::sqrt(0.5f);
  EXPECT_NE(diagnosis_of(w, shape, "kaiming_normal").find("a gain of sqrt(2) dropped"),
            std::string::npos);
}

TEST(DiagnosisTest, NamesSwappedFans) {
  const std::string d =
      diagnosis_of(draw("kaiming_normal(mode=fan_out)", shape), shape, "kaiming_normal");
  EXPECT_NE(d.find("fan_in and fan_out swapped"), std::string::npos) << d;
}

TEST(DiagnosisTest, NamesTorchsLinearDefaultForKaimingUniform) {
  const std::string d = diagnosis_of(draw("torch_linear", shape), shape, "kaiming_uniform");
  EXPECT_NE(d.find("a = sqrt(5)"), std::string::npos) << d;
}

TEST(DiagnosisTest, NamesAMissingTruncationCorrection) {
  // Keras's truncated variance_scaling has std sqrt(1/fan_in) after truncation at +-2 sd; the
  // bug draws N(0, 1/fan_in) truncated at +-2 sd without dividing the std by 0.8796.
  const double s = 1 / std::sqrt(512.0);
  const std::string spec = "truncated_normal(std=" + std::to_string(s) +
                           ",a=" + std::to_string(-2 * s) + ",b=" + std::to_string(2 * s) + ")";
  const std::string d =
      diagnosis_of(draw(spec, shape), shape, "variance_scaling(distribution=truncated_normal)");
  EXPECT_NE(d.find("without the 0.8796"), std::string::npos) << d;
}

TEST(DiagnosisTest, NamesNonFiniteHugeAndConstantValues) {
  auto w = draw("kaiming_normal", shape);
  w[100] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(diagnosis_of(w, shape, "kaiming_normal").find("1 non-finite values"),
            std::string::npos);
  auto huge = draw("kaiming_normal", shape);
  for (auto& x : huge) x *= 1e5f;
  EXPECT_NE(diagnosis_of(huge, shape, "kaiming_normal").find("far beyond any plausible law"),
            std::string::npos);
  const std::vector<float> zeros(128 * 512, 0.0f);
  EXPECT_NE(diagnosis_of(zeros, shape, "kaiming_normal").find("left at zeros"), std::string::npos);
  const std::vector<float> ones(128 * 512, 1.0f);
  EXPECT_NE(diagnosis_of(ones, shape, "kaiming_normal").find("a constant"), std::string::npos);
}

TEST(DiagnosisTest, NamesTheTwoPercentConvention) {
  // A layer re-initialised at N(0, 0.02^2) (Hugging Face's _init_weights) where torch's Linear
  // default U(+-1/sqrt(512)) is due: variance ratio 0.61, which fan_avg / fan_in (0.625) would
  // also explain within 3%; the std 0.02 is the likelier cause and is named first.
  const std::string d = diagnosis_of(draw("normal(std=0.02)", shape), shape, "torch_linear");
  EXPECT_NE(d.find("N(0, 0.02^2)"), std::string::npos) << d;
}

TEST(DiagnosisTest, NamesTheFanThatGivesTheVariance) {
  // An LSTM's U(+-1/sqrt(hidden)) drawn with the input size 48 for the hidden size 128.
  const verinit::tensor_shape gates{512, 128};
  const double bound = 1 / std::sqrt(48.0);
  const std::string d = diagnosis_of(
      draw("uniform(a=" + std::to_string(-bound) + ",b=" + std::to_string(bound) + ")", gates),
      gates, "torch_linear");
  EXPECT_NE(d.find("a fan of about 48"), std::string::npos) << d;
  EXPECT_NE(d.find("in place of 128"), std::string::npos) << d;
  EXPECT_NE(d.find("no dimension of this tensor's shape"), std::string::npos) << d;
}

TEST(DiagnosisTest, NamesAFanOnlyWhereTheShapeGivesIt) {
  // A 256x256x3x3 conv scaled by 1.1 (the example): the fan 1904 that would give it
  // is no product of the shape's dims, so no fan is blamed; the std ratio comes first.
  const verinit::tensor_shape conv{256, 256, 3, 3};
  auto w = draw("kaiming_normal", conv);
  for (auto& x : w) x *= 1.1f;
  std::string d = diagnosis_of(w, conv, "kaiming_normal");
  EXPECT_EQ(d.find("std 1.1"), 0u) << d;
  EXPECT_EQ(d.find("(a fan from other dimensions"), std::string::npos) << d;
  // fan_out of a 64x256x3x3 conv for its fan_in (576 for 2304): a product of the dims, named.
  const verinit::tensor_shape narrow{64, 256, 3, 3};
  d = diagnosis_of(draw("kaiming_normal(mode=fan_out)", narrow), narrow, "kaiming_normal");
  EXPECT_NE(d.find("fan"), std::string::npos) << d;
}

TEST(DiagnosisTest, SaysWhenNoSignatureFits) {
  // A law without fans, scaled by 1.3: no signature, no fan to blame.
  const verinit::tensor_shape flat{65536};
  auto w = draw("normal(std=0.5)", flat);
  for (auto& x : w) x *= 1.3f;
  const std::string d = diagnosis_of(w, flat, "normal(std=0.5)");
  EXPECT_EQ(d.find("std 1.299 times the law's (variance 1.687)"), 0u) << d;
  EXPECT_NE(d.find("no known cause fits"), std::string::npos) << d;
}

}  // namespace
