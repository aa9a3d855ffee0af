// What one test reports.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace verinit::verify {

/// The outcome of one test on one sample set.
///
/// A statistical test has a p-value; whether it passes is decided for the whole run by
/// Holm-Bonferroni at the family-wise alpha (see multiple_testing.hpp). An exact check (support,
/// structure, Gram) has no p-value and passes iff its condition holds.
struct test_result {
  std::string name;             ///< "ks", "anderson_darling", "variance", ...
  double statistic = 0;         ///< the test's statistic (D, A^2, z, a count, ...)
  double p_value = 1;           ///< raw p-value under the null (1 or 0 for an exact check)
  double adjusted_p_value = 1;  ///< Holm-adjusted over the run's family (set by the decision)
  bool exact = false;           ///< deterministic check, not part of the multiple-testing family
  bool passed = true;           ///< the decision
  bool suspicious = false;      ///< p < 1e-3 without failing
  std::vector<std::pair<std::string, double>> values;  ///< named extras (expected, CI, ...)
  std::string note;                                    ///< one line for humans
};

}  // namespace verinit::verify
