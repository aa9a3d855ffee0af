// The tests of an i.i.d. sample, declared once: the plan the in-memory runner, the streaming
// runner, replications, the decision, the JSON and the reports all read.
//
// As TestU01 declares its batteries as tables of tests, each entry says when the test applies,
// how it is computed from the sample's stream_state in memory (with the exact KS/A^2) and when
// streamed (with the bins' bracket), and, through the results it makes, how replications
// combine and what its power statement is. Adding a test is adding an entry (and its
// function) in src/iid_tests.cpp; nothing else changes. The tests, in order:
//   support                    exact: no value outside the support (rounded outward to the
//                              dtype), none on an excluded bound, none non-finite
//   ks                         sup |F_n - F|, p from the exact law of D_n
//   anderson_darling           A^2, p from its limiting law
//   mean, variance             z-tests against the law's moments, the variance's standard
//                              error from the law's kurtosis
//   extreme                    unbounded laws: max |x - mean| against its exact law, two-sided
//                              (a tail too heavy, or too light: clipped, truncated)
//   autocorrelation            lag-1 correlation of x, z = r sqrt(n)
//   magnitude_autocorrelation  lag-1 correlation of (x - mean)^2 (McLeod & Li 1983):
//                              dependence that keeps the linear correlation at zero
//   homogeneity                the variances of groups of output units against their pooled
//                              variance: one chi-square with the kurtosis-correct variance of a
//                              sample variance (rows or blocks drawn at different scales)
//   repeated_runs              windows of 4 samples seen before, Poisson null
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "verinit/verify/goodness_of_fit.hpp"
#include "verinit/verify/result.hpp"
#include "verinit/verify/stream_state.hpp"

namespace verinit::verify {

/// What an i.i.d. test reads.
struct iid_evidence {
  const stream_state& state;
  /// The exact KS/A^2 statistics (in memory); nullptr when streamed (the bracket instead).
  const fit_statistics* exact_fit = nullptr;
  int threads = 1;  ///< for the repeated-runs sort
};

/// One test.
struct iid_test {
  std::string_view name;
  /// Whether the test applies to this sample (extreme: unbounded laws only; homogeneity: two
  /// groups or more).
  bool (*applies)(const iid_evidence&);
  test_result (*in_memory)(const iid_evidence&);
  test_result (*streaming)(const iid_evidence&);
};

/// Every i.i.d. test, in the order results are reported.
std::span<const iid_test> iid_plan() noexcept;

/// The tests of the plan that apply, each in its in-memory form if evidence.exact_fit is set,
/// else in its streaming form.
std::vector<test_result> run_iid_tests(const iid_evidence& evidence);

/// The streaming forms of "ks" and "anderson_darling" from a binned fit's bracket of n values,
/// `nan` of them NaN (a NaN rejects), in `bins` bins: the p-value at the lower end of the
/// statistic's bracket (conservative), both ends in the result's values.
test_result binned_ks_test(const fit_bracket& bracket, std::int64_t n, std::int64_t nan,
                           std::int64_t bins);
test_result binned_anderson_darling_test(const fit_bracket& bracket, std::int64_t nan);

}  // namespace verinit::verify
