// Kolmogorov-Smirnov distribution: see the header for the methods and their references.
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

#include <algorithm>
#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <numbers>
#include <vector>

namespace verinit::verify::detail {
namespace {

constexpr double pi = std::numbers::pi;

double clip(double p) { return std::clamp(p, 0.0, 1.0); }

// log(n! / n^n), from lgamma (relative error ~1e-16 * n, ample for the uses below).
double log_factorial_over_power(std::int64_t n) {
  const double m = static_cast<double>(n);
  return std::lgamma(m + 1) - m * std::log(m);
}

// Marsaglia-Tsang-Wang: P(D_n < x) = n!/n^n * (H^n)_{kk}, H the (2k-1)x(2k-1) Durbin matrix
// with k = floor(n x) + 1. Powers are kept as (matrix, base-2 exponent) to avoid overflow.
class scaled_matrix {
 public:
  explicit scaled_matrix(int size) : size_(size), values_(static_cast<std::size_t>(size) * size) {}
  double& at(int i, int j) { return values_[static_cast<std::size_t>(i) * size_ + j]; }
  double at(int i, int j) const { return values_[static_cast<std::size_t>(i) * size_ + j]; }
  int exponent = 0;

  scaled_matrix times(const scaled_matrix& other) const {
    scaled_matrix product(size_);
    for (int i = 0; i < size_; ++i)
      for (int k = 0; k < size_; ++k) {
        const double left = at(i, k);
        if (left == 0) continue;
        for (int j = 0; j < size_; ++j) product.at(i, j) += left * other.at(k, j);
      }
    product.exponent = exponent + other.exponent;
    product.normalize();
    return product;
  }

  void normalize() {
    const int centre = size_ / 2;
    int shift = 0;
    std::frexp(at(centre, centre), &shift);
    if (shift > 400 || shift < -400) {
      for (double& v : values_) v = std::ldexp(v, -shift);
      exponent += shift;
    }
  }

