// Power: every bug of the catalogue must FAIL at the standard battery's size (10^7 samples;
// orthogonal: 2,441 matrices of 64x64), and the correct schemes on the same layers must pass.
// Fixed seeds: deterministic. The family-wise alpha is the gate's, 1e-6.
#include <gtest/gtest.h>

#include "bug_catalogue.hpp"

namespace {

class PowerTest : public ::testing::TestWithParam<verinit::testing::bug> {};

TEST_P(PowerTest, BugFailsAtTheStandardSize) {
  const auto& b = GetParam();
  const auto run = verinit::testing::verify_bug(b, b.make(10'000'000, 7));
  EXPECT_FALSE(run.passed) << b.name;
  std::string caught;
  for (const auto& t : run.cases[0].tests)
    if (!t.passed) caught += t.name + " ";
  std::printf("%s: caught by %s\n", b.name.c_str(), caught.c_str());
}

INSTANTIATE_TEST_SUITE_P(Catalogue, PowerTest, ::testing::ValuesIn(verinit::testing::catalogue()),
                         [](const auto& info) { return info.param.id; });

TEST(PowerTest, CorrectSamplesOfTheSameLayersPass) {
  for (const char* spec : {"he_uniform", "he_normal", "kaiming_normal(a=0.2)"}) {
    verinit::testing::bug correct{
        "correct", "correct", "", spec, {256, 512}, verinit::layout::torch, {}};
    EXPECT_TRUE(verinit::testing::verify_bug(
                    correct, verinit::testing::draw(spec, 10'000'000, 7, {256, 512}))
                    .passed)
        << spec;
  }
  verinit::testing::bug packed{
      "correct", "correct", "", "xavier_uniform", {1536, 512}, verinit::layout::torch, {}};
  EXPECT_TRUE(verinit::testing::verify_bug(
                  packed, verinit::testing::draw("xavier_uniform", 10'000'000, 7, {1536, 512}))
                  .passed);
  verinit::testing::bug keras{
      "correct", "correct", "", "variance_scaling", {3, 3, 64, 128}, verinit::layout::keras, {}};
  EXPECT_TRUE(verinit::testing::verify_bug(
                  keras, verinit::testing::draw("variance_scaling", 10'000'000, 7, {3, 3, 64, 128},
                                                verinit::layout::keras))
                  .passed);
}

}  // namespace
