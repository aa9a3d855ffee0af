// Serial independence: lag-1 autocorrelation and repeated runs.
#include "verinit/verify/independence.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace verinit::verify {
namespace {

template <class T>
test_result autocorrelation_impl(std::span<const T> samples, double mu) {
  const auto n = static_cast<std::int64_t>(samples.size());
  double lagged = 0, squares = 0;
#pragma omp parallel for schedule(static) reduction(+ : lagged, squares)
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(samples[i]) - mu;
    squares += d * d;
    if (i + 1 < n) lagged += d * (static_cast<double>(samples[i + 1]) - mu);
  }
  test_result r;
  r.name = "autocorrelation";
  const double correlation = squares > 0 ? lagged / squares : 0;
  r.statistic = correlation * std::sqrt(static_cast<double>(n));
  r.p_value = std::isnan(r.statistic) ? 0 : std::erfc(std::abs(r.statistic) / std::sqrt(2.0));
  r.values = {{"lag1_correlation", correlation}};
  r.note = "z = r1 sqrt(n); Ljung-Box with one lag is z^2";
  return r;
}

// A 64-bit mix (the finaliser of MurmurHash3, public domain) of a word.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

template <class T>
std::uint64_t bits_of(T value) {
  if constexpr (sizeof(T) == 4)
    return std::bit_cast<std::uint32_t>(value);
  else
    return std::bit_cast<std::uint64_t>(value);
}

// Only windows whose hash ends in 4 zero bits are kept (distinguished points, as in
// van Oorschot & Wiener's collision search): whether a window is kept depends on its content
// alone, so a repeated window is kept at both places or at neither, and a reused stream of L
// windows leaves ~L/16 repeats while memory and time drop 16-fold. Repeats are then found by
// a counting sort on the top 16 bits of the remaining 60, and tiny sorts inside each bucket.
constexpr int distinguished_bits = 4;

template <class T>
test_result repeated_runs_impl(std::span<const T> samples) {
  constexpr std::int64_t window = 4;
  const auto windows = static_cast<std::int64_t>(samples.size()) - window + 1;
  test_result r;
  r.name = "repeated_runs";
  if (windows < 2) {
    r.note = "too few samples";
    return r;
  }
  constexpr std::uint64_t mask = (std::uint64_t{1} << distinguished_bits) - 1;
  std::vector<std::vector<std::uint64_t>> kept(static_cast<std::size_t>(omp_get_max_threads()));
#pragma omp parallel
  {
    auto& mine = kept[static_cast<std::size_t>(omp_get_thread_num())];
    mine.reserve(static_cast<std::size_t>(windows >> (distinguished_bits - 1)) /
                     static_cast<std::size_t>(omp_get_num_threads()) +
                 16);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < windows; ++i) {
      std::uint64_t h = 0x9e3779b97f4a7c15ULL;
      for (std::int64_t k = 0; k < window; ++k)
        h = mix(h ^ bits_of(samples[i + k]) ^ (static_cast<std::uint64_t>(k) << 60));
      if ((h & mask) == 0) mine.push_back(h >> distinguished_bits);
    }
  }
  // Counting sort by the top 16 of the 60 bits, then each bucket sorted (O(1) values).
  constexpr int top = 16;
  constexpr int shift = 64 - distinguished_bits - top;
  std::vector<std::int64_t> start((std::size_t{1} << top) + 1, 0);
  std::size_t total = 0;
  for (const auto& part : kept) {
    total += part.size();
    for (std::uint64_t h : part) ++start[(h >> shift) + 1];
  }
  for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::vector<std::uint64_t> grouped(total);
  {
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    for (const auto& part : kept)
      for (std::uint64_t h : part) grouped[static_cast<std::size_t>(next[h >> shift]++)] = h;
  }
  kept.clear();
  std::int64_t repeats = 0;
  const auto buckets = static_cast<std::int64_t>(std::size_t{1} << top);
#pragma omp parallel for schedule(static) reduction(+ : repeats)
  for (std::int64_t b = 0; b < buckets; ++b) {
    const auto first = grouped.begin() + start[b], last = grouped.begin() + start[b + 1];
    std::sort(first, last);
    for (auto i = first + (first != last); i < last; ++i) repeats += *i == *(i - 1);
  }
  const double w = static_cast<double>(total);
  const double expected = w * (w - 1) / 2 * 0x1p-60;
  r.statistic = static_cast<double>(repeats);
  r.p_value = repeats == 0 ? 1.0 : boost::math::gamma_p(static_cast<double>(repeats), expected);
  r.values = {{"windows", static_cast<double>(windows)},
              {"kept", w},
              {"null_mean_bound", expected}};
  r.note = "distinguished 4-sample windows (1 in 16) seen before; Poisson null, mean <= C(kept,2) "
           "2^-60";
  return r;
}

}  // namespace

test_result autocorrelation_test(std::span<const float> samples, double mu) {
  return autocorrelation_impl(samples, mu);
}
test_result autocorrelation_test(std::span<const double> samples, double mu) {
  return autocorrelation_impl(samples, mu);
}
test_result repeated_runs_test(std::span<const float> samples) {
  return repeated_runs_impl(samples);
}
test_result repeated_runs_test(std::span<const double> samples) {
  return repeated_runs_impl(samples);
}

}  // namespace verinit::verify
