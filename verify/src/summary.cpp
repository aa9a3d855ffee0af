// Summaries of samples for reports: histogram, ECDF at fixed levels, moments.
#include "verinit/verify/summary.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "cell_grid.hpp"
#include "vector_clones.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/distributions/affine.hpp"
#include "verinit/verify/exact_sum.hpp"
#include "verinit/verify/stream_state.hpp"

namespace verinit::verify {
namespace {

using detail::cell_grid;

// Probability levels: every 0.005 in the bulk and 1, 2, 5 x 10^-j (j = 3..7) in each tail,
// so that Q-Q and ECDF plots show the tails where wrong laws differ most.
std::vector<double> probability_levels() {
  std::vector<double> levels;
  for (int j = 7; j >= 3; --j)
    for (double m : {1.0, 2.0, 5.0}) levels.push_back(m * std::pow(10.0, -j));
  for (int k = 1; k < 200; ++k) levels.push_back(k / 200.0);
  for (int j = 3; j <= 7; ++j)
    for (double m : {5.0, 2.0, 1.0}) levels.push_back(1 - m * std::pow(10.0, -j));
  return levels;
}

// The number of quantiles below v (the first level k with v <= q[k]; q.size() when none), for
// sorted quantiles q. A branch-free binary search costs ~8 dependent steps per value; for many
// values a table over [q.front(), q.back()] cut into 65,536 equal cells first proposes the count
// at the cell's middle, and two exact comparisons (q[k - 1] < v <= q[k]) accept it. Only values
// whose cell holds a quantile (about 1 in 80 for the normal law's levels) or that lie outside
// the quantiles' range fall back to the search, so the answer is always the search's.
class level_finder {
 public:
  level_finder(const std::vector<double>& q, std::size_t values) : levels_(q.size()) {
    // bounds_ = -inf, q, +inf, then +inf up to a power of two past q for the search.
    std::size_t padded = 1;
    while (padded < levels_ + 1) padded *= 2;
    bounds_.reserve(padded + 1);
    bounds_.push_back(-INFINITY);
    bounds_.insert(bounds_.end(), q.begin(), q.end());
    bounds_.resize(padded + 1, INFINITY);
    half_ = padded / 2;
    // 65,536 cells cost ~0.1 ms to fill: worth it from tens of thousands of values.
    constexpr std::size_t worth_from = 32768;
    constexpr std::int32_t cells = 65536;
    if (values < worth_from || levels_ == 0 || levels_ >= 255) return;
    const double width = (q.back() - q.front()) / cells;
    if (!(width > 0) || !std::isfinite(width)) return;
    grid_ = {q.front(), 1 / width, double{cells - 1}};
    table_.resize(cells);
    std::size_t below = 0;  // quantiles < the cell's middle, found by a merge
    for (std::size_t c = 0; c < cells; ++c) {
      const double middle = grid_.low + (static_cast<double>(c) + 0.5) * width;
      while (below < levels_ && q[below] < middle) ++below;
      table_[c] = static_cast<std::uint8_t>(below);
    }
  }

  // The table's cells: callers find them in vector lanes (cells_of), and pass a value's cell
  // with the value (not NaN) to at().
  const cell_grid& grid() const noexcept { return grid_; }

  std::size_t at(std::size_t cell, double v) const {
    if (!table_.empty()) {
      const std::size_t k = table_[cell];
      if (bounds_[k] < v && v <= bounds_[k + 1]) return k;
    }
    // Branch-free binary search; invariant: bounds_[pos] < v (bounds_[0] = -inf).
    std::size_t pos = 0;
    for (std::size_t half = half_; half > 0; half /= 2) pos += (bounds_[pos + half] < v) ? half : 0;
    return std::min(pos, levels_);
  }

