// Serial independence: lag-1 autocorrelation and repeated runs.
#include "verinit/verify/independence.hpp"

#include <algorithm>
#include <bit>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <parallel/algorithm>
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
  std::vector<std::uint64_t> hashes(static_cast<std::size_t>(windows));
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < windows; ++i) {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (std::int64_t k = 0; k < window; ++k)
      h = mix(h ^ bits_of(samples[i + k]) ^ (static_cast<std::uint64_t>(k) << 60));
    hashes[i] = h;
  }
  __gnu_parallel::sort(hashes.begin(), hashes.end());
  std::int64_t repeats = 0;
  for (std::size_t i = 1; i < hashes.size(); ++i) repeats += hashes[i] == hashes[i - 1];
  const double w = static_cast<double>(windows);
  const double expected = w * (w - 1) / 2 * 0x1p-60;
  r.statistic = static_cast<double>(repeats);
  r.p_value = repeats == 0 ? 1.0 : boost::math::gamma_p(static_cast<double>(repeats), expected);
  r.values = {{"windows", w}, {"null_mean_bound", expected}};
  r.note = "windows of 4 consecutive samples seen before; Poisson null with mean <= C(n,2) 2^-60";
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
