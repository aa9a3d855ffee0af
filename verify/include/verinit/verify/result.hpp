// What one test reports.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace verinit::verify {

/// The quantities the run's power statement names (decide() turns a test's standard error
/// into the effect it detects with 99% power at the run's alpha).
enum class detectable_quantity {
  none,
  relative_variance_error,  ///< (variance - law's) / law's
  mean_shift,               ///< in the law's standard deviations
};

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
  /// Reported, not decided (outside the family, always passed): a shape test a rule's ks
  /// tolerance stands in for (tolerance.hpp).
  bool informational = false;
  bool passed = true;       ///< the decision
  bool suspicious = false;  ///< p < 1e-3 without failing
  /// Named extras (expected value, CI, ...), for people and the JSON: no code reads them back
  /// by name, except the test's own replication rule.
  std::vector<std::pair<std::string, double>> values;
  std::string note;  ///< one line for humans

  /// How results of independent replications of this test combine; nullptr: the default (the
  /// counts of an exact check summed, a two-level KS of the p-values otherwise). Set where the
  /// test is declared; not written to JSON.
  test_result (*combine)(std::span<const test_result> parts) = nullptr;
  /// What a z-test of this statistic detects: one standard error, in the quantity's unit.
  detectable_quantity detects = detectable_quantity::none;
  double standard_error = NAN;
};

/// Replications of a case: for each test (by position; every replication ran the same tests),
/// its combine rule over the replications' results. Throws std::invalid_argument if the
/// replications ran different numbers of tests.
std::vector<test_result> combine_replications(
    std::span<const std::vector<test_result>> replications);

}  // namespace verinit::verify
