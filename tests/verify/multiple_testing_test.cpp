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
  // Holm-adjusted: 4 x 0.005, max(0.02, 3 x 0.01), max(0.03, 2 x 0.03), max(0.06, 0.04); each
  // <= alpha exactly when rejected.
  EXPECT_DOUBLE_EQ(tests[3].adjusted_p_value, 0.02);
  EXPECT_DOUBLE_EQ(tests[0].adjusted_p_value, 0.03);
  EXPECT_DOUBLE_EQ(tests[2].adjusted_p_value, 0.06);
  EXPECT_DOUBLE_EQ(tests[1].adjusted_p_value, 0.06);
  EXPECT_EQ(tests[4].adjusted_p_value, tests[4].p_value);
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
