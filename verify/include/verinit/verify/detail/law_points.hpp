// The customisation points of a law (internal): what the verifier's hot paths and reports ask
// of a distribution beyond Boost.Math's free functions, each with a generic default written
// on those functions, and the fast overloads of the laws the theory uses.
//
// Every call site calls these unqualified, so a law of another namespace customises one by an
// overload found through argument-dependent lookup:
//   support_of(d)            the support, infinite ends as infinities
//   upper_bound_excluded(d)  whether the upper end of the support is excluded (a uniform's b)
//   fast_cdf(d, x)           F(x): NaN for NaN, 0 and 1 outside the support; may be faster than
//                            cdf(d, x) but must equal cdf_batch's value bitwise
//   cdf_batch(d, x, u, m)    u[k] = fast_cdf(d, x[k]) for k < m (x and u may be the same array)
//   bucket_edge(d, p)        any non-decreasing function of p close to the quantile: it only
//                            balances the KS/A^2 buckets
//   central_moment(d, k)     E (X - mean)^k for k <= 8
//   describe(d)              "N(0, 0.0625^2)"
#pragma once

#include <boost/math/distributions/complement.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <boost/math/quadrature/exp_sinh.hpp>
#include <boost/math/quadrature/sinh_sinh.hpp>
#include <boost/math/quadrature/tanh_sinh.hpp>
#include <boost/math/tools/precision.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "verinit/verify/detail/erfc.hpp"
#include "verinit/verify/distributions/truncated_normal.hpp"

