// See verinit/verify/single_pass.hpp.
#include "verinit/verify/single_pass.hpp"

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sums_about.hpp"
#include "vector_clones.hpp"
#include "verinit/verify/support.hpp"

namespace verinit::verify {
namespace {

// One thread's sums over its chunk.
struct partial {
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0, lagged = 0, largest = 0;
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0, nan = 0;
};

// The sums over x[0..count); `next` points to the sample after the chunk (for the chunk's
// last lagged product), or is nullptr at the end of the samples. Without branches
// (count_support is branch-free too), so that the loop runs in vector lanes.
template <class T>
[[gnu::always_inline]] inline partial chunk_body(const T* x, std::int64_t count, const T* next,
                                                 double centre, T low, T high, bool excluded) {
  partial p;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0, largest = 0;
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0, nan = 0;
#pragma omp simd reduction(+ : s1, s2, s3, s4, outside, at_excluded, non_finite, nan) \
    reduction(max : largest)
  for (std::int64_t i = 0; i < count; ++i) {
    const T value = x[i];
    const double d = static_cast<double>(value) - centre;
    const double d2 = d * d;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
    const double distance = std::abs(d);
    largest = largest < distance ? distance : largest;  // NaN compares false: counted below
    nan += static_cast<std::int64_t>(distance != distance);
    count_support(value, low, high, excluded, outside, at_excluded, non_finite);
  }
  double lagged = 0;
#pragma omp simd reduction(+ : lagged)
  for (std::int64_t i = 0; i < count - 1; ++i)
    lagged += (static_cast<double>(x[i]) - centre) * (static_cast<double>(x[i + 1]) - centre);
  if (next != nullptr && count > 0)
    lagged += (static_cast<double>(x[count - 1]) - centre) * (static_cast<double>(*next) - centre);
  p.s1 = s1;
  p.s2 = s2;
  p.s3 = s3;
  p.s4 = s4;
  p.lagged = lagged;
  p.largest = largest;
  p.outside = outside;
  p.at_excluded = at_excluded;
  p.non_finite = non_finite;
  p.nan = nan;
  return p;
}
VERINIT_VECTOR_CLONES partial chunk_sums(const float* x, std::int64_t count, const float* next,
                                         double centre, float low, float high, bool excluded) {
  return chunk_body(x, count, next, centre, low, high, excluded);
}
VERINIT_VECTOR_CLONES partial chunk_sums(const double* x, std::int64_t count, const double* next,
                                         double centre, double low, double high, bool excluded) {
  return chunk_body(x, count, next, centre, low, high, excluded);
}

template <class T>
single_pass_sums sums_about_impl(std::span<const T> x, double centre, T low, T high,
                                 bool excluded) {
  const auto n = static_cast<std::int64_t>(x.size());
  std::vector<partial> parts(static_cast<std::size_t>(omp_get_max_threads()));
  int team = 1;
#pragma omp parallel num_threads(static_cast <int>(parts.size()))
  {
    const int t = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    const std::int64_t begin = n * t / team, end = n * (t + 1) / team;
    parts[static_cast<std::size_t>(t)] =
        chunk_sums(x.data() + begin, end - begin, end < n ? x.data() + end : nullptr, centre, low,
                   high, excluded);
  }
  single_pass_sums result;
  result.sums.n = static_cast<double>(n);
  bool nan = false;
  for (int t = 0; t < team; ++t) {  // in thread order: the same bits on every call
    const partial& p = parts[static_cast<std::size_t>(t)];
    result.sums.s1 += p.s1;
    result.sums.s2 += p.s2;
    result.sums.s3 += p.s3;
    result.sums.s4 += p.s4;
    result.lagged += p.lagged;
    result.largest = std::max(result.largest, p.largest);
    result.outside += p.outside;
    result.at_excluded += p.at_excluded;
    result.non_finite += p.non_finite;
    nan = nan || p.nan > 0;
  }
  if (nan) result.largest = INFINITY;
  return result;
}

template <class T>
single_pass_sums single_pass_impl(std::span<const T> x, const continuous_law& law) {
  const auto [low, high] = rounded_support(law, sizeof(T) == 4);
  // Exact: the bounds are already values of T.
  return sums_about_impl(x, moments_of(law).mean, static_cast<T>(low), static_cast<T>(high),
                         upper_bound_excluded(law));
}

}  // namespace

namespace detail {
single_pass_sums sums_about(std::span<const float> x, double centre, float low, float high,
                            bool excluded) {
  return sums_about_impl(x, centre, low, high, excluded);
}
single_pass_sums sums_about(std::span<const double> x, double centre, double low, double high,
                            bool excluded) {
  return sums_about_impl(x, centre, low, high, excluded);
}
}  // namespace detail

single_pass_sums single_pass(std::span<const float> samples, const continuous_law& law) {
  return single_pass_impl(samples, law);
}
single_pass_sums single_pass(std::span<const double> samples, const continuous_law& law) {
  return single_pass_impl(samples, law);
}

}  // namespace verinit::verify
