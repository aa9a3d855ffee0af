// Power: every bug of the catalogue must FAIL at the standard battery's size (10^7 samples;
// orthogonal: 2,441 matrices of 64x64), and the correct schemes on the same layers must pass.
// Fixed seeds: deterministic. The family-wise alpha is the gate's, 1e-6.
#include <gtest/gtest.h>

#include "bug_catalogue.hpp"

namespace {

class PowerTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(PowerTest, BugFailsAtTheStandardSize) {
  const auto b = verinit::testing::catalogue()[GetParam()];
  const auto run = verinit::testing::verify_bug(b, b.make(10'000'000, 7));
  EXPECT_FALSE(run.passed) << b.name;
  std::string caught;
  for (const auto& t : run.cases[0].tests)
    if (!t.passed) caught += t.name + " ";
  std::printf("%s: caught by %s\n", b.name.c_str(), caught.c_str());
}

INSTANTIATE_TEST_SUITE_P(Catalogue, PowerTest, ::testing::Range<std::size_t>(0, 11),
                         [](const auto& info) { return "Bug" + std::to_string(info.index); });

TEST(PowerTest, CorrectSamplesOfTheSameLayersPass) {
  for (const char* spec : {"he_uniform", "he_normal", "kaiming_normal(a=0.2)"}) {
    verinit::testing::bug correct{"correct", "", spec, {256, 512}, verinit::layout::torch, {}};
    EXPECT_TRUE(verinit::testing::verify_bug(
                    correct, verinit::testing::draw(spec, 10'000'000, 7, {256, 512}))
                    .passed)
        << spec;
  }
  verinit::testing::bug keras{
      "correct", "", "variance_scaling", {3, 3, 64, 128}, verinit::layout::keras, {}};
  EXPECT_TRUE(verinit::testing::verify_bug(
                  keras, verinit::testing::draw("variance_scaling", 10'000'000, 7, {3, 3, 64, 128},
                                                verinit::layout::keras))
                  .passed);
}

}  // namespace
