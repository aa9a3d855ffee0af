// The normal law N(mu, sigma^2) conditioned on [a, b], in the shape of Boost.Math's
// distributions: a class that stores and checks its parameters, and free functions pdf, cdf,
// quantile, cdf(complement(...)), mean, variance, kurtosis found by argument-dependent lookup.
//
// References: Johnson, Kotz & Balakrishnan, "Continuous Univariate Distributions" vol. 1,
// 2nd ed., sec. 10.1 (moments of the truncated normal); the kurtosis follows from the raw
// moments m_k = E[Z^k | alpha <= Z <= beta], which satisfy
// m_k = (k-1) m_{k-2} - (beta^{k-1} phi(beta) - alpha^{k-1} phi(alpha)) / Z.
// Tails are computed on the side where they do not cancel, so cdf(complement(d, x)) is
// accurate far into the upper tail.
#pragma once

#include <boost/math/distributions/complement.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/policies/error_handling.hpp>
#include <cmath>
#include <utility>

namespace verinit::verify {

// Boost.Math's idiom: cdf(complement(d, x)) for the upper tail.
using boost::math::complement;

template <class RealType = double, class Policy = boost::math::policies::policy<>>
class truncated_normal_distribution {
 public:
  using value_type = RealType;
  using policy_type = Policy;

  /// N(mean, sd^2) on [lower, upper]. Raises a Boost.Math domain error (std::domain_error by
  /// default) unless sd > 0, all finite, lower < upper, and the interval has positive mass.
  truncated_normal_distribution(RealType mean, RealType sd, RealType lower, RealType upper)
      : mean_(mean), sd_(sd), lower_(lower), upper_(upper) {
    constexpr const char* function =
        "truncated_normal_distribution<%1%>::truncated_normal_distribution";
    RealType result = 0;
    if (!std::isfinite(mean) || !std::isfinite(lower) || !std::isfinite(upper)) {
      result = boost::math::policies::raise_domain_error<RealType>(
          function, "Parameters must be finite, but one is %1%", mean + lower + upper, Policy());
    } else if (!(sd > 0) || !std::isfinite(sd)) {
      result = boost::math::policies::raise_domain_error<RealType>(
          function, "Scale parameter is %1%, but must be > 0 and finite", sd, Policy());
    } else if (!(lower < upper)) {
      result = boost::math::policies::raise_domain_error<RealType>(
          function, "Lower bound is %1%, but must be below the upper bound", lower, Policy());
    }
    alpha_ = (lower - mean) / sd;
    beta_ = (upper - mean) / sd;
    mass_ = standard_mass(alpha_, beta_);
    if (!(mass_ > 0))
      result = boost::math::policies::raise_domain_error<RealType>(
          function, "The interval holds no probability (mass %1%)", mass_, Policy());
    (void)result;
  }

  RealType mean() const { return mean_; }  ///< of the parent normal
  RealType standard_deviation() const { return sd_; }
  RealType lower() const { return lower_; }
  RealType upper() const { return upper_; }
  RealType alpha() const { return alpha_; }  ///< (lower - mean) / sd
  RealType beta() const { return beta_; }    ///< (upper - mean) / sd
  RealType mass() const { return mass_; }    ///< P(alpha <= Z <= beta) for standard Z

  /// P(Z <= z) - P(Z <= alpha) and its upper counterpart, without cancellation.
  static RealType upper_tail(RealType z) { return std::erfc(z / std::sqrt(RealType(2))) / 2; }
  static RealType standard_mass(RealType alpha, RealType beta) {
    if (alpha >= 0) return upper_tail(alpha) - upper_tail(beta);
    if (beta <= 0) return upper_tail(-beta) - upper_tail(-alpha);
    return 1 - upper_tail(beta) - upper_tail(-alpha);
  }

