// The binned fit of a stream of u = F(x) to U(0, 1) (internal to verify/src): counts of u in K
// equal-probability bins and the exact u of the two outer bins, merged exactly (integer counts,
// sorted tails: the same bits on any number of threads), and the proven bracket of D_n and A^2
// they give (streaming in the README). stream_state's bins (u of its samples under its law) and
// the pooled probability-integral transforms of a model's rule (pooled.cpp) are both this.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "verinit/philox.hpp"
#include "verinit/verify/stream_state.hpp"

namespace verinit::verify::detail {

struct binned_fit {
  std::vector<std::uint64_t> counts;        // K bins of u
  std::vector<double> low_tail, high_tail;  // exact u in the outer bins, sorted
  bool low_overflow = false, high_overflow = false;

  binned_fit() = default;
  /// K = bins (0: none; the caller checks K).
  explicit binned_fit(std::int64_t bins) : counts(static_cast<std::size_t>(bins), 0) {}

  /// Adds n values' u on `threads` threads: make(first, count, u) writes the u of values
  /// [first, first + count) to u[0, count), count <= block. A NaN u is not binned (the caller
  /// counts NaNs: the bins hold the ranked values).
  template <class Make>
  void add(std::int64_t n, int threads, const Make& make);

  /// `count` values of a discrete law's randomised PIT: each u uniform on [below, below + mass)
  /// (a point when mass is 0).
  struct atom {
    double below, mass;
    std::uint64_t count;
  };
  /// Adds the randomised PITs of `atoms` without drawing each value: the counts an atom puts in
  /// the bins it spans are multinomial, drawn as successive binomials (Boost.Random's, from
  /// `engine`); only the values that land in the two outer bins are drawn one by one (53-bit
  /// uniforms), since their exact u are kept — unless that bin holds more than tail_capacity
  /// values, when it overflows without a draw. Its cost is the bins the atoms span, not their
  /// counts; it runs on one thread, so the result depends on `engine` alone.
  void add_atoms(std::span<const atom> atoms, philox4x32& engine);

  /// Adds the next values' fit.
  void merge(const binned_fit& other);
  /// Adds sorted outer-bin values (the tails stay sorted).
  void merge_tails(const std::vector<double>& low, const std::vector<double>& high);
  /// The bracket of D_n and A^2 over the binned (ranked) values; zeros when there are none.
  fit_bracket bracket() const;

  static constexpr std::int64_t block = 1024;

 private:
  void drop_overflowing_tails();
};

template <class Make>
void binned_fit::add(std::int64_t n, int threads, const Make& make) {
  const auto bins = static_cast<std::int64_t>(counts.size());
  const double k = static_cast<double>(bins);
  std::vector<std::vector<std::uint64_t>> local(static_cast<std::size_t>(threads));
  std::vector<std::vector<double>> low(local.size()), high(local.size());
  // A thread keeps at most tail_capacity + 1 outer-bin values: one that has more makes the whole
  // tail overflow (merge_tails drops it), so what is kept depends on the counts alone, and the
  // memory stays bounded however far the values are from the law.
  const bool keep_low = !low_overflow, keep_high = !high_overflow;
  const std::size_t most = stream_state::tail_capacity + 1;
#pragma omp parallel num_threads(threads)
  {
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    auto& mine = local[t];
    mine.assign(static_cast<std::size_t>(bins), 0);
    double u[block];
#pragma omp for schedule(static)
    for (std::int64_t first = 0; first < n; first += block) {
      const std::int64_t count = std::min(block, n - first);
      make(first, count, u);
      for (std::int64_t i = 0; i < count; ++i) {
        if (std::isnan(u[i])) continue;
        const double position = u[i] * k;
        const std::int64_t bin = position >= k ? bins - 1 : static_cast<std::int64_t>(position);
        ++mine[static_cast<std::size_t>(bin)];
        if (bin == 0 && keep_low && low[t].size() < most) low[t].push_back(u[i]);
        if (bin == bins - 1 && keep_high && high[t].size() < most) high[t].push_back(u[i]);
      }
    }
  }
  std::vector<double> lows, highs;
  for (std::size_t t = 0; t < local.size(); ++t) {
    if (local[t].empty()) continue;
    for (std::int64_t b = 0; b < bins; ++b)
      counts[static_cast<std::size_t>(b)] += local[t][static_cast<std::size_t>(b)];
    lows.insert(lows.end(), low[t].begin(), low[t].end());
    highs.insert(highs.end(), high[t].begin(), high[t].end());
  }
  std::sort(lows.begin(), lows.end());
  std::sort(highs.begin(), highs.end());
  merge_tails(lows, highs);
}

}  // namespace verinit::verify::detail
