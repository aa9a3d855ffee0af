// The default rules by which replications combine.
#include "verinit/verify/result.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using namespace verinit::verify;

test_result statistical(double p) {
  test_result t;
  t.name = "variance";
  t.p_value = p;
  t.statistic = 1;
  t.detects = detectable_quantity::relative_variance_error;
  t.standard_error = 0.1;
  return t;
}

TEST(ResultTest, ReplicationsOfExactChecksAddUp) {
  test_result pass;
  pass.name = "support";
  pass.exact = true;
  test_result fail = pass;
  fail.passed = false;
  fail.statistic = 3;
  const std::vector<std::vector<test_result>> parts{{pass}, {fail}, {pass}};
  const auto combined = combine_replications(parts);
  ASSERT_EQ(combined.size(), 1u);
  EXPECT_FALSE(combined[0].passed);
  EXPECT_EQ(combined[0].statistic, 3);
  EXPECT_EQ(combined[0].p_value, 0);
}

TEST(ResultTest, StatisticalTestsBecomeTwoLevel) {
  // 20 p-values evenly spread: KS against U(0, 1) passes; all near 0 it fails.
  std::vector<std::vector<test_result>> even, low;
  for (int r = 0; r < 20; ++r) {
    even.push_back({statistical((r + 0.5) / 20)});
    low.push_back({statistical(1e-4 * (r + 1))});
  }
  const auto a = combine_replications(even), b = combine_replications(low);
  EXPECT_GT(a[0].p_value, 0.9);
  EXPECT_LT(b[0].p_value, 1e-20);
  EXPECT_NE(a[0].note.find("two-level"), std::string::npos);
  EXPECT_EQ(a[0].detects, detectable_quantity::none);  // the one-level power statement is gone
}

TEST(ResultTest, ATestsOwnRuleWins) {
  test_result t = statistical(0.5);
  t.combine = [](std::span<const test_result> parts) {
    test_result out = parts.front();
    out.statistic = static_cast<double>(parts.size());
    return out;
  };
  const auto combined = combine_replications(std::vector<std::vector<test_result>>{{t}, {t}, {t}});
  EXPECT_EQ(combined[0].statistic, 3);
  EXPECT_THROW(combine_replications(std::vector<std::vector<test_result>>{{t}, {t, t}}),
               std::invalid_argument);
}

}  // namespace
