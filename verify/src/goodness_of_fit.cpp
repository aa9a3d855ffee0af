// Kolmogorov-Smirnov and Anderson-Darling from order statistics obtained by bucketing.
#include "verinit/verify/goodness_of_fit.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "anderson_darling_pieces.hpp"
#include "buffer.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/verify/distributions/anderson_darling.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

namespace verinit::verify {
namespace {

using detail::ad_first_piece;
using detail::ad_last_piece;
using detail::ad_piece;

// The law's quantile, only to place bucket edges: any increasing edges give the same result
// (they only balance the buckets), so speed matters more than the last digits here.
double edge_quantile(const boost::math::uniform_distribution<>& d, double p) {
  return d.lower() + p * (d.upper() - d.lower());
}
double edge_quantile(const boost::math::normal_distribution<>& d, double p) {
  return quantile(d, p);
}
double edge_quantile(const truncated_normal_distribution<>& d, double p) {
  const boost::math::normal_distribution<> standard;
  const double below = cdf(standard, d.alpha());
  const double z = quantile(standard, std::clamp(below + p * d.mass(), 1e-300, 1 - 1e-16));
  return std::clamp(d.mean() + d.standard_deviation() * z, d.lower(), d.upper());
}

// Orders a bucket's probabilities u[0..m) whose nominal range is [low, low + width) into
// `sorted`: a counting sort into m fine bins, then insertion sort inside each fine bin (O(1)
// values under the null), or std::sort for a fine bin above 32 values (data far from the law).
void order_bucket(const std::vector<double>& u, std::size_t m, double low, double width,
                  std::vector<double>& sorted, std::vector<std::uint32_t>& starts,
                  std::vector<std::uint32_t>& fine) {
  starts.assign(m + 1, 0);
  fine.resize(m);
  const double scale = static_cast<double>(m) / width;
  for (std::size_t k = 0; k < m; ++k) {
    const double f = (u[k] - low) * scale;
    fine[k] = static_cast<std::uint32_t>(f >= static_cast<double>(m) ? m - 1
                                         : f > 0                     ? static_cast<std::size_t>(f)
                                                                     : 0);
    ++starts[fine[k] + 1];
  }
  for (std::size_t f = 0; f < m; ++f) starts[f + 1] += starts[f];
  sorted.resize(m);
  {
    std::vector<std::uint32_t>& next = starts;  // advanced in place, then restored below
    for (std::size_t k = 0; k < m; ++k) sorted[next[fine[k]]++] = u[k];
    for (std::size_t f = m; f > 0; --f) next[f] = next[f - 1];
    next[0] = 0;
  }
  for (std::size_t f = 0; f < m; ++f) {
    const auto first = sorted.begin() + starts[f], last = sorted.begin() + starts[f + 1];
    if (last - first > 32) {
      std::sort(first, last);
    } else {
      for (auto i = first + 1; i < last; ++i)
        for (auto j = i; j > first && *j < *(j - 1); --j) std::iter_swap(j, j - 1);
    }
  }
}

template <class T, class Law>
fit_statistics fit_impl(std::span<const T> x, const Law& law) {
  const auto total = static_cast<std::int64_t>(x.size());
  // ~4096 samples a bucket (~2,400-4,800), a power of two up to 2^16: few enough buckets for
  // the lookup table and the scatter to stay in cache, measured fastest at 10^7.
  std::int64_t buckets = 1;
  while (buckets < 65536 && buckets * 4096 < total) buckets *= 2;
  std::vector<double> edges(static_cast<std::size_t>(buckets), INFINITY);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 1; b < buckets; ++b)
    edges[b - 1] = edge_quantile(law, static_cast<double>(b) / static_cast<double>(buckets));
  for (std::int64_t b = 1; b + 1 < buckets; ++b) edges[b] = std::max(edges[b], edges[b - 1]);
  // The bucket of v is how many edges are <= v. A lookup table over a uniform grid of
  // `cells` cells in x gives a lower bound (the count at the cell's left end; 0 for cell 0,
  // which also takes everything below the grid), and a short scan finishes: with 4 cells per
  // bucket on average, 0 to 2 steps for smooth laws. Exact for any v, whatever the law.
  const std::int64_t cells = 4 * buckets;
  const double grid_low = buckets > 1 ? edges[0] : 0.0;
  const double grid_high = buckets > 1 ? edges[buckets - 2] : 1.0;
  const double cell_scale =
      grid_high > grid_low ? static_cast<double>(cells) / (grid_high - grid_low) : 0.0;
  std::vector<std::int32_t> table(static_cast<std::size_t>(cells), 0);
  for (std::int64_t c = 1; c < cells && buckets > 1; ++c) {
    const double left = grid_low + static_cast<double>(c) / cell_scale;
    table[c] = static_cast<std::int32_t>(std::upper_bound(edges.begin(), edges.end() - 1, left) -
                                         edges.begin());
  }
  // Local copies: the counting loops write through pointers the compiler cannot prove apart
  // from these, and would reload them every sample.
  const double* const edge = edges.data();
  const std::int32_t* const lookup = table.data();
  const std::int64_t last = buckets - 1;
  const auto bucket_of = [=](double v) -> std::int64_t {
    const double position = (v - grid_low) * cell_scale;
    // (Compared before the cast: converting +inf or a huge double to an integer is undefined.)
    const std::int64_t cell = position >= static_cast<double>(cells) ? cells - 1
                              : position > 0 ? static_cast<std::int64_t>(position)
                                             : 0;
    std::int64_t bucket = lookup[cell];
    // Two steps without branches (a data-dependent branch here mispredicts about every other
    // sample), then a loop that smooth laws almost never enter.
    bucket += static_cast<std::int64_t>((bucket < last) & (edge[bucket] <= v));
    bucket += static_cast<std::int64_t>((bucket < last) & (edge[bucket] <= v));
    while (bucket < last && edge[bucket] <= v) ++bucket;
    return bucket;
  };