 private:
  std::size_t levels_, half_ = 0;
  // -inf, q, +inf...: count k is right when bounds_[k] < v <= bounds_[k + 1].
  std::vector<double> bounds_;
  std::vector<std::uint8_t> table_;
  cell_grid grid_;
};

// For a block of values, each one's histogram slot ([0, bins) by the histogram's cells; bins
// below low; bins + 1 above high or NaN) and its level_finder cell, in vector lanes.
VERINIT_VECTOR_CLONES void cells_of(const double* v, std::int32_t count, double low, double high,
                                    const cell_grid& histogram, std::int32_t bins,
                                    const cell_grid& levels, std::int32_t* slot,
                                    std::int32_t* cell) {
  const cell_grid h = histogram, l = levels;  // local copies: the stores cannot alias them
  for (std::int32_t k = 0; k < count; ++k) {
    const double x = v[k];
    slot[k] = x < low ? bins : ((x > high || x != x) ? bins + 1 : h.cell_of(x));
    cell[k] = l.cell_of(x);
  }
}

// Powers of x - centre over fixed blocks, each block's partial added exactly.
template <class T>
centred_sums power_sums(std::span<const T> x, double centre, int threads) {
  const auto n = static_cast<std::int64_t>(x.size());
  const std::int64_t block = stream_state::block_size;
  const std::int64_t blocks = (n + block - 1) / block;
  std::vector<std::array<double, 4>> parts(static_cast<std::size_t>(blocks));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t b = 0; b < blocks; ++b) {
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (std::int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
      const double d = to_double(x[i]) - centre, d2 = d * d;
      s1 += d;
      s2 += d2;
      s3 += d2 * d;
      s4 += d2 * d2;
    }
    parts[static_cast<std::size_t>(b)] = {s1, s2, s3, s4};
  }
  exact_sum sums[4];
  for (const auto& p : parts)
    for (int k = 0; k < 4; ++k) sums[k] += p[static_cast<std::size_t>(k)];
  return {static_cast<double>(n), sums[0].value(), sums[1].value(), sums[2].value(),
          sums[3].value()};
}

template <class T>
sample_summary summarize_impl(std::span<const T> x, const any_law& law, int threads, int bins) {
  if (bins < 1) throw std::invalid_argument("summarize: bins must be >= 1");
  const auto [range_low, range_high] = plot_range(law);
  if (!(range_low < range_high)) throw std::invalid_argument("summarize: empty histogram range");
  sample_summary s;
  s.law = law.description();
  s.expected = law.moments();
  s.sums = power_sums(x, s.expected.mean, threads);
  s.low = range_low;
  s.high = range_high;
  s.levels = probability_levels();
  for (double p : s.levels) s.quantiles.push_back(law.quantile(p));
  constexpr int grid = 400;
  for (int i = 0; i <= grid; ++i) {
    const double at = s.low + (s.high - s.low) * i / grid;
    s.density_x.push_back(at);
    s.density.push_back(law.pdf(at));
  }
  // One pass: the histogram bin of x and the first level k with x <= x_k. Integer counts, so
  // the merge across threads is exact whatever its order.
  const std::size_t levels = s.quantiles.size();
  const level_finder find_level(s.quantiles, x.size());
  const double low = s.low, high = s.high;
  const cell_grid histogram{low, bins / (high - low), static_cast<double>(bins - 1)};
  const auto n = static_cast<std::int64_t>(x.size());
  // hist: [0, bins) bins, bins = below, bins + 1 = above. first: [0, levels] (levels: none).
  std::vector<std::int64_t> hist(static_cast<std::size_t>(bins) + 2, 0), first(levels + 1, 0);
  constexpr std::int64_t block = 1024;
  const std::int64_t blocks = (n + block - 1) / block;
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::int64_t> my_hist(hist.size(), 0), my_first(first.size(), 0);
    double v[block];
    std::int32_t slot[block], cell[block];
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t begin = b * block;
      const auto count = static_cast<std::int32_t>(std::min(block, n - begin));
      for (std::int32_t k = 0; k < count; ++k) v[k] = to_double(x[begin + k]);
      cells_of(v, count, low, high, histogram, bins, find_level.grid(), slot, cell);
      for (std::int32_t k = 0; k < count; ++k) {
        ++my_hist[static_cast<std::size_t>(slot[k])];
        const double value = v[k];
        ++my_first[value != value ? levels
                                  : find_level.at(static_cast<std::size_t>(cell[k]), value)];
      }
    }
#pragma omp critical(verinit_summary_merge)
    {
      for (std::size_t b = 0; b < hist.size(); ++b) hist[b] += my_hist[b];
      for (std::size_t k = 0; k < first.size(); ++k) first[k] += my_first[k];
    }
  }
  s.counts.assign(hist.begin(), hist.begin() + bins);
  s.below = hist[bins];
  s.above = hist[bins + 1];
  std::int64_t running = 0;
  for (std::size_t k = 0; k < levels; ++k) {
    running += first[k];
    s.at_or_below.push_back(running);
  }
  return s;
}

}  // namespace

std::pair<double, double> plot_range(const any_law& law) {
  const auto [low, high] = law.support();
  return {std::isinf(low) ? law.quantile(1e-5) : low,
          std::isinf(high) ? law.quantile(1 - 1e-5) : high};
}

