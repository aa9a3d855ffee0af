// The binned fit of u = F(x) (binned_fit.hpp).
#include "binned_fit.hpp"

#include <boost/random/binomial_distribution.hpp>
#include <numeric>
#include <utility>

#include "anderson_darling_pieces.hpp"

namespace verinit::verify::detail {

void binned_fit::drop_overflowing_tails() {
  for (auto [tail, overflow] :
       {std::pair{&low_tail, &low_overflow}, std::pair{&high_tail, &high_overflow}}) {
    if (*overflow || tail->size() > stream_state::tail_capacity) {
      *overflow = true;
      std::vector<double>().swap(*tail);
    }
  }
}

void binned_fit::merge_tails(const std::vector<double>& low, const std::vector<double>& high) {
  for (auto [mine, theirs] : {std::pair{&low_tail, &low}, std::pair{&high_tail, &high}}) {
    const auto middle = static_cast<std::ptrdiff_t>(mine->size());
    mine->insert(mine->end(), theirs->begin(), theirs->end());
    std::inplace_merge(mine->begin(), mine->begin() + middle, mine->end());
  }
  drop_overflowing_tails();
}

void binned_fit::add_atoms(std::span<const atom> atoms, philox4x32& engine) {
  const auto bins = static_cast<std::int64_t>(counts.size());
  const double k = static_cast<double>(bins);
  const auto bin_of = [&](double u) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(u * k), 0, bins - 1);
  };
  // The outer bins' values to draw once their counts are known: (from, to, how many).
  struct pending {
    double from, to;
    std::uint64_t count;
  };
  std::vector<pending> low_draws, high_draws;
  for (const atom& a : atoms) {
    if (a.count == 0 || !std::isfinite(a.below)) continue;
    const double low = std::clamp(a.below, 0.0, 1.0);
    const double high = std::clamp(a.below + std::max(0.0, a.mass), low, 1.0);
    const std::int64_t first = bin_of(low), last = high > low ? bin_of(high) : first;
    std::uint64_t left = a.count;
    double share_left = 1;  // of the atom's interval, in bins not yet drawn
    for (std::int64_t b = first; b <= last && left > 0; ++b) {
      const double from = std::max(low, static_cast<double>(b) / k);
      const double to = std::min(high, static_cast<double>(b + 1) / k);
      std::uint64_t x = left;  // the last bin takes what is left
      if (b < last) {
        const double share = high > low ? (to - from) / (high - low) : 1;
        const double p = std::clamp(share / share_left, 0.0, 1.0);
        x = static_cast<std::uint64_t>(boost::random::binomial_distribution<std::int64_t, double>(
            static_cast<std::int64_t>(left), p)(engine));
        share_left -= share;
      }
      counts[static_cast<std::size_t>(b)] += x;
      left -= x;
      if (b == 0 && x > 0) low_draws.push_back({from, to, x});
      if (b == bins - 1 && x > 0) high_draws.push_back({from, to, x});
    }
  }
  // u on [from, to) from a 53-bit uniform on (0, 1).
  const auto draw = [&](const std::vector<pending>& draws, bool& overflow, std::uint64_t in_bin,
                        std::vector<double>& out) {
    if (overflow || in_bin > stream_state::tail_capacity) {
      overflow = true;
      return;
    }
    for (const pending& d : draws)
      for (std::uint64_t i = 0; i < d.count; ++i) {
        const std::uint64_t high_word = engine(), low_word = engine();
        const double v =
            (static_cast<double>((high_word << 21) ^ (low_word >> 11)) + 0.5) * 0x1p-53;
        out.push_back(d.from + (d.to - d.from) * v);
      }
  };
  std::vector<double> lows, highs;
  draw(low_draws, low_overflow, counts.front(), lows);
  draw(high_draws, high_overflow, counts.back(), highs);
  std::sort(lows.begin(), lows.end());
  std::sort(highs.begin(), highs.end());
  merge_tails(lows, highs);
}

void binned_fit::merge(const binned_fit& other) {
  for (std::size_t b = 0; b < counts.size(); ++b) counts[b] += other.counts[b];
  low_overflow = low_overflow || other.low_overflow;
  high_overflow = high_overflow || other.high_overflow;
  merge_tails(other.low_tail, other.high_tail);
}

fit_bracket binned_fit::bracket() const {
  const auto ranked =
      static_cast<std::int64_t>(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}));
  fit_bracket out;
  if (ranked == 0) return out;
  const auto bins = static_cast<std::int64_t>(counts.size());
  const double n = static_cast<double>(ranked), k = static_cast<double>(bins);
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
  const auto first_count = static_cast<std::int64_t>(counts.front());
  double a2_infinite = 0;  // an overflowed outer bin: A^2's upper end is unbounded
  if (low_overflow) {
    const double c1 = static_cast<double>(first_count) / n;
    d_exact = std::max({d_exact, c1, 1 / k});  // ECDF 0 -> c1 while F 0 -> 1/K
    a2_infinite = INFINITY;
  } else {
    const auto& lows = low_tail;
    exact_run(lows, 0);
    if (!lows.empty()) {
      a2_exact += ad_first_piece(lows.front());
      a2_exact += ad_piece(static_cast<double>(first_count) / n, lows.back(), 1 / k);
    } else {
      a2_exact += ad_piece(0, ad_lowest, 1 / k);  // F_n = 0 on [0, 1/K)
    }
  }
  // Last bin [1 - 1/K, 1]: F_n constant from 1 - 1/K to its first value, then exact.
  const auto last_first = ranked - static_cast<std::int64_t>(counts.back());
  if (high_overflow) {
    const double c0 = static_cast<double>(last_first) / n;
    d_exact = std::max({d_exact, 1 - c0, 1 / k});  // ECDF c0 -> 1 while F 1 - 1/K -> 1
    a2_infinite = INFINITY;
  } else {
    const auto& highs = high_tail;
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
  double d_low = low_overflow || high_overflow ? 0 : d_exact, d_high = d_exact;
  double a2_low = a2_exact, a2_high = a2_exact + a2_infinite;
  std::int64_t before = first_count;  // samples with u < j/K
  for (std::int64_t j = 1; j + 1 < bins; ++j) {
    const double a = static_cast<double>(j) / k, b = static_cast<double>(j + 1) / k;
    const double c0 = static_cast<double>(before) / n;
    before += static_cast<std::int64_t>(counts[static_cast<std::size_t>(j)]);
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

}  // namespace verinit::verify::detail