  // Pass 1: per-thread bucket counts over static chunks. Pass 2: scatter into bucket order.
  const int threads = omp_get_max_threads();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(threads * buckets), 0);
  std::vector<std::int64_t> nan(static_cast<std::size_t>(threads), 0);
  int team = 1;
  const auto chunk = [&](int t, int of) {
    return std::pair<std::int64_t, std::int64_t>{total * t / of, total * (t + 1) / of};
  };
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    const auto [begin, end] = chunk(t, team);
    std::int64_t* mine = counts.data() + t * buckets;
    for (std::int64_t i = begin; i < end; ++i) {
      const double v = static_cast<double>(x[i]);
      if (std::isnan(v))
        ++nan[t];
      else
        ++mine[bucket_of(v)];
    }
  }
  std::vector<std::int64_t> bucket_start(static_cast<std::size_t>(buckets + 1), 0);
  {
    std::int64_t running = 0;
    for (std::int64_t b = 0; b < buckets; ++b) {
      bucket_start[b] = running;
      for (int t = 0; t < team; ++t) {
        const std::int64_t c = counts[t * buckets + b];
        counts[t * buckets + b] = running;  // now thread t's write position in bucket b
        running += c;
      }
    }
    bucket_start[buckets] = running;
  }
  fit_statistics result;
  for (int t = 0; t < team; ++t) result.nan += nan[t];
  result.n = bucket_start[buckets];
  if (result.n == 0) return result;
  // Uninitialized: every element is written by the scatter below.
  const auto grouped = detail::allocate_buffer<T>(static_cast<std::size_t>(result.n));
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    const auto [begin, end] = chunk(t, team);
    std::int64_t* position = counts.data() + t * buckets;
    for (std::int64_t i = begin; i < end; ++i) {
      const double v = static_cast<double>(x[i]);
      if (!std::isnan(v)) grouped[position[bucket_of(v)]++] = x[i];
    }
  }

  // Pass 3: per bucket, u = F(x) in order, and each value's terms with its global rank.
  const double n_d = static_cast<double>(result.n);
  // i/n as i * (1/n): within an ulp of the quotient, and a multiplication instead of a division
  // per term; ks_statistic and anderson_darling_statistic use the same expressions.
  const double inv_n = 1 / n_d;
  std::vector<double> bucket_d(static_cast<std::size_t>(buckets), 0.0);
  std::vector<double> bucket_sum(static_cast<std::size_t>(buckets), 0.0);
  std::vector<double> bucket_low(static_cast<std::size_t>(buckets), 0.0);
  std::vector<double> bucket_high(static_cast<std::size_t>(buckets), 0.0);
#pragma omp parallel num_threads(team)
  {
    std::vector<double> u, sorted;
    std::vector<std::uint32_t> starts, fine;
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t b = 0; b < buckets; ++b) {
      const std::int64_t first = bucket_start[b];
      const auto m = static_cast<std::size_t>(bucket_start[b + 1] - first);
      if (m == 0) continue;
      u.resize(m);
      cdf_batch(law, grouped.get() + first, u.data(), m);
      const double width = 1.0 / static_cast<double>(buckets);
      order_bucket(u, m, static_cast<double>(b) * width, width, sorted, starts, fine);
      double d = 0, sum = 0;
      for (std::size_t k = 0; k < m; ++k) {
        const auto i = static_cast<std::int64_t>(first) + static_cast<std::int64_t>(k);
        const double p = sorted[k];
        // The same expressions as ks_statistic, so D is bitwise the same.
        const double above = static_cast<double>(i + 1) * inv_n - p;
        const double below = p - static_cast<double>(i) * inv_n;
        d = std::max({d, above, below});
        if (k > 0) sum += ad_piece(static_cast<double>(i) * inv_n, sorted[k - 1], p);
      }
      bucket_d[b] = d;
      bucket_sum[b] = sum;
      bucket_low[b] = sorted.front();
      bucket_high[b] = sorted.back();
    }
  }
  // In bucket order, so the same whatever the thread count; the pieces between buckets here.
  double sum = 0, previous = NAN;
  for (std::int64_t b = 0; b < buckets; ++b) {
    if (bucket_start[b + 1] == bucket_start[b]) continue;
    result.d = std::max(result.d, bucket_d[b]);
    sum += std::isnan(previous)
               ? ad_first_piece(bucket_low[b])
               : ad_piece(static_cast<double>(bucket_start[b]) / n_d, previous, bucket_low[b]);
    sum += bucket_sum[b];
    previous = bucket_high[b];
  }
  sum += ad_last_piece(previous);
  result.a2 = n_d * sum;
  return result;
}

