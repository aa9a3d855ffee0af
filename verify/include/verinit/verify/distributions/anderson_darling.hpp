// The limiting null law of the Anderson-Darling statistic A^2 for a fully specified continuous
// law (T. W. Anderson & D. A. Darling, Ann. Math. Statist. 23, 1952), in Boost.Math's shape.
//
// cdf is the series of G. Marsaglia & J. Marsaglia, "Evaluating the Anderson-Darling
// distribution", J. Stat. Softw. 9(2), 2004, eq. (2):
//   A(z) = sqrt(2 pi)/z sum_j C(-1/2, j) (4j+1) exp(-(4j+1)^2 pi^2/(8z)) I_j(z),
//   I_j(z) = int_0^inf exp(z/(8(w^2+1)) - (4j+1)^2 pi^2 w^2/(8z)) dw,
// with each I_j by adaptive Gauss-Kronrod quadrature: accurate to ~1e-15 absolute (not the
// paper's quick polynomial, whose error near z = 10 is the size of the p-value itself).
// Beyond z = 25 (p < 3e-12), where 1 - A(z) loses its digits, the upper tail is its
// asymptote sqrt(3) erfc(sqrt(z)): A^2 = sum_k Z_k^2/(k(k+1)) is dominated by Z_1^2/2 and the
// other weights contribute prod_{k>=2} (1 - 2/(k(k+1)))^{-1/2} = sqrt(3) (within 0.6% at
// z = 30 of the 40-digit reference in tests/data/ad_asymptotic.csv).
// For finite n the law differs by O(1/n) (the paper's errfix); for the n >= 10^4 the
// verifier uses that is below its other errors, and it is omitted.
#pragma once

#include <boost/math/distributions/complement.hpp>
#include <limits>
#include <utility>

namespace verinit::verify {

// Boost.Math's idiom: cdf(complement(d, x)) for the upper tail.
using boost::math::complement;

class anderson_darling_distribution {};

inline std::pair<double, double> support(const anderson_darling_distribution&) {
  return {0.0, std::numeric_limits<double>::infinity()};
}

/// P(A^2 <= z) in the limit n -> infinity.
double cdf(const anderson_darling_distribution&, double z);
/// P(A^2 >= z) in the limit n -> infinity, accurate far into the tail.
double cdf(const boost::math::complemented2_type<anderson_darling_distribution, double>& c);

}  // namespace verinit::verify
