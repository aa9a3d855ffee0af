// The default rules by which replications of a test combine (see result.hpp).
#include "verinit/verify/result.hpp"

#include <algorithm>
#include <string>

#include "verinit/detail/check.hpp"
#include "verinit/verify/goodness_of_fit.hpp"

namespace verinit::verify {
namespace {

// The default replication rules.
test_result sum_exact_checks(std::span<const test_result> parts) {
  test_result merged = parts.front();
  double statistic = 0;
  for (const test_result& part : parts) {
    statistic += part.statistic;
    merged.passed = merged.passed && part.passed;
  }
  merged.statistic = statistic;
  merged.p_value = merged.passed ? 1 : 0;
  merged.values.clear();
  merged.note = "summed over " + std::to_string(parts.size()) + " replications: " + merged.note;
  return merged;
}

// Two-level: the replications' p-values against U(0, 1) by KS (as TestU01 does).
test_result two_level(std::span<const test_result> parts) {
  test_result merged = parts.front();
  std::vector<double> p;
  for (const test_result& part : parts) p.push_back(part.p_value);
  std::sort(p.begin(), p.end());
  const test_result second_level = ks_test(p);
  merged.statistic = second_level.statistic;
  merged.p_value = second_level.p_value;
  merged.values = {{"min_p", p.front()}, {"replications", static_cast<double>(parts.size())}};
  merged.note = "two-level: KS of " + std::to_string(parts.size()) + " p-values against U(0,1)";
  merged.detects = detectable_quantity::none;  // the one-level power statement no longer holds
  return merged;
}

}  // namespace

std::vector<test_result> combine_replications(
    std::span<const std::vector<test_result>> replications) {
  std::vector<test_result> out;
  if (replications.empty()) return out;
  const std::size_t tests = replications.front().size();
  for (const auto& r : replications)
    if (r.size() != tests)
      verinit::detail::throw_invalid("combine_replications", "test count", std::to_string(r.size()),
                                     std::to_string(tests));
  std::vector<test_result> parts(replications.size());
  for (std::size_t t = 0; t < tests; ++t) {
    for (std::size_t r = 0; r < replications.size(); ++r) parts[r] = replications[r][t];
    const test_result& first = parts.front();
    const auto rule = first.combine != nullptr ? first.combine
                      : first.exact            ? sum_exact_checks
                                               : two_level;
    out.push_back(rule(parts));
  }
  return out;
}

}  // namespace verinit::verify