any_law haar_entry_law(std::int64_t dim, double gain) {
  if (dim < 2) throw std::invalid_argument("haar_entry_law: dim must be >= 2");
  if (!(gain > 0) || !std::isfinite(gain))
    throw std::invalid_argument("haar_entry_law: gain must be positive and finite");
  const double shape = (static_cast<double>(dim) - 1) / 2;
  // Q = gain (2 B - 1) = -gain + 2 gain B.
  return any_law(
      affine_distribution(boost::math::beta_distribution<>(shape, shape), -gain, 2 * gain),
      "Q_ij = gain (2 B - 1), B ~ Beta(" + std::to_string(shape).substr(0, 6) +
          ", same): one entry of a Haar-orthogonal " + std::to_string(dim) + "-dim matrix");
}

std::optional<any_law> summary_law_for(const expectation& e) {
  switch (e.kind) {
    case expectation_kind::continuous:
    case expectation_kind::sparse:
      return *e.law;
    case expectation_kind::orthogonal:
      if (std::max(e.rows, e.cols) < 2) return std::nullopt;
      return haar_entry_law(std::max(e.rows, e.cols), e.gain);
    default:
      return std::nullopt;
  }
}

sample_moments moments_of(const sample_summary& s) {
  const double n = s.sums.n;
  const double m1 = s.sums.s1 / n, r2 = s.sums.s2 / n, r3 = s.sums.s3 / n, r4 = s.sums.s4 / n;
  // Central moments from powers about the centre c (d = x - c, m1 = mean(d)).
  const double c2 = r2 - m1 * m1;
  const double c3 = r3 - 3 * m1 * r2 + 2 * m1 * m1 * m1;
  const double c4 = r4 - 4 * m1 * r3 + 6 * m1 * m1 * r2 - 3 * m1 * m1 * m1 * m1;
  return {s.expected.mean + m1, c2, c3 / (c2 * std::sqrt(c2)), c4 / (c2 * c2)};
}

std::pair<double, double> variance_interval(const sample_summary& s) {
  const double estimate = s.sums.s2 / s.sums.n;
  const double standard_error =
      s.expected.variance * std::sqrt((s.expected.kurtosis - 1) / s.sums.n);
  return {estimate - detail::z_975 * standard_error, estimate + detail::z_975 * standard_error};
}

