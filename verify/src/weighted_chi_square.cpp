// The law of a positively weighted sum of chi-square(1) variables: see the header for Imhof's
// integral, the far-tail asymptote and their references.
#include "verinit/verify/distributions/weighted_chi_square.hpp"

#include <algorithm>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <functional>
#include <numbers>
#include <stdexcept>

namespace verinit::verify {
namespace {

// Imhof's integrand sin(theta(u)) / (u rho(u)) at u > 0.
double integrand(const std::vector<double>& w, double x, double u) {
  double theta = -0.5 * x * u, log_rho = 0;
  for (const double wi : w) {
    theta += 0.5 * std::atan(wi * u);
    log_rho += 0.25 * std::log1p(wi * wi * u * u);
  }
  return std::sin(theta) / (u * std::exp(log_rho));
}

// 1 / (u rho(u)): the integrand's envelope.
double envelope(const std::vector<double>& w, double u) {
  double log_rho = 0;
  for (const double wi : w) log_rho += 0.25 * std::log1p(wi * wi * u * u);
  return 1 / (u * std::exp(log_rho));
}

// P(Q > x) by Imhof's integral: panels of one period of the x u / 2 rotation (at most 10 / w_1
// long, the scale on which the first arctangent turns), each by the 61-point Kronrod rule (a
// smooth integrand over one period: exact to rounding),
// until what is left is below 1e-13. Beyond u, theta turns at the rate x/2 (the arctangents have
// all but settled), so the rest of the integral is that of an oscillation of decreasing
// amplitude, at most about envelope(u) (2 / x) (one integration by parts); with the panel's
// length as margin. Imhof's own bound, 2 / (k u^(k/2) prod w_i^(1/2)), holds without
// oscillation and is far too slow to fall for few weights (u ~ 10^30 for one).
double imhof_upper(const std::vector<double>& w, double x) {
  const double panel = std::min(4 * std::numbers::pi / x, 10 / w.front());
  double sum = 0, a = 0;
  for (int k = 0; k < 200'000; ++k) {
    const double b = a + panel;
    sum += boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
        [&](double u) { return integrand(w, x, u); }, a, b, 0, 0.0);
    a = b;
    if (envelope(w, a) * (2 / x + panel) < 1e-13) break;
  }
  return 0.5 + sum / std::numbers::pi;
}

// The far tail: the largest weight's chi-square(1) tail times prod_{i >= 2} (1 - w_i/w_1)^(-1/2)
// (the residue at the pole 1/(2 w_1) of the moment generating function). Its relative error is
// about sum_{i >= 2} (w_i / (1 - w_i / w_1)) / (2x): none is used when w_2 > 0.9 w_1, where the
// factor grows and the error with it.
double asymptotic_upper(const std::vector<double>& w, double x) {
  if (w.size() > 1 && !(w[1] < 0.9 * w[0])) return NAN;
  double log_factor = 0;
  for (std::size_t i = 1; i < w.size(); ++i) log_factor -= 0.5 * std::log1p(-w[i] / w[0]);
  return std::erfc(std::sqrt(x / (2 * w[0]))) * std::exp(log_factor);
}

double upper_tail(const weighted_chi_square_distribution& d, double x) {
  if (std::isnan(x)) return NAN;
  if (!(x > 0)) return 1;
  if (std::isinf(x)) return 0;
  const auto& w = d.weights();
  // Far beyond the mean the integral's absolute accuracy (~1e-13) is no longer relative: the
  // asymptote instead, from where it is within 1e-9.
  if (x > d.mean()) {
    const double tail = asymptotic_upper(w, x);
    if (tail < 1e-9) return tail;
  }
  return std::clamp(imhof_upper(w, x), 0.0, 1.0);
}

}  // namespace

weighted_chi_square_distribution::weighted_chi_square_distribution(std::vector<double> weights)
    : weights_(std::move(weights)) {
  if (weights_.empty())
    throw std::invalid_argument("weighted_chi_square_distribution: no weights (at least one)");
  for (const double w : weights_)
    if (!(w > 0) || !std::isfinite(w))
      throw std::invalid_argument("weighted_chi_square_distribution: a weight is " +
                                  std::to_string(w) + ", but each must be finite and > 0");
  std::sort(weights_.begin(), weights_.end(), std::greater<>());
  for (const double w : weights_) mean_ += w;
}

double cdf(const weighted_chi_square_distribution& d, double x) { return 1 - upper_tail(d, x); }

double cdf(const boost::math::complemented2_type<weighted_chi_square_distribution, double>& c) {
  return upper_tail(c.dist, c.param);
}

}  // namespace verinit::verify
