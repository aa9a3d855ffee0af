// exact_sum: exact whatever the order and grouping, rounded once to nearest, its byte form.
#include "verinit/verify/exact_sum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/multiprecision/cpp_int.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using verinit::verify::exact_sum;
using big = boost::multiprecision::cpp_int;

// The exact sum of doubles as an integer count of 2^-1074 (every double is one).
big exact_units(const std::vector<double>& terms) {
  big total = 0;
  for (const double x : terms) {
    int e = 0;
    const double m = std::frexp(std::abs(x), &e);  // |x| = m 2^e, m in [0.5, 1)
    big units = static_cast<std::uint64_t>(std::ldexp(m, 53));
    const int shift = e - 53 + 1074;  // negative only for subnormals, whose low bits are 0
    if (shift >= 0)
      units <<= shift;
    else
      units >>= -shift;
    total += x < 0 ? -units : units;
  }
  return total;
}

// |sum - value| <= half an ulp of value, in units of 2^-1074.
void expect_correctly_rounded(const std::vector<double>& terms, double value) {
  const big exact = exact_units(terms);
  if (value == 0) {
    EXPECT_EQ(exact, 0);
    return;
  }
  const big rounded = exact_units({value});
  int e = 0;
  std::frexp(value, &e);
  const big half_ulp = big(1) << std::max(0, e - 53 + 1074 - 1);
  big error = exact - rounded;
  if (error < 0) error = -error;
  EXPECT_LE(error, half_ulp) << value;
}

std::vector<double> random_terms(std::size_t n, int exponent_range, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-exponent_range, exponent_range);
  std::vector<double> terms(n);
  for (double& t : terms) t = std::ldexp(mantissa(engine), exponent(engine));
  return terms;
}

TEST(ExactSumTest, IsCorrectlyRoundedWhatEverTheOrder) {
  for (const int range : {0, 30, 300, 1000}) {
    auto terms = random_terms(5000, range, static_cast<std::uint64_t>(range) + 1);
    exact_sum forward;
    for (const double t : terms) forward.add(t);
    expect_correctly_rounded(terms, forward.value());
    std::shuffle(terms.begin(), terms.end(), std::mt19937_64(9));
    exact_sum shuffled;
    for (const double t : terms) shuffled.add(t);
    EXPECT_EQ(shuffled.value(), forward.value());  // bitwise
    EXPECT_TRUE(shuffled == forward);
  }
}

TEST(ExactSumTest, MergesInAnyGroupingToTheSameBits) {
  const auto terms = random_terms(3000, 60, 3);
  exact_sum whole, a, b, c;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    whole.add(terms[i]);
    (i < 1000 ? a : i < 2000 ? b : c).add(terms[i]);
  }
  exact_sum left = a, right = b;
  left += b;
  left += c;  // (a + b) + c
  right += c;
  exact_sum other = a;
  other += right;  // a + (b + c)
  EXPECT_TRUE(left == whole);
  EXPECT_TRUE(other == whole);
  EXPECT_EQ(left.value(), whole.value());
}

TEST(ExactSumTest, CancellationAndExtremes) {
  exact_sum s;
  s.add(1e300);
  s.add(1.0);
  s.add(-1e300);
  EXPECT_EQ(s.value(), 1.0);  // what floating-point addition loses
  exact_sum tiny;
  tiny.add(std::numeric_limits<double>::denorm_min());
  tiny.add(std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(tiny.value(), 2 * std::numeric_limits<double>::denorm_min());
  exact_sum huge;
  for (int i = 0; i < 4; ++i) huge.add(std::numeric_limits<double>::max());
  EXPECT_TRUE(std::isinf(huge.value()));  // 4 max overflows a double
  exact_sum negative;
  negative.add(-2.5);
  negative.add(0.25);
  EXPECT_EQ(negative.value(), -2.25);
  EXPECT_EQ(exact_sum().value(), 0.0);
  exact_sum flags;
  flags.add(INFINITY);
  EXPECT_EQ(flags.value(), INFINITY);
  flags.add(-INFINITY);
  EXPECT_TRUE(std::isnan(flags.value()));
  // Many terms of one sign: the limbs' carries are folded in along the way.
  exact_sum many;
  for (int i = 0; i < 3'000'000; ++i) many.add(0.1);
  expect_correctly_rounded(std::vector<double>(3'000'000, 0.1), many.value());
}

TEST(ExactSumTest, ByteFormRoundTripsAndRejectsOthers) {
  exact_sum s;
  for (const double t : random_terms(100, 200, 5)) s.add(t);
  std::vector<std::byte> bytes;
  s.append_bytes(bytes);
  ASSERT_EQ(bytes.size(), exact_sum::byte_size);
  EXPECT_TRUE(exact_sum::from_bytes(bytes) == s);
  EXPECT_THROW(exact_sum::from_bytes(std::span(bytes).subspan(1)), std::invalid_argument);
  auto flagged = bytes;
  flagged[0] = std::byte{9};
  EXPECT_THROW(exact_sum::from_bytes(flagged), std::invalid_argument);
  auto unnormalized = bytes;
  unnormalized[1 + 4] = std::byte{1};  // limb 0 >= 2^32
  EXPECT_THROW(exact_sum::from_bytes(unnormalized), std::invalid_argument);
}

}  // namespace
