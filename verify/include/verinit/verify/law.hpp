// The continuous laws the verifier tests samples against, as Boost.Math distribution objects,
// and the few generic operations the tests need from them.
#pragma once

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <string>
#include <utility>
#include <variant>

#include "verinit/verify/distributions/truncated_normal.hpp"

namespace verinit::verify {

using continuous_law =
    std::variant<boost::math::uniform_distribution<>, boost::math::normal_distribution<>,
                 truncated_normal_distribution<>>;

/// F(x).
double law_cdf(const continuous_law& law, double x);
/// 1 - F(x), accurate in the upper tail.
double law_sf(const continuous_law& law, double x);
/// Mean, variance, kurtosis (not excess) and skewness of the law.
struct law_moments {
  double mean;
  double variance;
  double kurtosis;
  double skewness;
};
law_moments moments_of(const continuous_law& law);
/// The support [low, high] (infinite for the normal).
std::pair<double, double> support_of(const continuous_law& law);
/// True if the law's upper bound is excluded (a uniform's b).
bool upper_bound_excluded(const continuous_law& law);
/// "U[-0.1, 0.1)", "N(0, 0.0625^2)", "TN(0, 0.07^2; [-0.14, 0.14])".
std::string describe(const continuous_law& law);

}  // namespace verinit::verify