sample_summary summarize_grid(const rounded_law& law, const grid_histogram& histogram, int bins) {
  if (bins < 1) throw std::invalid_argument("summarize_grid: bins must be >= 1");
  if (histogram.n < 1) throw std::invalid_argument("summarize_grid: no samples");
  const std::vector<std::uint16_t>& order = law.order();
  // -0 is counted on +0's pattern (grid_histogram), where the law puts its mass too.
  const std::vector<std::int64_t>& count_of = histogram.counts;
  sample_summary s;
  s.law = law.description();
  s.grid = std::string(to_string(law.type()));
  const double n = static_cast<double>(histogram.n);
  const double variance = law.variance();
  s.expected = {law.mean(), variance, law.fourth_central_moment() / (variance * variance),
                law.third_central_moment() / (variance * std::sqrt(variance))};
  // Sums of powers about the law's mean, added exactly over the patterns (as summarize does,
  // a NaN or an infinity among the samples makes them, and so the moments, NaN or infinite).
  exact_sum sums[4];
  for (std::size_t bits = 0; bits < histogram.counts.size(); ++bits) {
    const std::int64_t c = histogram.counts[bits];
    if (c == 0) continue;
    const double d = law.value(static_cast<std::uint16_t>(bits)) - law.mean();
    const double weight = static_cast<double>(c);
    sums[0] += weight * d;
    sums[1] += weight * d * d;
    sums[2] += weight * d * d * d;
    sums[3] += weight * d * d * d * d;
  }
  s.sums = {n, sums[0].value(), sums[1].value(), sums[2].value(), sums[3].value()};
  // Range: the atoms at the 1e-5 and 1 - 1e-5 points of the law.
  std::vector<double> cdf(order.size());
  double running = 0;
  for (std::size_t k = 0; k < order.size(); ++k) cdf[k] = running += law.probability(order[k]);
  std::size_t first = 0, last = order.size() - 1;
  while (first + 1 < order.size() && (law.probability(order[first]) == 0 || cdf[first] < 1e-5))
    ++first;
  while (last > first && (law.probability(order[last]) == 0 || cdf[last - 1] > 1 - 1e-5)) --last;
  s.low = law.value(order[first]);
  s.high = law.value(order[last]);
  if (!(s.low < s.high)) {  // one atom: a unit-wide range around it
    s.low -= 0.5;
    s.high += 0.5;
  }
  const double scale = bins / (s.high - s.low);
  const auto bin_of = [&](double v) {
    return std::min(bins - 1, static_cast<int>((v - s.low) * scale));
  };
  s.counts.assign(static_cast<std::size_t>(bins), 0);
  std::vector<double> mass(static_cast<std::size_t>(bins), 0.0);
  for (std::size_t k = 0; k < order.size(); ++k) {
    const double v = law.value(order[k]);
    const std::int64_t c = count_of[order[k]];
    if (v < s.low) {
      s.below += c;
    } else if (v > s.high) {
      s.above += c;
    } else {
      s.counts[static_cast<std::size_t>(bin_of(v))] += c;
      mass[static_cast<std::size_t>(bin_of(v))] += law.probability(order[k]);
    }
  }
  // Samples off the law's finite values (NaN, infinities) are outside the histogram too.
  std::int64_t on_finite = 0;
  for (const std::uint16_t g : order) on_finite += count_of[g];
  s.above += histogram.n - on_finite;
  const double width = (s.high - s.low) / bins;
  for (int b = 0; b < bins; ++b) {
    const double height = mass[static_cast<std::size_t>(b)] / width;
    for (const double x : {s.low + width * b, s.low + width * (b + 1)}) {
      s.density_x.push_back(x);
      s.density.push_back(height);
    }
  }
  // The step CDF at atoms: the first atom at or past each probability level, once each.
  std::int64_t at_or_below = 0;
  std::size_t k = 0;
  for (const double level : probability_levels()) {
    while (k < order.size() && cdf[k] < level) at_or_below += count_of[order[k++]];
    if (k == order.size()) break;
    if (!s.quantiles.empty() && s.quantiles.back() == law.value(order[k])) continue;
    s.levels.push_back(cdf[k]);
    s.quantiles.push_back(law.value(order[k]));
    s.at_or_below.push_back(at_or_below + count_of[order[k]]);
  }
  // The atoms around the most probable one (the first of equals). Not the median: near zero a
  // float grid's atoms are dense and nearly massless.
  std::size_t mode = 0;
  for (std::size_t j = 1; j < order.size(); ++j)
    if (law.probability(order[j]) > law.probability(order[mode])) mode = j;
  std::vector<std::size_t> window{mode};
  for (std::size_t j = mode; j > 0 && window.size() < 21;)
    if (law.probability(order[--j]) > 0) window.insert(window.begin(), j);
  for (std::size_t j = mode + 1; j < order.size() && window.size() < 41; ++j)
    if (law.probability(order[j]) > 0) window.push_back(j);
  for (const std::size_t j : window) {
    s.atom_values.push_back(law.value(order[j]));
    s.atom_probabilities.push_back(law.probability(order[j]));
    s.atom_counts.push_back(count_of[order[j]]);
  }
  // Distinct values (bit patterns, -0 as +0): seen, and expected, sum of 1 - (1 - p)^n.
  for (const std::int64_t c : histogram.counts) s.distinct += c > 0 ? 1 : 0;
  exact_sum expected;
  for (const std::uint16_t g : order) {
    const double p = law.probability(g);
    if (p > 0) expected += -std::expm1(n * std::log1p(-p));
  }
  s.expected_distinct = expected.value();
  return s;
}

sample_summary summarize(const tensor_view& samples, const any_law& law, int threads, int bins) {
  if (threads < 1) throw std::invalid_argument("summarize: threads must be >= 1");
  return visit_dtype(samples.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return summarize_impl(samples.elements<T>(), law, threads, bins);
  });
}

void merge_into(sample_summary& total, const sample_summary& more) {
  if (total.counts.size() != more.counts.size() || total.low != more.low ||
      total.high != more.high || total.levels != more.levels ||
      total.expected.mean != more.expected.mean)
    throw std::invalid_argument("merge_into: summaries of different grids");
  for (std::size_t b = 0; b < total.counts.size(); ++b) total.counts[b] += more.counts[b];
  total.below += more.below;
  total.above += more.above;
  for (std::size_t k = 0; k < total.at_or_below.size(); ++k)
    total.at_or_below[k] += more.at_or_below[k];
  if (total.grid != more.grid || total.atom_values != more.atom_values)
    throw std::invalid_argument("merge_into: summaries of different grids");
  for (std::size_t k = 0; k < total.atom_counts.size(); ++k)
    total.atom_counts[k] += more.atom_counts[k];
  // Distinct values do not add up across samples; their per-sample counts and expectations do.
  total.distinct += more.distinct;
  total.expected_distinct += more.expected_distinct;
  total.sums.n += more.sums.n;
  total.sums.s1 += more.sums.s1;
  total.sums.s2 += more.sums.s2;
  total.sums.s3 += more.sums.s3;
  total.sums.s4 += more.sums.s4;
}

}  // namespace verinit::verify