void require_samples(std::string_view function, std::span<const double> sorted_u) {
  if (sorted_u.empty()) verinit::detail::throw_invalid(function, "sample count", "0", ">= 1");
}

}  // namespace

fit_statistics fit_statistics_of(std::span<const float> samples, const continuous_law& law) {
  return std::visit([&](const auto& d) { return fit_impl(samples, d); }, law);
}
fit_statistics fit_statistics_of(std::span<const double> samples, const continuous_law& law) {
  return std::visit([&](const auto& d) { return fit_impl(samples, d); }, law);
}

test_result ks_test(const fit_statistics& fit) {
  test_result r;
  r.name = "ks";
  if (fit.n + fit.nan == 0) verinit::detail::throw_invalid("ks_test", "sample count", "0", ">= 1");
  r.statistic = fit.nan > 0 || std::isnan(fit.d) ? 1.0 : fit.d;  // a NaN sample rejects
  r.p_value = cdf(complement(kolmogorov_smirnov_distribution(fit.n + fit.nan), r.statistic));
  r.note = "sup |F_n - F|, p from the exact law of D_n";
  return r;
}

test_result anderson_darling_test(const fit_statistics& fit) {
  test_result r;
  r.name = "anderson_darling";
  if (fit.n + fit.nan == 0)
    verinit::detail::throw_invalid("anderson_darling_test", "sample count", "0", ">= 1");
  r.statistic = fit.nan > 0 || std::isnan(fit.a2) ? INFINITY : fit.a2;
  r.p_value = cdf(complement(anderson_darling_distribution{}, r.statistic));
  r.note = "A^2, p from the limiting law (Marsaglia & Marsaglia 2004 series)";
  return r;
}

double ks_statistic(std::span<const double> sorted_u) {
  const auto n = static_cast<std::int64_t>(sorted_u.size());
  const double n_d = static_cast<double>(n);
  const double inv_n = 1 / n_d;  // as fit_statistics_of
  double d = 0;
#pragma omp parallel for schedule(static) reduction(max : d)
  for (std::int64_t i = 0; i < n; ++i) {
    const double u = sorted_u[i];
    const double above = static_cast<double>(i + 1) * inv_n - u;
    const double below = u - static_cast<double>(i) * inv_n;
    d = std::max({d, above, below});
  }
  return d;
}

double anderson_darling_statistic(std::span<const double> sorted_u) {
  const auto n = static_cast<std::int64_t>(sorted_u.size());
  if (n == 0) return 0;
  if (std::isnan(sorted_u.back())) return NAN;  // NaN u sort last: A^2 is undefined
  const double n_d = static_cast<double>(n);
  const double inv_n = 1 / n_d;  // as fit_statistics_of
  double sum = 0;
  for (std::int64_t i = 1; i < n; ++i)
    sum += ad_piece(static_cast<double>(i) * inv_n, sorted_u[i - 1], sorted_u[i]);
  return n_d * (sum + ad_first_piece(sorted_u.front()) + ad_last_piece(sorted_u.back()));
}

test_result ks_test(std::span<const double> sorted_u) {
  test_result r;
  r.name = "ks";
  require_samples("ks_test", sorted_u);
  r.statistic = ks_statistic(sorted_u);
  // NaN probabilities (NaN samples) sort last: D is then undefined, and the fit is rejected.
  if (std::isnan(r.statistic) || std::isnan(sorted_u.back())) r.statistic = 1;
  r.p_value = cdf(complement(
      kolmogorov_smirnov_distribution(static_cast<std::int64_t>(sorted_u.size())), r.statistic));
  r.note = "sup |F_n - F|, p from the exact law of D_n";
  return r;
}

test_result anderson_darling_test(std::span<const double> sorted_u) {
  test_result r;
  r.name = "anderson_darling";
  require_samples("anderson_darling_test", sorted_u);
  r.statistic = anderson_darling_statistic(sorted_u);
  if (std::isnan(r.statistic)) r.statistic = INFINITY;
  r.p_value = cdf(complement(anderson_darling_distribution{}, r.statistic));
  r.note = "A^2, p from the limiting law (Marsaglia & Marsaglia 2004 series)";
  return r;
}

}  // namespace verinit::verify
