// The law of loc + scale * Y for Y of a base law (scale > 0), in Boost.Math's shape: the
// location-scale family of any distribution. The verifier's Haar entry law is one,
// Q_ij = gain (2 B - 1) with B ~ Beta((d-1)/2, (d-1)/2) (see summary.hpp).
#pragma once

#include <boost/math/distributions/complement.hpp>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "verinit/verify/detail/law_points.hpp"

namespace verinit::verify {

template <class Base>
class affine_distribution {
 public:
  /// Throws std::invalid_argument unless loc is finite and scale finite and > 0.
  affine_distribution(Base base, double loc, double scale)
      : base_(std::move(base)), loc_(loc), scale_(scale) {
    if (!std::isfinite(loc) || !(scale > 0) || !std::isfinite(scale))
      throw std::invalid_argument(
          "affine_distribution: loc must be finite and scale finite and > 0");
  }
  const Base& base() const noexcept { return base_; }
  double location() const noexcept { return loc_; }
  double scale() const noexcept { return scale_; }
  /// The base law's value of x.
  double standardize(double x) const noexcept { return (x - loc_) / scale_; }

 private:
  Base base_;
  double loc_, scale_;
};

template <class Base>
std::pair<double, double> support(const affine_distribution<Base>& d) {
  const auto [low, high] = detail::support_of(d.base());
  return {d.location() + d.scale() * low, d.location() + d.scale() * high};
}
template <class Base>
double pdf(const affine_distribution<Base>& d, double x) {
  return static_cast<double>(pdf(d.base(), d.standardize(x))) / d.scale();
}
template <class Base>
double cdf(const affine_distribution<Base>& d, double x) {
  return detail::fast_cdf(d.base(), d.standardize(x));
}
template <class Base>
double cdf(const boost::math::complemented2_type<affine_distribution<Base>, double>& c) {
  const auto [low, high] = detail::support_of(c.dist.base());
  const double y = c.dist.standardize(c.param);
  if (y <= low) return 1;
  if (y >= high) return 0;
  return static_cast<double>(cdf(complement(c.dist.base(), y)));
}
template <class Base>
double quantile(const affine_distribution<Base>& d, double p) {
  return d.location() + d.scale() * static_cast<double>(quantile(d.base(), p));
}
template <class Base>
double quantile(const boost::math::complemented2_type<affine_distribution<Base>, double>& c) {
  return c.dist.location() +
         c.dist.scale() * static_cast<double>(quantile(complement(c.dist.base(), c.param)));
}
template <class Base>
double mean(const affine_distribution<Base>& d) {
  return d.location() + d.scale() * static_cast<double>(mean(d.base()));
}
template <class Base>
double variance(const affine_distribution<Base>& d) {
  return d.scale() * d.scale() * static_cast<double>(variance(d.base()));
}
template <class Base>
double skewness(const affine_distribution<Base>& d) {
  return static_cast<double>(skewness(d.base()));
}
template <class Base>
double kurtosis(const affine_distribution<Base>& d) {
  return static_cast<double>(kurtosis(d.base()));
}

/// Customisation point (detail/law_points.hpp), found by argument-dependent lookup.
template <class Base>
double central_moment(const affine_distribution<Base>& d, int k) {
  return std::pow(d.scale(), k) * detail::dispatch_central_moment(d.base(), k);
}

}  // namespace verinit::verify
