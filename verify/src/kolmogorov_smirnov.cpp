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

}  // namespace

double smirnov_sf(std::int64_t n, double x) {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const double n_d = static_cast<double>(n);
  if (n > 1'000'000) return clip(std::exp(-(6 * n_d * x + 1) * (6 * n_d * x + 1) / (18 * n_d)));
  // Birnbaum & Tingey: x * sum_{j=0}^{floor(n(1-x))} C(n,j) (1-x-j/n)^{n-j} (x+j/n)^{j-1},
  // every term positive; summed in log space relative to the largest.
  const auto last = static_cast<std::int64_t>(std::floor(n_d * (1 - x)));
  const double log_n_factorial = std::lgamma(n_d + 1);
  // The terms rise to one peak and fall: past it, once a term is e^-60 (1e-26) of the largest,
  // the rest add less than an ulp and are not computed (O(sqrt n) terms instead of O(n)).
  std::vector<double> logs;
  double largest = -INFINITY;
  for (std::int64_t j = 0; j <= last; ++j) {
    const double jd = static_cast<double>(j);
    const double rest = 1 - x - jd / n_d;
    if (rest <= 0) break;
    const double log_term = log_n_factorial - std::lgamma(jd + 1) - std::lgamma(n_d - jd + 1) +
                            (n_d - jd) * std::log(rest) + (jd - 1) * std::log(x + jd / n_d);
    const bool falling = !logs.empty() && log_term < logs.back();
    logs.push_back(log_term);
    largest = std::max(largest, log_term);
    if (falling && log_term < largest - 60) break;
  }
  double sum = 0;
  for (const double l : logs) sum += std::exp(l - largest);
  return clip(x * std::exp(largest) * sum);
}

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
  double low = 0.5 / static_cast<double>(n), high = 1;
  // A bracket around the limiting law's value sqrt(-log(p/2) / (2n)).
  const double guess = std::sqrt(-std::log(p / 2) / (2 * static_cast<double>(n)));
  if (guess / 2 > low && excess(guess / 2) > 0) low = guess / 2;
  if (2 * guess < high && excess(2 * guess) < 0) high = 2 * guess;
  std::uintmax_t iterations = 100;
  const auto bracket = boost::math::tools::toms748_solve(
      excess, low, high, boost::math::tools::eps_tolerance<double>(45), iterations);
  // The upper end: there the law's tail is at most p, so a D there is surely rejected.
  double x = bracket.second;
  for (int step = 0; step < 64 && x < 1 && sf(x) > p; ++step) x = std::nextafter(x, 2.0);
  return x;
}

}  // namespace verinit::verify