 private:
  int size_;
  std::vector<double> values_;
};

}  // namespace

double durbin_cdf(std::int64_t n, double x) {
  const double nx = static_cast<double>(n) * x;
  const int k = static_cast<int>(nx) + 1;
  const int m = 2 * k - 1;
  const double h = k - nx;
  scaled_matrix base(m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) base.at(i, j) = i - j + 1 >= 0 ? 1.0 : 0.0;
  for (int i = 0; i < m; ++i) {
    base.at(i, 0) -= std::pow(h, i + 1);
    base.at(m - 1, i) -= std::pow(h, m - i);
  }
  if (2 * h - 1 > 0) base.at(m - 1, 0) += std::pow(2 * h - 1, m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j)
      for (int g = 1; g <= i - j + 1; ++g) base.at(i, j) /= g;
  // H^n by binary powering.
  scaled_matrix result(m);
  for (int i = 0; i < m; ++i) result.at(i, i) = 1;
  scaled_matrix power = base;
  for (std::int64_t e = n; e > 0; e >>= 1) {
    if (e & 1) result = result.times(power);
    if (e > 1) power = power.times(power);
  }
  const double entry = result.at(k - 1, k - 1);
  if (entry <= 0) return 0;
  return clip(std::exp(std::log(entry) + result.exponent * std::numbers::ln2 +
                       log_factorial_over_power(n)));
}

namespace {

// Pelz-Good: P(D_n <= x) ~ K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^{3/2}, z = x sqrt(n),
// each K_i written with Jacobi theta transformations so it converges fast for small z
// (Pelz & Good 1976, as restated by Simard & L'Ecuyer 2011, sec. 2.1).
double pelz_good_cdf(std::int64_t n, double x) {
  const double sqrt_n = std::sqrt(static_cast<double>(n));
  const double z = x * sqrt_n;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2, z7 = z6 * z, z8 = z4 * z4,
               z10 = z8 * z2;
  const double pi2 = pi * pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double log_q = -pi2 / (8 * z2);
  if (log_q < -745) return 0;  // z < 0.0417: the cdf underflows
  const int terms = static_cast<int>(std::ceil(16 * z / pi)) + 2;
  double k0 = 0, k1 = 0, k2 = 0, k3 = 0;
  // Sums over odd m = 2k - 1 of c(m) exp(-m^2 pi^2 / (8 z^2)).
  for (int k = 1; k <= terms; ++k) {
    const double m = 2.0 * k - 1;
    const double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double weight = std::exp(m2 * log_q);
    k0 += weight;
    k1 += weight * (pi2 * m2 / 4 - z2);
    k2 += weight *
          (6 * z6 + 2 * z4 + pi2 * (2 * z4 - 5 * z2) * m2 / 4 + pi4 * (1 - 2 * z2) * m4 / 16);
    k3 += weight * (-30 * z6 - 90 * z8 + pi2 * (135 * z4 - 96 * z6) * m2 / 4 +
                    pi4 * (212 * z4 - 60 * z2) * m4 / 16 + pi6 * (5 - 30 * z2) * m6 / 64);
  }
  const double root_2pi = std::sqrt(2 * pi);
  k0 *= root_2pi / z;
  k1 *= root_2pi / (6 * z4);
  k2 *= root_2pi / (72 * z7);
  k3 *= root_2pi / (6480 * z10);
  // Sums over all k of exp(-k^2 pi^2 / (2 z^2)).
  double extra2 = 0, extra3 = 0;
  for (int k = 1; k <= terms; ++k) {
    const double kk = static_cast<double>(k) * k;
    const double weight = std::exp(-kk * pi2 / (2 * z2));
    extra2 += kk * weight;
    extra3 += (3 * z2 - pi2 * kk) * kk * weight;
  }
  k2 -= extra2 * pi2 * root_2pi / (36 * z3);
  k3 += extra3 * pi2 * root_2pi / (216 * z6);
  const double n_d = static_cast<double>(n);
  return clip(k0 + k1 / sqrt_n + k2 / n_d + k3 / (n_d * sqrt_n));
}

// Stirling's series remainder log(k!) - [(k + 1/2) log k - k + log(2 pi)/2] (C. Loader, "Fast
// and accurate computation of binomial probabilities", 2000, sec. 3): from lgamma below 16,
// where nothing cancels much, and from the series 1/(12k) - 1/(360k^3) + ... beyond (its first
// omitted term is below 1e-16 there).
double stirling_remainder(double k) {
  if (k < 16) return std::lgamma(k + 1) - (k + 0.5) * std::log(k) + k - 0.5 * std::log(2 * pi);
  const double k2 = 1 / (k * k);
  return (1.0 / 12 - k2 * (1.0 / 360 - k2 * (1.0 / 1260 - k2 * (1.0 / 1680 - k2 / 1188)))) / k;
}

// log of the j-th Birnbaum-Tingey term C(n,j) (1-x-j/n)^{n-j} (x+j/n)^{j-1}, written as Loader
// writes binomial probabilities, so that no two large logs cancel: with s = j/n,
//   n [(1-s) log1p(-x/(1-s)) + s log1p(x/s)] - log(x+s) - log(2 pi n s(1-s))/2
//   + stirling_remainder(n) - stirling_remainder(j) - stirling_remainder(n-j).
// Its absolute error is a few n x eps (the two n-fold parts cancel to -n x^2/(2 s(1-s))), not
// eps log(n!) as with lgamma: 1e-12 at n = 10^8 against 1e-7.
double birnbaum_tingey_log_term(double n, double x, double j) {
  if (j == 0) return n * std::log1p(-x) - std::log(x);
  const double s = j / n;
  const double shortfall = x / (1 - s);
  if (shortfall >= 1) return -INFINITY;  // 1 - x - s rounds to 0: the term underflows
  return n * ((1 - s) * std::log1p(-shortfall) + s * std::log1p(x / s)) - std::log(x + s) -
         0.5 * std::log(2 * pi * n * s * (1 - s)) + stirling_remainder(n) - stirling_remainder(j) -
         stirling_remainder(n - j);
}

// exp-sum of log terms against a running largest term, rescaled when a larger one comes.
struct log_sum {
  double largest = -INFINITY;
  double sum = 0;
  void add(double log_term) {
    if (log_term > largest) {
      sum = largest == -INFINITY ? 0 : sum * std::exp(largest - log_term);
      largest = log_term;
    }
    if (log_term > -INFINITY) sum += std::exp(log_term - largest);
  }
};

// The Birnbaum-Tingey sum, by strides (see smirnov_sf) or, with `term_by_term`, every term.
double birnbaum_tingey_sf(std::int64_t n, double x, bool term_by_term) {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const double n_d = static_cast<double>(n);
  // Birnbaum & Tingey (1951): P(D_n^+ >= x) = x sum_{j=0}^{J} t_j, J = floor(n(1-x)).
  auto last = static_cast<std::int64_t>(std::floor(n_d * (1 - x)));
  while (last > 0 && 1 - x - static_cast<double>(last) / n_d <= 0) --last;
  // The terms are a smooth function of j, analytic in a strip, which spreads over O(n) terms
  // and is negligible at both ends once n x^2 is not small: the sum over all integers is then
  // its integral up to terms like exp(-2 pi^2 width^2), and so is the sum over every h-th term
  // times h (Poisson summation; the trapezoid rule on an analytic function converges
  // geometrically in 1/h: L. N. Trefethen & J. A. C. Weideman, "The exponentially convergent
  // trapezoidal rule", SIAM Review 56(3), 2014). The stride starts with >= 64 nodes and halves,
  // each pass adding the nodes between the previous ones, until two passes agree to 1e-9
  // (the geometric convergence then leaves the finer one ~1e-18 off) or the stride is 1, the
  // exact sum. Where the terms are not smooth (small n, small n x^2) no coarse pass agrees
  // and the exact sum is what is returned. Checked against the term-by-term sum over n in
  // [10, 10^7] and p down to 1e-300 (tests/verify/kolmogorov_smirnov_test.cpp): relative error
  // < 1e-11 where p >= 1e-300, with 250-500 terms in the tail at any n >= 10^4.
  constexpr std::int64_t min_nodes = 64;
  constexpr double agreement = 1e-9;
  std::int64_t stride = 1;
  while (!term_by_term && last / (2 * stride) >= min_nodes) stride *= 2;
  log_sum terms;
  for (std::int64_t j = 0; j <= last; j += stride)
    terms.add(birnbaum_tingey_log_term(n_d, x, static_cast<double>(j)));
  double estimate = static_cast<double>(stride) * terms.sum;
  double estimate_scale = terms.largest;
  while (stride > 1) {
    const std::int64_t half = stride / 2;
    for (std::int64_t j = half; j <= last; j += stride)
      terms.add(birnbaum_tingey_log_term(n_d, x, static_cast<double>(j)));
    stride = half;
    const double finer = static_cast<double>(stride) * terms.sum;
    const double coarser = estimate * std::exp(estimate_scale - terms.largest);
    estimate = finer;
    estimate_scale = terms.largest;
    if (std::abs(finer - coarser) <= agreement * finer) break;
  }
  if (terms.largest == -INFINITY) return 0;
  return clip(std::exp(estimate_scale + std::log(x * estimate)));
}

}  // namespace

double smirnov_sf(std::int64_t n, double x) { return birnbaum_tingey_sf(n, x, false); }
double smirnov_sf_term_by_term(std::int64_t n, double x) { return birnbaum_tingey_sf(n, x, true); }

ks_probabilities kolmogorov_smirnov_probabilities(std::int64_t n, double x) {
  if (std::isnan(x)) return {NAN, NAN};
  if (x >= 1) return {1, 0};
  if (x <= 0) return {0, 1};
  const double n_d = static_cast<double>(n);
  const double t = n_d * x;
  const auto from_cdf = [](double p) { return ks_probabilities{p, clip(1 - p)}; };
  const auto from_sf = [](double p) { return ks_probabilities{clip(1 - p), p}; };
  if (t <= 1) {  // D_n >= 1/(2n) always; for 1/(2n) < x <= 1/n, P = n!/n^n (2t-1)^n
    if (t <= 0.5) return {0, 1};
    return from_cdf(clip(std::exp(log_factorial_over_power(n) + n_d * std::log(2 * t - 1))));
  }
  if (t >= n_d - 1) return from_sf(clip(2 * std::pow(1 - x, n_d)));
  if (x >= 0.5) return from_sf(clip(2 * smirnov_sf(n, x)));
  const double w = t * x;  // n x^2
  if (n <= 140) {
    if (w <= 4) return from_cdf(durbin_cdf(n, x));
    return from_sf(clip(2 * smirnov_sf(n, x)));
  }
  if (w >= 370) return {1, 0};
  if (w >= 2.2) return from_sf(clip(2 * smirnov_sf(n, x)));
  if (n <= 100'000 && t * std::sqrt(x) <= 1.4) return from_cdf(durbin_cdf(n, x));
  return from_cdf(pelz_good_cdf(n, x));
}

}  // namespace verinit::verify::detail

namespace verinit::verify {

double quantile(const boost::math::complemented2_type<kolmogorov_smirnov_distribution, double>& c) {
  const double p = c.param;
  if (!(p > 0)) return 1;
  if (p >= 1) return 0;
  const std::int64_t n = c.dist.sample_count();
  const auto sf = [&](double x) { return detail::kolmogorov_smirnov_probabilities(n, x).sf; };
  // On the log scale, where log P(D_n >= x) is smooth (about -2 n x^2 in the tail) and TOMS
  // 748 converges in a few steps; sf itself spans hundreds of orders of magnitude on [0, 1].
  // sf = 1 up to x = 1/(2n) and 0 from x = 1 on: the root lies strictly between.
  const double log_p = std::log(p);
  const auto excess = [&](double x) {
    const double value = sf(x);
    return value > 0 ? std::log(value) - log_p : -745.0 - log_p;
  };
  const double n_d = static_cast<double>(n);
  double low = 0.5 / n_d, high = 1;
  double excess_low = NAN, excess_high = NAN;  // computed once each, passed to the solver
  // A bracket around Smirnov's corrected limit P(D_n >= x) ~ 2 exp(-(6 n x + 1)^2 / (18 n))
  // (in x, measured for p from 0.05 to 1e-12: within 1.5e-3 of the root from n = 1000, 1e-4
  // from n = 10^4, 1.1e-2 at n = 141, 0.25 at n = 10), widened to 3% and 50% where it does not
  // bracket: at the n of a model's tensors the solver starts within 0.1% of the root and takes
  // few steps of the law, each a sum of a few hundred terms.
  const double corrected = (std::sqrt(-18 * n_d * std::log(p / 2)) - 1) / (6 * n_d);
  const double guess = corrected > low ? corrected : std::sqrt(-std::log(p / 2) / (2 * n_d));
  for (const double width : {1e-3, 3e-2, 0.5}) {
    const double below = guess * (1 - width), above = guess * (1 + width);
    if (below > low && below < high) {
      const double e = excess(below);
      if (e > 0)
        low = below, excess_low = e;
      else
        high = below, excess_high = e;
    }
    if (above > low && above < high) {
      const double e = excess(above);
      if (e > 0)
        low = above, excess_low = e;
      else
        high = above, excess_high = e;
    }
    if (low >= guess * (1 - width) && high <= guess * (1 + width)) break;
  }
  if (std::isnan(excess_low)) excess_low = excess(low);  // the ends of [1/(2n), 1], unmoved
  if (std::isnan(excess_high)) excess_high = excess(high);
  std::uintmax_t iterations = 100;
  const auto bracket =
      boost::math::tools::toms748_solve(excess, low, high, excess_low, excess_high,
                                        boost::math::tools::eps_tolerance<double>(45), iterations);
  // The upper end: there the law's tail is at most p, so a D there is surely rejected.
  double x = bracket.second;
  for (int step = 0; step < 64 && x < 1 && sf(x) > p; ++step) x = std::nextafter(x, 2.0);
  return x;
}

}  // namespace verinit::verify
