// Summaries of samples for reports: histogram, ECDF at fixed levels, moments.
#include "verinit/verify/summary.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <stdexcept>

#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/distributions/affine.hpp"
#include "verinit/verify/exact_sum.hpp"
#include "verinit/verify/stream_state.hpp"

namespace verinit::verify {
namespace {

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
  // One pass: the histogram bin of x and the first level k with x <= x_k (branch-free binary
  // search over the quantiles padded with +inf to a power of two). Integer counts, so the
  // merge across threads is exact whatever its order.
  const std::size_t levels = s.quantiles.size();
  std::size_t padded = 1;
  while (padded < levels + 1) padded *= 2;
  std::vector<double> q(padded, INFINITY);
  std::copy(s.quantiles.begin(), s.quantiles.end(), q.begin());
  const double low = s.low, high = s.high;
  const double scale = bins / (high - low);
  const auto n = static_cast<std::int64_t>(x.size());
  // hist: [0, bins) bins, bins = below, bins + 1 = above. first: [0, levels] (levels: none).
  std::vector<std::int64_t> hist(static_cast<std::size_t>(bins) + 2, 0), first(levels + 1, 0);
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::int64_t> my_hist(hist.size(), 0), my_first(first.size(), 0);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = to_double(x[i]);
      if (std::isnan(v)) {
        ++my_hist[bins + 1];
        ++my_first[levels];
        continue;
      }
      if (v < low) {
        ++my_hist[bins];
      } else if (v > high) {
        ++my_hist[bins + 1];
      } else {
        ++my_hist[std::min(bins - 1, static_cast<int>((v - low) * scale))];
      }
      std::size_t pos = 0;  // invariant: q[pos - 1] < v (q[-1] = -inf)
      for (std::size_t half = padded / 2; half > 0; half /= 2)
        pos += (q[pos + half - 1] < v) ? half : 0;
      ++my_first[std::min(pos, levels)];
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
  total.sums.n += more.sums.n;
  total.sums.s1 += more.sums.s1;
  total.sums.s2 += more.sums.s2;
  total.sums.s3 += more.sums.s3;
  total.sums.s4 += more.sums.s4;
}

}  // namespace verinit::verify