 private:
  RealType mean_, sd_, lower_, upper_;
  RealType alpha_ = 0, beta_ = 0, mass_ = 1;
};

template <class RealType, class Policy>
std::pair<RealType, RealType> support(const truncated_normal_distribution<RealType, Policy>& d) {
  return {d.lower(), d.upper()};
}

template <class RealType, class Policy>
RealType pdf(const truncated_normal_distribution<RealType, Policy>& d, RealType x) {
  if (x < d.lower() || x > d.upper()) return 0;
  const RealType z = (x - d.mean()) / d.standard_deviation();
  constexpr RealType inv_sqrt_2pi = RealType(0.398942280401432677939946059934381868L);
  return inv_sqrt_2pi * std::exp(-z * z / 2) / (d.standard_deviation() * d.mass());
}

template <class RealType, class Policy>
RealType cdf(const truncated_normal_distribution<RealType, Policy>& d, RealType x) {
  if (x <= d.lower()) return 0;
  if (x >= d.upper()) return 1;
  const RealType z = (x - d.mean()) / d.standard_deviation();
  return d.standard_mass(d.alpha(), z) / d.mass();
}

template <class RealType, class Policy>
RealType cdf(const boost::math::complemented2_type<truncated_normal_distribution<RealType, Policy>,
                                                   RealType>& c) {
  const auto& d = c.dist;
  if (c.param <= d.lower()) return 1;
  if (c.param >= d.upper()) return 0;
  const RealType z = (c.param - d.mean()) / d.standard_deviation();
  return d.standard_mass(z, d.beta()) / d.mass();
}

/// Inverse of cdf: z = Phi^-1(Phi(alpha) + p mass) on the standardized scale, written on the
/// side where the probabilities do not cancel (upper tails above the median of the parent
/// normal, lower tails below it), through Boost's normal quantile (erfc_inv).
template <class RealType, class Policy>
RealType quantile(const truncated_normal_distribution<RealType, Policy>& d, RealType p) {
  if (!(p >= 0 && p <= 1))
    return boost::math::policies::raise_domain_error<RealType>(
        "quantile(truncated_normal_distribution<%1%>&, %1%)",
        "Probability is %1%, but must be in [0, 1]", p, Policy());
  if (p == 0) return d.lower();
  if (p == 1) return d.upper();
  const boost::math::normal_distribution<RealType, Policy> standard;
  RealType z;
  if (d.alpha() >= 0) {  // the whole interval above the parent's mean: upper tails
    z = quantile(complement(standard, d.upper_tail(d.alpha()) - p * d.mass()));
  } else if (d.beta() <= 0) {  // below it: lower tails, P(Z <= alpha) = Q(-alpha)
    z = quantile(standard, d.upper_tail(-d.alpha()) + p * d.mass());
  } else {
    const RealType below = d.upper_tail(-d.alpha()) + p * d.mass();
    z = below <= RealType(0.5)
            ? quantile(standard, below)
            : quantile(complement(standard, d.upper_tail(d.beta()) + (1 - p) * d.mass()));
  }
  const RealType x = d.mean() + d.standard_deviation() * z;
  return x < d.lower() ? d.lower() : x > d.upper() ? d.upper() : x;
}

template <class RealType, class Policy>
RealType quantile(const boost::math::complemented2_type<
                  truncated_normal_distribution<RealType, Policy>, RealType>& c) {
  return quantile(c.dist, 1 - c.param);
}

namespace detail {
// Raw moments E[Z^k], k = 0..4, of the standard normal truncated to [alpha, beta].
template <class RealType, class Policy>
void standard_moments(const truncated_normal_distribution<RealType, Policy>& d, RealType m[5]) {
  constexpr RealType inv_sqrt_2pi = RealType(0.398942280401432677939946059934381868L);
  const auto phi = [&](RealType z) {
    return std::isinf(z) ? RealType(0) : inv_sqrt_2pi * std::exp(-z * z / 2);
  };
  const RealType a = d.alpha(), b = d.beta();
  m[0] = 1;
  m[1] = (phi(a) - phi(b)) / d.mass();
  RealType a_power = 1, b_power = 1;  // alpha^{k-1}, beta^{k-1}
  for (int k = 2; k <= 4; ++k) {
    a_power *= a;
    b_power *= b;
    // An infinite end contributes nothing (phi vanishes faster than any power grows).
    const RealType at_b = std::isinf(b) ? RealType(0) : b_power * phi(b);
    const RealType at_a = std::isinf(a) ? RealType(0) : a_power * phi(a);
    m[k] = (k - 1) * m[k - 2] - (at_b - at_a) / d.mass();
  }
}
}  // namespace detail

template <class RealType, class Policy>
RealType mean(const truncated_normal_distribution<RealType, Policy>& d) {
  RealType m[5];
  detail::standard_moments(d, m);
  return d.mean() + d.standard_deviation() * m[1];
}

template <class RealType, class Policy>
RealType variance(const truncated_normal_distribution<RealType, Policy>& d) {
  RealType m[5];
  detail::standard_moments(d, m);
  return d.standard_deviation() * d.standard_deviation() * (m[2] - m[1] * m[1]);
}

/// Skewness E[(X - mu)^3] / Var^{3/2}: 0 for a symmetric interval.
template <class RealType, class Policy>
RealType skewness(const truncated_normal_distribution<RealType, Policy>& d) {
  RealType m[5];
  detail::standard_moments(d, m);
  const RealType mu = m[1];
  const RealType var = m[2] - mu * mu;
  const RealType central3 = m[3] - 3 * mu * m[2] + 2 * mu * mu * mu;
  return central3 / (var * std::sqrt(var));
}

/// Kurtosis (not excess): E[(X - mu)^4] / Var^2. 3 untruncated; ~2.366 for [-2, 2].
template <class RealType, class Policy>
RealType kurtosis(const truncated_normal_distribution<RealType, Policy>& d) {
  RealType m[5];
  detail::standard_moments(d, m);
  const RealType mu = m[1];
  const RealType var = m[2] - mu * mu;
  const RealType central4 = m[4] - 4 * mu * m[3] + 6 * mu * mu * m[2] - 3 * mu * mu * mu * mu;
  return central4 / (var * var);
}

}  // namespace verinit::verify
