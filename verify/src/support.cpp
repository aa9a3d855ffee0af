// Support and extreme-value checks.
#include "verinit/verify/support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "verinit/verify/single_pass.hpp"

namespace verinit::verify {
namespace {

// The largest T <= value and the smallest T >= value.
template <class T>
T round_down(double value) {
  if (std::isinf(value)) return static_cast<T>(value);
  T t = static_cast<T>(value);
  if (static_cast<double>(t) > value) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
  return t;
}
template <class T>
T round_up(double value) {
  if (std::isinf(value)) return static_cast<T>(value);
  T t = static_cast<T>(value);
  if (static_cast<double>(t) < value) t = std::nextafter(t, std::numeric_limits<T>::infinity());
  return t;
}

template <class T>
std::pair<T, T> rounded_bounds(const continuous_law& law) {
  const auto [low, high] = support_of(law);
  return {round_down<T>(low), round_up<T>(high)};
}

template <class T>
test_result support_impl(std::span<const T> samples, const continuous_law& law) {
  const single_pass_sums pass = single_pass(samples, law);
  return support_from_counts(pass.outside, pass.at_excluded, pass.non_finite, law, sizeof(T) == 4);
}

template <class T>
test_result extreme_impl(std::span<const T> samples, const continuous_law& law) {
  return extreme_from_largest(single_pass(samples, law).largest,
                              static_cast<std::int64_t>(samples.size()), law, sizeof(T) == 4);
}

template <class T>
test_result extreme_typed(double largest, std::int64_t n, const continuous_law& law) {
  const double centre = moments_of(law).mean;
  // P(|X - m| >= t) at the sample type's next value below t: a value x of type T stands for
  // the reals that round to it, so this is conservative for rounded continuous samples (and
  // keeps a sample on a closed bound, p = 0 in exact arithmetic, a legitimate outcome).
  const double magnitude = std::abs(centre) + largest;
  const double step_down =
      std::nextafter(static_cast<T>(magnitude), T{0}) - static_cast<T>(magnitude);
  const double t = std::max(0.0, largest + step_down);
  const double tail = std::min(1.0, law_cdf(law, centre - t) + law_sf(law, centre + t));
  test_result r;
  r.name = "extreme";
  r.statistic = largest;
  r.p_value = std::isinf(largest) || std::isnan(largest)
                  ? 0
                  : std::clamp(-std::expm1(static_cast<double>(n) * std::log1p(-tail)), 0.0, 1.0);
  r.values = {{"centre", centre}, {"tail_probability", tail}};
  r.note = "max |x - centre|, P(max >= t) = 1 - (1 - P(|X - centre| >= t))^n";
  return r;
}

}  // namespace

std::pair<double, double> rounded_support(const continuous_law& law, bool float32) {
  if (float32) {
    const auto [low, high] = rounded_bounds<float>(law);
    return {low, high};
  }
  return rounded_bounds<double>(law);
}

test_result support_from_counts(std::int64_t outside, std::int64_t at_excluded,
                                std::int64_t non_finite, const continuous_law& law, bool float32) {
  const auto [low, high] = rounded_support(law, float32);
  test_result r;
  r.name = "support";
  r.exact = true;
  r.statistic = static_cast<double>(outside + at_excluded + non_finite);
  r.passed = r.statistic == 0;
  r.p_value = r.passed ? 1 : 0;
  r.values = {{"outside", static_cast<double>(outside)},
              {"at_excluded_bound", static_cast<double>(at_excluded)},
              {"non_finite", static_cast<double>(non_finite)},
              {"low", low},
              {"high", high}};
  r.note = std::to_string(outside) + " outside, " + std::to_string(at_excluded) +
           " at the excluded bound, " + std::to_string(non_finite) + " non-finite";
  return r;
}

test_result extreme_from_largest(double largest, std::int64_t n, const continuous_law& law,
                                 bool float32) {
  return float32 ? extreme_typed<float>(largest, n, law) : extreme_typed<double>(largest, n, law);
}

test_result support_check(std::span<const float> samples, const continuous_law& law) {
  return support_impl(samples, law);
}
test_result support_check(std::span<const double> samples, const continuous_law& law) {
  return support_impl(samples, law);
}
test_result extreme_test(std::span<const float> samples, const continuous_law& law) {
  return extreme_impl(samples, law);
}
test_result extreme_test(std::span<const double> samples, const continuous_law& law) {
  return extreme_impl(samples, law);
}

}  // namespace verinit::verify
