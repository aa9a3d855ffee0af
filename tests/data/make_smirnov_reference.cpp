// Regenerates tests/data/smirnov_sf.csv: the one-sided Smirnov law P(D_n^+ >= d), exactly, on
// a grid of n from 10 to 10^8 and tails p from 0.5 to 1e-300 (d = sqrt(-log p / (2n)), the
// limiting law's value, rounded to a double and kept below 1).
//
//   g++ -O2 -std=c++20 tests/data/make_smirnov_reference.cpp -o /tmp/make_smirnov_reference
//   /tmp/make_smirnov_reference > tests/data/smirnov_sf.csv        (about a minute)
//
// Birnbaum & Tingey's sum (Z. W. Birnbaum & F. H. Tingey, "One-sided confidence contours for
// probability distribution functions", Ann. Math. Statist. 22(4), 1951)
//   P(D_n^+ >= d) = d sum_{j=0}^{floor(n(1-d))} C(n,j) (1-d-j/n)^{n-j} (d+j/n)^{j-1},
// every term, in 80-bit long double and in log space: log C(n,j) by the recurrence
// log C(n,j+1) = log C(n,j) + log((n-j)/(j+1)) with Kahan's compensated summation, the powers by
// log1pl. An implementation independent of verify/'s (no Stirling series, no strides, another
// precision); scipy is no reference here, as its smirnov approximates beyond n = 10^6.
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace {

long double exact_smirnov_sf(std::int64_t n, double d_double) {
  const long double n_l = static_cast<long double>(n), d = d_double;
  long double log_binomial = 0, compensation = 0;  // log C(n, 0) = 0
  long double largest = -INFINITY, total = 0;      // sum of exp(log_term - largest) so far
  for (std::int64_t j = 0;; ++j) {
    const long double jl = static_cast<long double>(j);
    const long double rest = 1 - d - jl / n_l;
    if (rest <= 0) break;
    const long double log_term =
        log_binomial + (n_l - jl) * std::log(rest) + (jl - 1) * std::log(d + jl / n_l);
    if (log_term > largest) {
      total = total * std::exp(largest - log_term);
      largest = log_term;
    }
    total += std::exp(log_term - largest);
    // Kahan: log_binomial += log((n - j) / (j + 1)).
    const long double step = std::log((n_l - jl) / (jl + 1)) - compensation;
    const long double sum = log_binomial + step;
    compensation = (sum - log_binomial) - step;
    log_binomial = sum;
  }
  return d * std::exp(largest) * total;
}

}  // namespace

int main() {
  std::printf(
      "# P(D_n^+ >= d), Birnbaum-Tingey term by term in long double "
      "(tests/data/make_smirnov_reference.cpp)\n");
  std::printf("n,d,sf\n");
  const std::int64_t sizes[] = {10,      100,       141,        1000,       10'000,
                                100'000, 1'000'000, 10'000'000, 100'000'000};
  const double tails[] = {0.5, 1e-2, 1e-5, 1e-10, 1e-30, 1e-100, 1e-300};
  for (const std::int64_t n : sizes)
    for (const double p : tails) {
      const double d = std::sqrt(-std::log(p) / (2 * static_cast<double>(n)));
      if (d >= 1) continue;
      std::printf("%lld,%.17g,%.17Lg\n", static_cast<long long>(n), d, exact_smirnov_sf(n, d));
      std::fflush(stdout);
    }
}
