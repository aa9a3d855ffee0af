// Holm-Bonferroni on hand-checked p-values.
#include "verinit/verify/multiple_testing.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using verinit::verify::test_result;

TEST(MultipleTestingTest, HolmStepsDownAndStopsAtTheFirstAcceptance) {
  // alpha = 0.05, m = 4: thresholds 0.0125, 0.0167, 0.025, 0.05 for the sorted p-values.
  std::vector<test_result> tests(5);
  const double p[] = {0.01, 0.04, 0.03, 0.005, 0.5};
  for (int i = 0; i < 4; ++i) tests[i].p_value = p[i];
  tests[4].exact = true;  // exact checks are outside the family and keep their verdict
  tests[4].passed = false;
  std::vector<test_result*> family;
  for (auto& t : tests) family.push_back(&t);
  EXPECT_EQ(verinit::verify::holm_bonferroni(family, 0.05), 4u);
  EXPECT_FALSE(tests[3].passed);  // 0.005 <= 0.0125
  EXPECT_FALSE(tests[0].passed);  // 0.01 <= 0.0167
  EXPECT_TRUE(tests[2].passed);   // 0.03 > 0.025: stop
  EXPECT_TRUE(tests[1].passed);   // 0.04 is not tested further
  EXPECT_FALSE(tests[4].passed);
  EXPECT_FALSE(tests[2].suspicious);
}

TEST(MultipleTestingTest, NanPValuesFailAndSmallOnesAreFlagged) {
  std::vector<test_result> tests(3);
  tests[0].p_value = NAN;
  tests[1].p_value = 5e-4;
  tests[2].p_value = 0.9;
  std::vector<test_result*> family{&tests[0], &tests[1], &tests[2]};
  verinit::verify::holm_bonferroni(family, 1e-6);
  EXPECT_FALSE(tests[0].passed);
  EXPECT_TRUE(tests[1].passed);
  EXPECT_TRUE(tests[1].suspicious);
  EXPECT_TRUE(tests[2].passed);
}

}  // namespace
