// The continuous laws the verifier tests samples against, as Boost.Math distribution objects,
// and the few generic operations the tests need from them.
#pragma once

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <variant>

#include "verinit/verify/detail/erfc.hpp"
#include "verinit/verify/distributions/truncated_normal.hpp"

namespace verinit::verify {

using continuous_law =
    std::variant<boost::math::uniform_distribution<>, boost::math::normal_distribution<>,
                 truncated_normal_distribution<>>;

/// F(x) of one law type, inline for hot loops. The normal's is erfc((mu - x)/(sigma sqrt 2))/2,
/// what Boost computes without its policy machinery, by detail/erfc.hpp's kernel (glibc's
/// vector erfc: Boost's cdf took 93 ns a value, this 1.5 to 4 ns).
inline double fast_cdf(const boost::math::uniform_distribution<>& d, double x) {
  if (std::isnan(x)) return x;
  if (x <= d.lower()) return 0;
  if (x >= d.upper()) return 1;
  return (x - d.lower()) / (d.upper() - d.lower());
}
/// The normal's argument of erfc, shared by fast_cdf and batched callers (same bits).
inline double normal_erfc_argument(const boost::math::normal_distribution<>& d, double x) {
  return (d.mean() - x) / (d.standard_deviation() * 1.41421356237309504880);
}
inline double fast_cdf(const boost::math::normal_distribution<>& d, double x) {
  return detail::erfc_one(normal_erfc_argument(d, x)) / 2;
}
/// The truncated normal's cdf is truncated_normal_distribution's, P(alpha <= Z <= z) / mass on
/// the side without cancellation, with its one erfc per value from the same kernel: the
/// argument, then the cdf from erfc(argument) and the law's two constant tails (same bits for
/// single values and batches).
struct truncated_normal_tails {
  double at_alpha, at_minus_alpha;  ///< P(Z >= alpha), P(Z >= -alpha)
};
inline truncated_normal_tails tails_of(const truncated_normal_distribution<>& d) {
  return {d.upper_tail(d.alpha()), d.upper_tail(-d.alpha())};
}
inline double truncated_normal_erfc_argument(const truncated_normal_distribution<>& d, double x) {
  const double z = (x - d.mean()) / d.standard_deviation();
  return (d.alpha() < 0 && z <= 0 ? -z : z) / std::sqrt(2.0);
}
inline double truncated_normal_cdf_from_erfc(const truncated_normal_distribution<>& d,
                                             const truncated_normal_tails& tails, double x,
                                             double erfc_of_argument) {
  if (std::isnan(x)) return x;
  if (x <= d.lower()) return 0;
  if (x >= d.upper()) return 1;
  const double z = (x - d.mean()) / d.standard_deviation();
  const double tail = erfc_of_argument / 2;  // upper_tail(z), or upper_tail(-z) for the lower
  double mass;                               // side: standard_mass(alpha, z) case by case
  if (d.alpha() >= 0)
    mass = tails.at_alpha - tail;
  else if (z <= 0)
    mass = tail - tails.at_minus_alpha;
  else
    mass = 1 - tail - tails.at_minus_alpha;
  return mass / d.mass();
}
inline double fast_cdf(const truncated_normal_distribution<>& d, double x) {
  return truncated_normal_cdf_from_erfc(d, tails_of(d), x,
                                        detail::erfc_one(truncated_normal_erfc_argument(d, x)));
}

/// u[k] = F(x[k]) for k < m, bitwise equal to fast_cdf; the normal's batched through the erfc
/// kernel (a single value pays a whole vector call).
template <class T, class Law>
void cdf_batch(const Law& law, const T* x, double* u, std::size_t m) {
  for (std::size_t k = 0; k < m; ++k) u[k] = fast_cdf(law, static_cast<double>(x[k]));
}
template <class T>
void cdf_batch(const boost::math::normal_distribution<>& law, const T* x, double* u,
               std::size_t m) {
  for (std::size_t k = 0; k < m; ++k) u[k] = normal_erfc_argument(law, static_cast<double>(x[k]));
  detail::erfc_batch(u, u, m);
  for (std::size_t k = 0; k < m; ++k) u[k] /= 2;
}

template <class T>
void cdf_batch(const truncated_normal_distribution<>& law, const T* x, double* u, std::size_t m) {
  for (std::size_t k = 0; k < m; ++k)
    u[k] = truncated_normal_erfc_argument(law, static_cast<double>(x[k]));
  detail::erfc_batch(u, u, m);
  const truncated_normal_tails tails = tails_of(law);
  for (std::size_t k = 0; k < m; ++k)
    u[k] = truncated_normal_cdf_from_erfc(law, tails, static_cast<double>(x[k]), u[k]);
}

/// F(x) (fast_cdf of the law's type).
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