namespace verinit::verify::detail {

using boost::math::complement;

// ---- generic defaults -----------------------------------------------------------------------

template <class D>
std::pair<double, double> support_of(const D& d) {
  const auto s = support(d);
  constexpr double huge = boost::math::tools::max_value<double>();
  return {s.first <= -huge ? -INFINITY : static_cast<double>(s.first),
          s.second >= huge ? INFINITY : static_cast<double>(s.second)};
}

template <class D>
bool upper_bound_excluded(const D&) {
  return false;
}

template <class D>
double fast_cdf(const D& d, double x) {
  if (std::isnan(x)) return x;
  const auto [low, high] = support_of(d);
  if (x <= low) return 0;
  if (x >= high) return 1;
  return static_cast<double>(cdf(d, x));
}

template <class D>
void cdf_batch(const D& d, const double* x, double* u, std::size_t m) {
  for (std::size_t k = 0; k < m; ++k) u[k] = fast_cdf(d, x[k]);
}

template <class D>
double bucket_edge(const D& d, double p) {
  return static_cast<double>(quantile(d, p));
}

/// E (X - mean)^k by double-exponential quadrature of the density over the support, to a
/// relative 1e-13 (tanh-sinh on a bounded support, exp-sinh or sinh-sinh on unbounded ends:
/// Takahasi & Mori 1974; Boost.Math's implementations).
template <class D>
double central_moment(const D& d, int k) {
  if (k == 0) return 1;
  if (k == 1) return 0;
  const double mu = static_cast<double>(mean(d));
  const auto integrand = [&](double x) {
    const double density = static_cast<double>(pdf(d, x));
    return density == 0 ? 0.0 : std::pow(x - mu, k) * density;
  };
  const auto [low, high] = support_of(d);
  constexpr double tolerance = 1e-13;
  if (std::isfinite(low) && std::isfinite(high))
    return boost::math::quadrature::tanh_sinh<double>().integrate(integrand, low, high, tolerance);
  if (std::isinf(low) && std::isinf(high))
    return boost::math::quadrature::sinh_sinh<double>().integrate(integrand, tolerance);
  return boost::math::quadrature::exp_sinh<double>().integrate(integrand, low, high, tolerance);
}

template <class D>
std::string describe(const D&) {
  return "a law";
}

inline std::string number6(double v) {
  std::ostringstream text;
  text.precision(6);
  text << v;
  return text.str();
}

// ---- uniform U[a, b) --------------------------------------------------------------------------

inline bool upper_bound_excluded(const boost::math::uniform_distribution<>&) { return true; }

inline double fast_cdf(const boost::math::uniform_distribution<>& d, double x) {
  if (std::isnan(x)) return x;
  if (x <= d.lower()) return 0;
  if (x >= d.upper()) return 1;
  return (x - d.lower()) / (d.upper() - d.lower());
}
inline void cdf_batch(const boost::math::uniform_distribution<>& d, const double* x, double* u,
                      std::size_t m) {
  for (std::size_t k = 0; k < m; ++k) u[k] = fast_cdf(d, x[k]);
}
inline double bucket_edge(const boost::math::uniform_distribution<>& d, double p) {
  return d.lower() + p * (d.upper() - d.lower());
}
/// h^k / (k + 1) for even k, h the half width; 0 for odd k.
inline double central_moment(const boost::math::uniform_distribution<>& d, int k) {
  if (k % 2 == 1) return 0;
  return std::pow((d.upper() - d.lower()) / 2, k) / (k + 1);
}
inline std::string describe(const boost::math::uniform_distribution<>& d) {
  return "U[" + number6(d.lower()) + ", " + number6(d.upper()) + ")";
}

// ---- normal N(mu, sigma^2) ------------------------------------------------------------------

/// The normal's argument of erfc: F(x) = erfc((mu - x)/(sigma sqrt 2))/2, what Boost computes
/// without its policy machinery, by detail/erfc.hpp's kernel (glibc's vector erfc: Boost's cdf
/// took 93 ns a value, this 1.5 to 4 ns).
inline double normal_erfc_argument(const boost::math::normal_distribution<>& d, double x) {
  return (d.mean() - x) / (d.standard_deviation() * 1.41421356237309504880);
}
inline double fast_cdf(const boost::math::normal_distribution<>& d, double x) {
  return erfc_one(normal_erfc_argument(d, x)) / 2;
}
inline void cdf_batch(const boost::math::normal_distribution<>& d, const double* x, double* u,
                      std::size_t m) {
  for (std::size_t k = 0; k < m; ++k) u[k] = normal_erfc_argument(d, x[k]);
  erfc_batch(u, u, m);
  for (std::size_t k = 0; k < m; ++k) u[k] /= 2;
}
/// (k - 1)!! sigma^k for even k.
inline double central_moment(const boost::math::normal_distribution<>& d, int k) {
  if (k % 2 == 1) return 0;
  double value = 1;
  for (int j = k - 1; j > 1; j -= 2) value *= j;
  return value * std::pow(d.standard_deviation(), k);
}
inline std::string describe(const boost::math::normal_distribution<>& d) {
  return "N(" + number6(d.mean()) + ", " + number6(d.standard_deviation()) + "^2)";
}

// ---- truncated normal -----------------------------------------------------------------------

// The truncated normal's cdf is truncated_normal_distribution's, P(alpha <= Z <= z) / mass on
// the side without cancellation, with its one erfc per value from the same kernel: the
// argument, then the cdf from erfc(argument) and the law's two constant tails (same bits for
// single values and batches).
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
                                        erfc_one(truncated_normal_erfc_argument(d, x)));
}
inline void cdf_batch(const truncated_normal_distribution<>& d, const double* x, double* u,
                      std::size_t m) {
  // u may alias x: each x[k] is read before u[k] is first written, and kept for the last step.
  const truncated_normal_tails tails = tails_of(d);
  constexpr std::size_t block = 256;
  double argument[block], value[block];
  for (std::size_t start = 0; start < m; start += block) {
    const std::size_t count = std::min(block, m - start);
    for (std::size_t k = 0; k < count; ++k) {
      value[k] = x[start + k];
      argument[k] = truncated_normal_erfc_argument(d, value[k]);
    }
    erfc_batch(argument, argument, count);
    for (std::size_t k = 0; k < count; ++k)
      u[start + k] = truncated_normal_cdf_from_erfc(d, tails, value[k], argument[k]);
  }
}
inline std::string describe(const truncated_normal_distribution<>& d) {
  return "TN(" + number6(d.mean()) + ", " + number6(d.standard_deviation()) + "^2; [" +
         number6(d.lower()) + ", " + number6(d.upper()) + "])";
}

// ---- dispatch -------------------------------------------------------------------------------

// The one way code reaches a customisation point: an unqualified call from here finds the
// defaults and overloads above by ordinary lookup and a law's own overloads, in its namespace,
// by argument-dependent lookup.
template <class D>
double dispatch_sf(const D& d, double x) {
  return static_cast<double>(cdf(complement(d, x)));
}
template <class D>
double dispatch_pdf(const D& d, double x) {
  return static_cast<double>(pdf(d, x));
}
template <class D>
double dispatch_quantile(const D& d, double p) {
  return static_cast<double>(quantile(d, p));
}
template <class D>
std::pair<double, double> dispatch_support(const D& d) {
  return support_of(d);
}
template <class D>
bool dispatch_upper_bound_excluded(const D& d) {
  return upper_bound_excluded(d);
}
template <class D>
double dispatch_fast_cdf(const D& d, double x) {
  return fast_cdf(d, x);
}
template <class D>
void dispatch_cdf_batch(const D& d, const double* x, double* u, std::size_t m) {
  cdf_batch(d, x, u, m);
}
template <class D>
double dispatch_bucket_edge(const D& d, double p) {
  return bucket_edge(d, p);
}
template <class D>
double dispatch_central_moment(const D& d, int k) {
  return central_moment(d, k);
}
template <class D>
std::string dispatch_describe(const D& d) {
  return describe(d);
}

}  // namespace verinit::verify::detail
