// Kolmogorov-Smirnov and Anderson-Darling from order statistics obtained by bucketing.
#include "verinit/verify/goodness_of_fit.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "anderson_darling_pieces.hpp"
#include "buffer.hpp"
#include "cell_grid.hpp"
#include "counting_sort.hpp"
#include "vector_clones.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/verify/distributions/anderson_darling.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

namespace verinit::verify {
namespace {

using detail::ad_first_piece;
using detail::ad_highest;
using detail::ad_last_piece;
using detail::ad_long_series_limit;
using detail::ad_lowest;
using detail::ad_piece;
using detail::ad_piece_from;
using detail::ad_series_limit;
using detail::cell_grid;
using detail::log1p_long_series;
using detail::log1p_series;

// A thread's working memory for one bucket at a time. Kept by the thread from one call to the
// next (OpenMP keeps its threads): a model's hundreds of tensors would otherwise fault fresh
// pages in for every one (each vector ~128-256 KiB, above malloc's mmap threshold). Beyond
// 2^20 values (buckets far from the law) it is released after use.
struct bucket_scratch {
  std::vector<double> u, sorted;
  std::vector<std::uint32_t> fine, starts;

  static bucket_scratch& of_this_thread() {
    thread_local bucket_scratch scratch;
    return scratch;
  }
  void release_if_large() {
    if (u.capacity() > (std::size_t{1} << 20)) *this = bucket_scratch();  // ~24 MiB in all
  }
};

// Orders a bucket's probabilities s.u[0..m), nominally in [low, low + width), into s.sorted:
// a counting sort into 2m fine bins, then one insertion-sort pass over the whole bucket, which
// only moves values within their fine bin. Under the null a fine bin holds Poisson(1/2)
// values, so about one value in eight moves, one step: the pass's branch is nearly always
// predicted. Data far from the law (most values in a few fine bins) would make the pass
// quadratic; past 4m moves it stops and std::sort finishes the (permuted) bucket instead.
void order_bucket(std::size_t m, double low, double width, bucket_scratch& s) {
  s.sorted.resize(m);
  if (m > (std::size_t{1} << 30)) {  // only for data far from the law: no fine bins
    std::copy(s.u.begin(), s.u.begin() + static_cast<std::ptrdiff_t>(m), s.sorted.begin());
    std::sort(s.sorted.begin(), s.sorted.begin() + static_cast<std::ptrdiff_t>(m));
    return;
  }
  const auto bins = static_cast<std::int32_t>(2 * m);
  s.starts.assign(static_cast<std::size_t>(bins) + 1, 0);
  s.fine.resize(m);
  const cell_grid fine_grid{low, static_cast<double>(bins) / width, static_cast<double>(bins - 1)};
  const auto count = static_cast<std::int32_t>(m);
  const double* const u = s.u.data();
  std::uint32_t* const fine = s.fine.data();
  std::uint32_t* const starts = s.starts.data();
  double* const v = s.sorted.data();
  for (std::int32_t k = 0; k < count; ++k)
    fine[k] = static_cast<std::uint32_t>(fine_grid.cell_of(u[k]));
  for (std::int32_t k = 0; k < count; ++k) ++starts[fine[k] + 1];
  for (std::int32_t f = 0; f < bins; ++f) starts[f + 1] += starts[f];
  for (std::int32_t k = 0; k < count; ++k) v[starts[fine[k]]++] = u[k];
  std::size_t moves = 0;
  for (std::size_t i = 1; i < m; ++i) {
    const double value = v[i];
    if (!(value < v[i - 1])) continue;
    std::size_t j = i;
    do {
      v[j] = v[j - 1];
      --j;
    } while (j > 0 && value < v[j - 1]);
    v[j] = value;
    moves += i - j;
    if (moves > 4 * m) {
      std::sort(v, v + m);
      return;
    }
  }
}

// std::clamp by value (the reference it returns keeps loops from being vectorized).
inline double clamp_value(double v, double low, double high) {
  const double above = v < low ? low : v;
  return high < above ? high : above;
}

// D and the A^2 pieces inside one ordered bucket whose first value has global rank `first`.
struct bucket_terms {
  double d = 0, sum = 0;
};
VERINIT_VECTOR_CLONES bucket_terms terms_of(const double* p, std::size_t m, std::int64_t first,
                                            double inv_n) {
  // Vector lanes need a 32-bit loop counter (SSE2 converts only 32-bit integers to doubles in
  // lanes), so the loops run over blocks of at most 2^30 values; ranks are whole numbers below
  // 2^53, exact in a double, so block start + offset is the rank's double exactly.
  constexpr std::size_t block = std::size_t{1} << 30;
  double d = 0;
  for (std::size_t start = 0; start < m; start += block) {
    const auto count = static_cast<std::int32_t>(std::min(block, m - start));
    const double* const q = p + start;
    const double base = static_cast<double>(first) + static_cast<double>(start);
    // The same expressions as ks_statistic, so D is bitwise the same (a maximum does not
    // depend on the order it is taken in).
#pragma omp simd reduction(max : d)
    for (std::int32_t j = 0; j < count; ++j) {
      const double i = base + static_cast<double>(j);
      const double above = (i + 1) * inv_n - q[j], below = q[j] - i * inv_n;
      const double larger = above < below ? below : above;  // std::max without a reference
      d = d < larger ? larger : d;
    }
  }
  // Each piece once, by log1p_small: in vector lanes where both y are below the series' limit
  // (all but a few per bucket, and those only in the outer buckets), in a second vector loop
  // where the larger y is below the long series' limit (the outer buckets' pieces, and every
  // piece of a tensor below 2^15 values), else in a third, scalar loop.
  double sum = 0, y_max = 0;
  for (std::size_t start = 1; start < m; start += block) {
    const auto count = static_cast<std::int32_t>(std::min(block, m - start));
    const double* const q = p + start;
    const double base = static_cast<double>(first) + static_cast<double>(start);
#pragma omp simd reduction(+ : sum) reduction(max : y_max)
    for (std::int32_t j = 0; j < count; ++j) {
      const double a = clamp_value(q[j - 1], ad_lowest, ad_highest);
      const double b = clamp_value(q[j], ad_lowest, ad_highest);
      const double gap = b - a, y_a = gap / a, y_b = gap / (1 - b);
      const double y = y_a < y_b ? y_b : y_a;
      y_max = y_max < y ? y : y_max;
      const double c = (base + static_cast<double>(j)) * inv_n;
      const double piece =
          ad_piece_from(c, gap, y_a, y_b, [](double v) { return log1p_series(v); });
      sum += y < ad_series_limit ? piece : 0.0;
    }
  }
  if (!(y_max < ad_series_limit)) {
    for (std::size_t start = 1; start < m; start += block) {
      const auto count = static_cast<std::int32_t>(std::min(block, m - start));
      const double* const q = p + start;
      const double base = static_cast<double>(first) + static_cast<double>(start);
#pragma omp simd reduction(+ : sum)
      for (std::int32_t j = 0; j < count; ++j) {
        const double a = clamp_value(q[j - 1], ad_lowest, ad_highest);
        const double b = clamp_value(q[j], ad_lowest, ad_highest);
        const double gap = b - a, y_a = gap / a, y_b = gap / (1 - b);
        const double y = y_a < y_b ? y_b : y_a;
        const double c = (base + static_cast<double>(j)) * inv_n;
        // log1p_small without its library branch (this loop's pieces have y < the limit).
        const double piece = ad_piece_from(c, gap, y_a, y_b, [](double v) {
          return v < ad_series_limit ? log1p_series(v) : log1p_long_series(v);
        });
        sum += (y >= ad_series_limit) & (y < ad_long_series_limit) ? piece : 0.0;
      }
    }
  }
  if (!(y_max < ad_long_series_limit)) {
    for (std::size_t k = 1; k < m; ++k) {
      const double a = clamp_value(p[k - 1], ad_lowest, ad_highest);
      const double b = clamp_value(p[k], ad_lowest, ad_highest);
      if (!((b - a) / a < ad_long_series_limit && (b - a) / (1 - b) < ad_long_series_limit))
        sum += ad_piece(static_cast<double>(first + static_cast<std::int64_t>(k)) * inv_n, a, b);
    }
  }
  return {d, sum};
}

// The bucket of a value v: the number of edges e_0 <= e_1 <= ... <= e_{B-2} that are <= v
// (bucket B - 1 takes +inf; NaN gets its own slot, B). Found without a search: a uniform grid
// of cells over [e_0, e_{B-2}], its cell function c(v), non-decreasing in v (cell_grid), and a
// table T[c] = #{edges e : c(e) < c}. For every v, T[c(v)] is a lower bound
// of the bucket (an edge in an earlier cell is < v, by monotonicity), and the edges it misses
// all lie in v's own cell; so `steps` = the most edges in one cell, counted when the table is
// built, steps of "+1 if the next edge is <= v" give the bucket exactly, whatever rounding
// does at cell boundaries. With 4 cells a bucket, cells are narrower than the narrowest
// bucket of the verifier's laws, and steps <= 1: one fixed step, without a branch. More steps
// (edges rounded together far in a tail) take a loop, as exact.
struct bucket_map {
  std::vector<double> edge;  // B - 1 edges, then a NaN sentinel (no v is >= it)
  std::vector<std::int32_t> table;
  cell_grid grid;
  std::int32_t nan_slot = 0;
  std::int32_t steps = 0;
};

bucket_map bucket_map_for(const any_law& law, std::int32_t buckets, int threads) {
  bucket_map map;
  map.edge.assign(static_cast<std::size_t>(buckets), NAN);
  map.nan_slot = buckets;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int32_t b = 1; b < buckets; ++b)
    map.edge[b - 1] = law.bucket_edge(static_cast<double>(b) / static_cast<double>(buckets));
  for (std::int32_t b = 1; b + 1 < buckets; ++b)
    map.edge[b] = std::max(map.edge[b], map.edge[b - 1]);
  const std::int32_t cells = 4 * buckets;
  map.table.assign(static_cast<std::size_t>(cells) + 1, 0);
  if (buckets > 1) {
    const double low = map.edge[0], high = map.edge[buckets - 2];
    map.grid = {low, high > low ? static_cast<double>(cells) / (high - low) : 0.0,
                static_cast<double>(cells - 1)};
  }
  // T[c + 1] counts the edges in cell c, then a running sum.
  for (std::int32_t b = 0; b + 1 < buckets; ++b) {
    const std::int32_t c = map.grid.cell_of(map.edge[b]);
    map.steps = std::max(map.steps, ++map.table[c + 1]);
  }
  for (std::int32_t c = 0; c < cells; ++c) map.table[c + 1] += map.table[c];
  return map;
}

// out[k] = the bucket of x[k] (NaN: map.nan_slot), k < count. Scalar: the table lookups would
// need gathers, which GCC does not emit for generic tuning, and written with AVX2 or AVX-512
// intrinsics they measured no faster here.
template <class T>
void bucket_indices(const T* x, std::int32_t count, const bucket_map& map, std::int32_t* out) {
  // Local copies: the compiler cannot prove `out` apart from the map's members.
  const double* const edge = map.edge.data();
  const std::int32_t* const table = map.table.data();
  const cell_grid grid = map.grid;
  const std::int32_t nan_slot = map.nan_slot;
  if (map.steps <= 1) {  // the verifier's laws: no cell holds two edges
    for (std::int32_t k = 0; k < count; ++k) {
      const double v = static_cast<double>(x[k]);
      std::int32_t bucket = table[grid.cell_of(v)];
      bucket += static_cast<std::int32_t>(edge[bucket] <= v);
      out[k] = v == v ? bucket : nan_slot;
    }
  } else {
    for (std::int32_t k = 0; k < count; ++k) {
      const double v = static_cast<double>(x[k]);
      std::int32_t bucket = table[grid.cell_of(v)];
      while (edge[bucket] <= v) ++bucket;  // stops at the NaN sentinel
      out[k] = v == v ? bucket : nan_slot;
    }
  }
}
template <class T>
fit_statistics fit_impl(std::span<const T> x, const any_law& law, int threads,
                        std::int64_t keep_buckets_up_to) {
  const auto total = static_cast<std::int64_t>(x.size());
  // ~16,384 samples a bucket (8,192-16,384), a power of two up to 4,096 buckets: the scatter
  // writes to few places at a time, and a bucket's sort stays in cache. Measured at 1 thread
  // (verify_bench): 10^7 in 512 buckets 133 ms, in 4,096 148 ms; 10^8 in 1,024 to 4,096
  // 2.16 s, in 32,768 3.0-3.3 s.
  std::int32_t buckets = 1;
  while (buckets < 4096 && std::int64_t{buckets} * 16384 < total) buckets *= 2;
  const bucket_map map = bucket_map_for(law, buckets, threads);

  // Pass 1: per-thread bucket counts over static chunks. Pass 2: scatter into bucket order.
  // Both take a block of values at a time: pass 1 finds their buckets and counts them, pass 2
  // moves them. Slot B counts NaN, which is scattered past the last bucket. Pass 1 keeps the
  // buckets (2 bytes a value, at most 32 MiB) for pass 2 up to 2^24 values; beyond, pass 2
  // finds them again, the same way, rather than hold a third copy of the data's size.
  const std::int64_t slots = std::int64_t{buckets} + 1;
  constexpr std::int32_t block = 2048;
  static_assert(4096 + 1 <= 65536, "a bucket or the NaN slot fits a std::uint16_t");
  const bool keep = total <= keep_buckets_up_to;
  const auto kept =
      detail::allocate_buffer<std::uint16_t>(keep ? static_cast<std::size_t>(total) : 0);
  detail::thread_bucket_offsets offsets(threads, slots);
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
    std::int64_t* const mine = offsets.counts_of(t);
    std::int32_t index[block];
    for (std::int64_t i = begin; i < end; i += block) {
      const auto count = static_cast<std::int32_t>(std::min<std::int64_t>(block, end - i));
      bucket_indices(x.data() + i, count, map, index);
      for (std::int32_t k = 0; k < count; ++k) ++mine[index[k]];
      if (keep)
        for (std::int32_t k = 0; k < count; ++k)
          kept.get()[i + k] = static_cast<std::uint16_t>(index[k]);
    }
  }
  offsets.to_positions(team);  // each count now thread t's write position in bucket b
  const auto bucket_start = [&](std::int64_t b) { return offsets.start(b); };
  fit_statistics result;
  result.n = bucket_start(buckets);
  result.nan = total - result.n;
  if (result.n == 0) return result;
  // Uninitialized: every element is written by the scatter below.
  const auto grouped = detail::allocate_buffer<T>(static_cast<std::size_t>(total));
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    const auto [begin, end] = chunk(t, team);
    std::int64_t* const position = offsets.counts_of(t);
    T* const out = grouped.get();
    std::int32_t index[block];
    for (std::int64_t i = begin; i < end; i += block) {
      const auto count = static_cast<std::int32_t>(std::min<std::int64_t>(block, end - i));
      const T* const in = x.data() + i;
      if (keep) {
        const std::uint16_t* const bucket = kept.get() + i;
        for (std::int32_t k = 0; k < count; ++k) out[position[bucket[k]]++] = in[k];
      } else {
        bucket_indices(in, count, map, index);
        for (std::int32_t k = 0; k < count; ++k) out[position[index[k]]++] = in[k];
      }
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
    bucket_scratch& scratch = bucket_scratch::of_this_thread();
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t b = 0; b < buckets; ++b) {
      const std::int64_t first = bucket_start(b);
      const auto m = static_cast<std::size_t>(bucket_start(b + 1) - first);
      if (m == 0) continue;
      scratch.u.resize(m);
      const T* const values = grouped.get() + first;
      for (std::size_t k = 0; k < m; ++k) scratch.u[k] = to_double(values[k]);
      law.cdf_batch(scratch.u.data(), scratch.u.data(), m);
      const double width = 1.0 / static_cast<double>(buckets);
      order_bucket(m, static_cast<double>(b) * width, width, scratch);
      const bucket_terms terms = terms_of(scratch.sorted.data(), m, first, inv_n);
      bucket_d[b] = terms.d;
      bucket_sum[b] = terms.sum;
      bucket_low[b] = scratch.sorted.front();
      bucket_high[b] = scratch.sorted.back();
    }
    scratch.release_if_large();
  }
  // In bucket order, so the same whatever the thread count; the pieces between buckets here.
  double sum = 0, previous = NAN;
  for (std::int64_t b = 0; b < buckets; ++b) {
    if (bucket_start(b + 1) == bucket_start(b)) continue;
    result.d = std::max(result.d, bucket_d[b]);
    sum += std::isnan(previous)
               ? ad_first_piece(bucket_low[b])
               : ad_piece(static_cast<double>(bucket_start(b)) / n_d, previous, bucket_low[b]);
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

fit_statistics fit_statistics_of(const tensor_view& samples, const any_law& law, int threads) {
  return detail::fit_statistics_of(samples, law, threads, detail::keep_buckets_up_to);
}

fit_statistics detail::fit_statistics_of(const tensor_view& samples, const any_law& law,
                                         int threads, std::int64_t keep_buckets_up_to) {
  if (threads < 1)
    verinit::detail::throw_invalid("fit_statistics_of", "threads", std::to_string(threads), ">= 1");
  return visit_dtype(samples.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return fit_impl(samples.elements<T>(), law, threads, keep_buckets_up_to);
  });
}

double ks_statistic(std::span<const double> sorted_u) {
  const auto n = static_cast<std::int64_t>(sorted_u.size());
  const double n_d = static_cast<double>(n);
  const double inv_n = 1 / n_d;  // as fit_statistics_of
  double d = 0;
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
  r.values = {{"n", static_cast<double>(sorted_u.size())}};
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
