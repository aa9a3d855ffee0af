// The exact null distribution of the two-sided one-sample Kolmogorov-Smirnov statistic D_n,
// for every n >= 1, in Boost.Math's shape: cdf(d, x) = P(D_n <= x) and
// cdf(complement(d, x)) = P(D_n >= x), the p-value, accurate far into the tail.
//
// Method selection of R. Simard & P. L'Ecuyer, "Computing the two-sided Kolmogorov-Smirnov
// distribution", J. Stat. Softw. 39(11), 2011 (as scipy.stats.kstwo):
// - n x <= 1 and x >= 1 - 1/n: exact closed forms (Ruben & Gambino 1982);
// - x >= 1/2: P(D_n >= x) = 2 P(D_n^+ >= x) exactly;
// - otherwise the Durbin matrix of G. Marsaglia, W. W. Tsang & J. Wang, "Evaluating
//   Kolmogorov's distribution", J. Stat. Softw. 8(18), 2003, where it is fast and accurate
//   (n <= 140, or n <= 10^5 with n x^{3/2} <= 1.4), the Pelz-Good asymptotic series
//   (W. Pelz & I. J. Good, JRSS B 38, 1976) elsewhere;
// - in the upper tail (n x^2 >= 2.2 for n > 140, >= 4 for n <= 140), P(D_n >= x) =
//   2 P(D_n^+ >= x) to within O(p^2), with the one-sided Smirnov probability from the
//   Birnbaum & Tingey (1951) sum at every n: each term in C. Loader's cancellation-free form
//   ("Fast and accurate computation of binomial probabilities", 2000), and, where the terms
//   are a smooth function of j (large n, n x^2 not small), the sum taken as a trapezoid rule
//   over every h-th term with h halved until two passes agree (Trefethen & Weideman, SIAM
//   Review 56(3), 2014: geometric convergence for analytic summands), else term by term.
//   Relative error < 1e-11 against the term-by-term sum for n in [10, 10^7] and p in
//   [1e-300, 1] (the test's grid); a few hundred terms at any n >= 10^4 in the tail, where
//   the sum term by term took n, and Smirnov's asymptotic exp(-(6 n x + 1)^2 / (18 n)), used
//   before for n > 10^6, was off by up to 6e-2 relative at p = 1e-300.
// Stated errors, relative, each tested (kolmogorov_smirnov_test.cpp) against the exact law:
// the Durbin matrix and the closed forms ~1e-13; Pelz-Good's body (n > 140, n x^2 < 2.2, so
// p > ~0.02) 5e-5 against the matrix (the grid's worst 3.1e-5, n = 141); the tail's
// 2 P(D_n^+ >= x) neglects the two-crossing term, e^{-6 n x^2} relative (1.9e-6 at the
// n x^2 = 2.2 switch, p ~ 0.02; below 1e-11 from n x^2 = 4.2, p ~ 5e-4, on), plus the Smirnov
// sum's 1e-11. So every p-value below 5e-4, those that decide at the run's alpha / m, is
// within 3e-11 of the exact law.
// The limiting Kolmogorov law alone is used nowhere: its error is O(1/sqrt(n)).
// tests/verify/kolmogorov_smirnov_test.cpp checks all branches against scipy.stats.kstwo.
#pragma once

#include <boost/math/distributions/complement.hpp>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace verinit::verify {

// Boost.Math's idiom: cdf(complement(d, x)) for the upper tail.
using boost::math::complement;

namespace detail {
/// P(D_n <= x) and P(D_n >= x) computed together, each without cancellation where possible.
struct ks_probabilities {
  double cdf;
  double sf;
};
ks_probabilities kolmogorov_smirnov_probabilities(std::int64_t n, double x);
/// One-sided Smirnov P(D_n^+ >= x): the Birnbaum-Tingey sum, by strides where it converges.
double smirnov_sf(std::int64_t n, double x);
/// The same sum term by term (O(n) terms): the exact law the strided sum is tested against.
double smirnov_sf_term_by_term(std::int64_t n, double x);
/// P(D_n < x) by the Durbin matrix (Marsaglia, Tsang & Wang), exact to ~1e-14 at any n and x
/// but O((n x)^3 log n): the exact two-sided law the other methods are tested against.
double durbin_cdf(std::int64_t n, double x);
}  // namespace detail

/// Law of D_n = sup |F_n - F| for n i.i.d. samples from a continuous F.
class kolmogorov_smirnov_distribution {
 public:
  /// Throws std::invalid_argument unless n >= 1.
  explicit kolmogorov_smirnov_distribution(std::int64_t n) : n_(n) {
    if (n < 1) throw std::invalid_argument("kolmogorov_smirnov_distribution: n must be >= 1");
  }
  std::int64_t sample_count() const { return n_; }

 private:
  std::int64_t n_;
};

inline std::pair<double, double> support(const kolmogorov_smirnov_distribution&) {
  return {0.0, 1.0};
}

inline double cdf(const kolmogorov_smirnov_distribution& d, double x) {
  return detail::kolmogorov_smirnov_probabilities(d.sample_count(), x).cdf;
}

inline double cdf(
    const boost::math::complemented2_type<kolmogorov_smirnov_distribution, double>& c) {
  return detail::kolmogorov_smirnov_probabilities(c.dist.sample_count(), c.param).sf;
}

/// The critical value at level p: the smallest x with P(D_n >= x) <= p (to a few ulp), found by
/// TOMS 748 (Alefeld, Potra & Shi 1995; Boost's toms748_solve) on the exact law. A D at or
/// beyond it is rejected at level p. p <= 0 gives 1 and p >= 1 gives 0.
double quantile(const boost::math::complemented2_type<kolmogorov_smirnov_distribution, double>& c);
/// The x with P(D_n <= x) = p: quantile(complement(d, 1 - p)).
inline double quantile(const kolmogorov_smirnov_distribution& d, double p) {
  return quantile(complement(d, 1 - p));
}

}  // namespace verinit::verify
