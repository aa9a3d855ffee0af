// Streaming verification: binned counts, exact outer bins, brackets.
#include "verinit/verify/streaming.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "anderson_darling_pieces.hpp"
#include "verinit/verify/distributions/anderson_darling.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/single_pass.hpp"
#include "verinit/verify/support.hpp"

namespace verinit::verify {
namespace {

// Distinguished bits so that ~4M window hashes at most are kept (32 MB).
int window_bits(std::int64_t expected) {
  int bits = 4;
  while (bits < 24 && (expected >> bits) > (std::int64_t{1} << 22)) ++bits;
  return bits;
}

// \int_a^b (c - t)^2 / (t (1 - t)) dt and the outer pieces (anderson_darling_pieces.hpp).
using detail::ad_first_piece;
using detail::ad_highest;
using detail::ad_last_piece;
using detail::ad_lowest;
using detail::ad_piece;

}  // namespace

stream_accumulator::stream_accumulator(const continuous_law& law, std::int64_t expected_samples,
                                       std::int64_t bins)
    : law_(law), moments_(moments_of(law)), bins_(bins), runs_(window_bits(expected_samples)) {
  if (bins < 16 || !std::has_single_bit(static_cast<std::uint64_t>(bins)))
    throw std::invalid_argument("stream_accumulator: bins must be a power of two >= 16, not " +
                                std::to_string(bins));
  counts_.assign(static_cast<std::size_t>(bins), 0);
}

void stream_accumulator::add(std::span<const float> samples) { add_impl(samples); }
void stream_accumulator::add(std::span<const double> samples) { add_impl(samples); }

template <class T>
void stream_accumulator::add_impl(std::span<const T> x) {
  const auto n = static_cast<std::int64_t>(x.size());
  if (n == 0) return;
  // Support, moments, extreme and lag-1 sums as the in-memory runner takes them.
  const single_pass_sums pass = single_pass(x, law_);
  // Then the bins and the exact outer-bin probabilities.
  const double k = static_cast<double>(bins_);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<std::uint64_t>> local(static_cast<std::size_t>(threads));
  std::vector<std::vector<double>> low_tail(local.size()), high_tail(local.size());
  std::int64_t nan = 0;
  std::visit(
      [&](const auto& law) {
#pragma omp parallel num_threads(threads) reduction(+ : nan)
        {
          const auto t = static_cast<std::size_t>(omp_get_thread_num());
          auto& counts = local[t];
          counts.assign(static_cast<std::size_t>(bins_), 0);
          // u in blocks, so the normal's erfc runs on vectors (law.hpp's cdf_batch).
          constexpr std::int64_t block = 1024;
          double u_block[block];
#pragma omp for schedule(static)
          for (std::int64_t first = 0; first < n; first += block) {
            const std::int64_t end = std::min(n, first + block);
            cdf_batch(law, x.data() + first, u_block, static_cast<std::size_t>(end - first));
            for (std::int64_t i = first; i < end; ++i) {
              if (std::isnan(x[i])) {
                ++nan;
                continue;
              }
              const double u = u_block[i - first];
              const double position = u * k;
              const std::int64_t bin =
                  position >= k ? bins_ - 1 : static_cast<std::int64_t>(position);
              ++counts[static_cast<std::size_t>(bin)];
              if (bin == 0) low_tail[t].push_back(u);
              if (bin == bins_ - 1) high_tail[t].push_back(u);
            }
          }
        }
      },
      law_);
  for (std::size_t t = 0; t < local.size(); ++t) {
    if (local[t].empty()) continue;
    for (std::int64_t b = 0; b < bins_; ++b) counts_[b] += local[t][b];
    low_tail_.insert(low_tail_.end(), low_tail[t].begin(), low_tail[t].end());
    high_tail_.insert(high_tail_.end(), high_tail[t].begin(), high_tail[t].end());
  }
  for (auto [tail, overflow] :
       {std::pair{&low_tail_, &low_overflow_}, std::pair{&high_tail_, &high_overflow_}}) {
    if (*overflow || tail->size() > tail_capacity) {
      *overflow = true;
      std::vector<double>().swap(*tail);
    }
  }
  // The lag-1 pair across the previous piece's end.
  const double mu = moments_.mean;
  if (has_previous_) lagged_ += (previous_ - mu) * (static_cast<double>(x[0]) - mu);
  previous_ = static_cast<double>(x[n - 1]);
  has_previous_ = true;
  lagged_ += pass.lagged;
  sums_.n += pass.sums.n;
  sums_.s1 += pass.sums.s1;
  sums_.s2 += pass.sums.s2;
  sums_.s3 += pass.sums.s3;
  sums_.s4 += pass.sums.s4;
  largest_ = std::max(largest_, pass.largest);
  n_ += n;
  nan_ += nan;
  float32_ = sizeof(T) == 4;
  outside_ += pass.outside;
  at_excluded_ += pass.at_excluded;
  non_finite_ += pass.non_finite;
  runs_.add(x);
}

stream_accumulator::bracket stream_accumulator::fit_bracket() const {
  const std::int64_t ranked = n_ - nan_;
  bracket out{0, 0, 0, 0};
  if (ranked == 0) return out;
  const double n = static_cast<double>(ranked), k = static_cast<double>(bins_);
  std::vector<double> lows = low_tail_, highs = high_tail_;
  std::sort(lows.begin(), lows.end());
  std::sort(highs.begin(), highs.end());
  // Exact terms of the values with ranks first.. in a sorted run of u.
  double d_exact = 0, a2_exact = 0;
  const auto exact_run = [&](const std::vector<double>& u, std::int64_t first) {
    for (std::size_t i = 0; i < u.size(); ++i) {
      const double r = static_cast<double>(first + static_cast<std::int64_t>(i));
      d_exact = std::max({d_exact, (r + 1) / n - u[i], u[i] - r / n});
      if (i > 0) a2_exact += ad_piece(r / n, u[i - 1], u[i]);
    }
  };
  // First bin [0, 1/K): exact from 0 to its last value, then F_n is constant to 1/K.
  const auto first_count = static_cast<std::int64_t>(counts_.front());
  double a2_infinite = 0;  // an overflowed outer bin: A^2's upper end is unbounded
  if (low_overflow_) {
    const double c1 = static_cast<double>(first_count) / n;
    d_exact = std::max({d_exact, c1, 1 / k});  // ECDF 0 -> c1 while F 0 -> 1/K
    a2_infinite = INFINITY;
  } else {
    exact_run(lows, 0);
    if (!lows.empty()) {
      a2_exact += ad_first_piece(lows.front());
      a2_exact += ad_piece(static_cast<double>(first_count) / n, lows.back(), 1 / k);
    } else {
      a2_exact += ad_piece(0, ad_lowest, 1 / k);  // F_n = 0 on [0, 1/K)
    }
  }
  // Last bin [1 - 1/K, 1]: F_n constant from 1 - 1/K to its first value, then exact.
  const auto last_first = ranked - static_cast<std::int64_t>(counts_.back());
  if (high_overflow_) {
    const double c0 = static_cast<double>(last_first) / n;
    d_exact = std::max({d_exact, 1 - c0, 1 / k});  // ECDF c0 -> 1 while F 1 - 1/K -> 1
    a2_infinite = INFINITY;
  } else {
    exact_run(highs, last_first);
    if (!highs.empty()) {
      a2_exact += ad_piece(static_cast<double>(last_first) / n, 1 - 1 / k, highs.front());
      a2_exact += ad_last_piece(highs.back());
    } else {
      a2_exact += ad_piece(1, 1 - 1 / k, ad_highest);
    }
  }
  // The ECDF at the bin edges is known exactly: D_low, and the pieces' brackets between.
  // (With an overflowed outer bin d_exact holds that bin's upper bound: D_low starts lower.)
  double d_low = low_overflow_ || high_overflow_ ? 0 : d_exact, d_high = d_exact;
  double a2_low = a2_exact, a2_high = a2_exact + a2_infinite;
  std::int64_t before = first_count;  // samples with u < j/K
  for (std::int64_t j = 1; j + 1 < bins_; ++j) {
    const double a = static_cast<double>(j) / k, b = static_cast<double>(j + 1) / k;
    const double c0 = static_cast<double>(before) / n;
    before += static_cast<std::int64_t>(counts_[static_cast<std::size_t>(j)]);
    const double c1 = static_cast<double>(before) / n;
    d_low = std::max(d_low, std::abs(c0 - a));
    d_high = std::max({d_high, c1 - a, b - c0});
    // Largest integrand: the farther of c0 and c1 from t; smallest: 0 inside [c0, c1].
    const double middle = std::clamp((c0 + c1) / 2, a, b);
    a2_high += ad_piece(c1, a, middle) + ad_piece(c0, middle, b);
    if (a < c0) a2_low += ad_piece(c0, a, std::min(b, c0));
    if (c1 < b) a2_low += ad_piece(c1, std::max(a, c1), b);
  }
  d_low = std::max(d_low, std::abs(static_cast<double>(before) / n - (1 - 1 / k)));
  d_low = std::max(d_low, std::abs(static_cast<double>(first_count) / n - 1 / k));
  out = {d_low, std::max(d_high, d_low), n * a2_low, n * a2_high};
  return out;
}

std::vector<test_result> stream_accumulator::finish() {
  std::vector<test_result> out;
  const bool float32 = float32_;
  out.push_back(support_from_counts(outside_, at_excluded_, non_finite_, law_, float32));
  const bracket b = fit_bracket();
  const std::int64_t total = std::max<std::int64_t>(1, n_);
  {
    test_result ks;
    ks.name = "ks";
    const kolmogorov_smirnov_distribution null(total);
    const double low = nan_ > 0 ? 1.0 : b.d_low, high = nan_ > 0 ? 1.0 : b.d_high;
    ks.statistic = low;
    ks.p_value = cdf(complement(null, low));
    ks.values = {{"d_low", low}, {"d_high", high}, {"p_at_d_high", cdf(complement(null, high))}};
    ks.note = "streaming, " + std::to_string(bins_) +
              " bins: D bracketed, p at the lower end (conservative)";
    out.push_back(ks);
  }
  {
    test_result ad;
    ad.name = "anderson_darling";
    const double low = nan_ > 0 ? INFINITY : b.a2_low, high = nan_ > 0 ? INFINITY : b.a2_high;
    ad.statistic = low;
    ad.p_value = cdf(complement(anderson_darling_distribution{}, low));
    ad.values = {{"a2_low", low},
                 {"a2_high", high},
                 {"p_at_a2_high", cdf(complement(anderson_darling_distribution{}, high))}};
    ad.note = "streaming: A^2 bracketed, p at the lower end (conservative)";
    out.push_back(ad);
  }
  out.push_back(mean_test(sums_, moments_));
  out.push_back(variance_test(sums_, moments_));
  if (std::isinf(support_of(law_).second))
    out.push_back(extreme_from_largest(largest_, n_, law_, float32));
  out.push_back(autocorrelation_from_sums(lagged_, sums_.s2, n_));
  out.push_back(runs_.finish());
  return out;
}

}  // namespace verinit::verify
