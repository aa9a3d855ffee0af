// Tolerance: a gate that must not fail on a framework's harmless quirks at huge n. With a
// tolerance, a test of "the exact law" becomes an equivalence check of "within the tolerance of
// it": it fails only when the data show, at the run's alpha, a deviation beyond the tolerance.
//
//   variance: relative variance error |v / sigma^2 - 1| <= variance (0.005: +-0.5 %)
//   mean:     mean shift |mean - mu| / sigma <= mean, in the law's standard deviations
//   ks:       Kolmogorov distance sup |F_true - F| <= ks
//
// The p-values (each exact at the boundary of its null, and so valid for all of it):
//   - a z-test of an effect e estimated with standard error s (the variance and mean tests,
//     and the pooled ones): under |e| <= tol the least favourable truth is |e| = tol, and
//     p = Q((|e^| - tol) / s) + Q((|e^| + tol) / s), Q the standard normal upper tail. With
//     tol = 0 it is the two-sided p-value; it is 1 - Phi(...) + ... <= 1.
//   - KS: under sup |F_true - F| <= tol, D_n = sup |F_n - F| <= sup |F_n - F_true| + tol, so
//     P(D_n >= d) <= P(D_n(F_true) >= d - tol): p = the exact law of D_n at max(0, d - tol)
//     (conservative; on a 16-bit grid, where D_n is already conservatively tested, too).
//   - Anderson-Darling and the chi-square on a grid have no equivalence form: with a ks
//     tolerance they measure the same departure as KS, more finely, so they are kept as
//     information (reported with their p-value, not decided); without a ks tolerance they are
//     decided as usual. The exact checks (support, finiteness, structure), the tail, independence
//     and homogeneity tests are always decided: a harmless quirk does not put values at 100
//     sigma, NaNs in a tensor or rows of one value.
#pragma once

#include <string>
#include <vector>

#include "verinit/verify/result.hpp"

namespace verinit::verify {

struct tolerance {
  double variance = 0;  ///< relative, in [0, 1)
  double mean = 0;      ///< in standard deviations, in [0, 1)
  double ks = 0;        ///< Kolmogorov distance, in [0, 1)

  /// Whether any is non-zero.
  bool any() const noexcept { return variance > 0 || mean > 0 || ks > 0; }
  friend bool operator==(const tolerance&, const tolerance&) = default;
};

/// Throws std::invalid_argument "<where>: tolerance <key> is <value>, but must be in [0, 1)"
/// for a value outside [0, 1) (NaN included).
void check_tolerance(const tolerance& t, const std::string& where);

/// "variance +-0.5%, mean +-0.01 sd, ks 0.002" (the non-zero ones); "none" when !t.any().
std::string to_string(const tolerance& t);

/// p of the equivalence z-test above: the effect z * standard_error against +-tol.
double equivalence_p(double z, double standard_error, double tol);

/// Turns a sample's tests into the tolerance's equivalence checks (the file comment): the mean
/// and variance z-tests (by what they detect) and "ks" and "pooled_ks" (the sample count from
/// their value "n") get their p-value from the tolerance, a value "tolerance" and a note; with a
/// ks tolerance "anderson_darling", "pooled_anderson_darling" and "chi_square" become
/// informational. Nothing changes where the tolerance is 0 for that test.
void apply_tolerance(std::vector<test_result>& tests, const tolerance& t);

}  // namespace verinit::verify
