// Q = sum_i w_i Z_i^2 with Z_i independent N(0, 1) and w_i > 0: the limiting null law of the
// Cramer-von Mises family of statistics for a discrete (or grouped) null (V. Choulakian,
// R. A. Lockhart & M. A. Stephens, "Cramer-von Mises statistics for discrete distributions",
// Canad. J. Statist. 22, 1994), whose weights are the eigenvalues of a matrix of the cells'
// probabilities; in Boost.Math's shape.
//
// The upper tail is J. P. Imhof's inversion ("Computing the distribution of quadratic forms in
// normal variables", Biometrika 48, 1961, eq. 3.2):
//   P(Q > x) = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du,
//   theta(u) = (1/2) sum_i atan(w_i u) - x u / 2,   rho(u) = prod_i (1 + w_i^2 u^2)^(1/4),
// integrated panel by panel (Kronrod's 61-point rule over each period of the x u / 2 rotation)
// until the oscillating rest is below 1e-13: accurate to ~1e-12 absolute. It needs a few weights
// to be quick (the integrand falls as u^-(1 + k/2)): the discrete A^2 uses it with 8 or more.
// Far in the tail (where the asymptote is below 1e-9 and w_2 <= 0.9 w_1), the largest weight's
// chi-square with the others' factor, exact as x -> infinity:
//   P(Q > x) ~ erfc(sqrt(x / (2 w_1))) prod_{i >= 2} (1 - w_i / w_1)^(-1/2),
// within ~1.5% there for the Anderson-Darling weights (and slightly low: anti-conservative by
// that much at p < 1e-9, below any decision at the run's default alpha); the continuous
// Anderson-Darling law's sqrt(3) erfc(sqrt(z)) is the case w_j = 1/(j(j+1)).
// Checked (tests/verify/weighted_chi_square_test.cpp) against the exact laws of six and eight
// equal weights (chi-square(6), chi-square(8)) and against the continuous Anderson-Darling law
// (Marsaglia & Marsaglia's series and its own asymptote) from z = 0.2 to 30.
#pragma once

#include <boost/math/distributions/complement.hpp>
#include <limits>
#include <utility>
#include <vector>

namespace verinit::verify {

using boost::math::complement;

class weighted_chi_square_distribution {
 public:
  /// The weights, each finite and > 0 (std::invalid_argument otherwise; at least one).
  explicit weighted_chi_square_distribution(std::vector<double> weights);
  /// In decreasing order.
  const std::vector<double>& weights() const noexcept { return weights_; }
  /// sum w_i.
  double mean() const noexcept { return mean_; }

 private:
  std::vector<double> weights_;
  double mean_ = 0;
};

inline std::pair<double, double> support(const weighted_chi_square_distribution&) {
  return {0.0, std::numeric_limits<double>::infinity()};
}

/// P(Q <= x).
double cdf(const weighted_chi_square_distribution& d, double x);
/// P(Q > x), with relative accuracy far into the tail.
double cdf(const boost::math::complemented2_type<weighted_chi_square_distribution, double>& c);

}  // namespace verinit::verify
