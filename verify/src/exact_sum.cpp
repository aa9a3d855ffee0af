// The long accumulator (see the header).
#include "verinit/verify/exact_sum.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace verinit::verify {
namespace {

__extension__ typedef unsigned __int128 uint128;  // GCC and Clang's 128-bit integer

constexpr int min_exponent = -1074;  // of the least significant bit of the smallest subnormal
constexpr std::uint32_t normalize_every = 1u << 30;

}  // namespace

void exact_sum::add(double x) noexcept {
  if (!std::isfinite(x)) {
    if (std::isnan(x))
      nan_ = true;
    else if (x > 0)
      positive_infinity_ = true;
    else
      negative_infinity_ = true;
    return;
  }
  if (x == 0) return;
  // x = m 2^e with m a 53-bit integer, e >= -1074: the bits of m land at e - min_exponent.
  const auto bits = std::bit_cast<std::uint64_t>(x);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  std::uint64_t m = bits & ((std::uint64_t{1} << 52) - 1);
  int e;
  if (biased == 0) {
    e = min_exponent;  // subnormal
  } else {
    m |= std::uint64_t{1} << 52;
    e = biased - 1075;
  }
  const int position = e - min_exponent;
  const int limb = position / 32, shift = position % 32;
  // m << shift spans at most 85 bits: three 32-bit digits.
  const uint128 wide = static_cast<uint128>(m) << shift;
  const auto d0 = static_cast<std::int64_t>(static_cast<std::uint32_t>(wide));
  const auto d1 = static_cast<std::int64_t>(static_cast<std::uint32_t>(wide >> 32));
  const auto d2 = static_cast<std::int64_t>(static_cast<std::uint32_t>(wide >> 64));
  if (x > 0) {
    limbs_[limb] += d0;
    limbs_[limb + 1] += d1;
    limbs_[limb + 2] += d2;
  } else {
    limbs_[limb] -= d0;
    limbs_[limb + 1] -= d1;
    limbs_[limb + 2] -= d2;
  }
  if (++pending_ >= normalize_every) normalize();
}

void exact_sum::normalize() noexcept {
  for (std::size_t k = 0; k + 1 < limb_count; ++k) {
    const std::int64_t carry = limbs_[k] >> 32;  // arithmetic: floor division by 2^32
    limbs_[k] -= carry * (std::int64_t{1} << 32);
    limbs_[k + 1] += carry;
  }
  pending_ = 0;
}

exact_sum& exact_sum::operator+=(const exact_sum& other) noexcept {
  if (pending_ + other.pending_ + 1 >= normalize_every) normalize();
  exact_sum copy = other;
  copy.normalize();
  for (std::size_t k = 0; k < limb_count; ++k) limbs_[k] += copy.limbs_[k];
  ++pending_;
  positive_infinity_ = positive_infinity_ || other.positive_infinity_;
  negative_infinity_ = negative_infinity_ || other.negative_infinity_;
  nan_ = nan_ || other.nan_;
  return *this;
}

double exact_sum::value() const noexcept {
  if (nan_ || (positive_infinity_ && negative_infinity_))
    return std::numeric_limits<double>::quiet_NaN();
  if (positive_infinity_) return std::numeric_limits<double>::infinity();
  if (negative_infinity_) return -std::numeric_limits<double>::infinity();
  exact_sum n = *this;
  n.normalize();
  const bool negative = n.limbs_[limb_count - 1] < 0;
  if (negative) {  // the magnitude: two's complement over the digits
    std::int64_t borrow = 0;
    for (std::size_t k = 0; k < limb_count; ++k) {
      std::int64_t v = -n.limbs_[k] - borrow;
      borrow = 0;
      if (k + 1 < limb_count && v < 0) {
        v += std::int64_t{1} << 32;
        borrow = 1;
      }
      n.limbs_[k] = v;
    }
  }
  int top = static_cast<int>(limb_count) - 1;
  while (top >= 0 && n.limbs_[top] == 0) --top;
  if (top < 0) return 0.0;
  // The 64 bits from the leading digit down, every lower bit folded into the last one (a
  // sticky bit), so that converting 64 bits to a double rounds as the whole number would.
  const auto digit = [&](int k) { return k >= 0 ? static_cast<std::uint64_t>(n.limbs_[k]) : 0; };
  uint128 head = (static_cast<uint128>(digit(top)) << 64) |
                 (static_cast<uint128>(digit(top - 1)) << 32) | digit(top - 2);
  bool sticky = false;
  for (int k = top - 3; k >= 0; --k) sticky = sticky || n.limbs_[k] != 0;
  const int leading = 128 - (static_cast<std::uint64_t>(head >> 64) != 0
                                 ? std::countl_zero(static_cast<std::uint64_t>(head >> 64))
                                 : 64 + std::countl_zero(static_cast<std::uint64_t>(head)));
  const int drop = leading > 64 ? leading - 64 : 0;
  std::uint64_t bits64 = static_cast<std::uint64_t>(head >> drop);
  if (drop > 0 && (head & ((static_cast<uint128>(1) << drop) - 1)) != 0) sticky = true;
  if (sticky) bits64 |= 1;
  const int exponent = 32 * (top - 2) + min_exponent + drop;
  const double magnitude = std::ldexp(static_cast<double>(bits64), exponent);
  return negative ? -magnitude : magnitude;
}

bool operator==(const exact_sum& a, const exact_sum& b) noexcept {
  exact_sum x = a, y = b;
  x.normalize();
  y.normalize();
  return x.limbs_ == y.limbs_ && x.nan_ == y.nan_ && x.positive_infinity_ == y.positive_infinity_ &&
         x.negative_infinity_ == y.negative_infinity_;
}

void exact_sum::append_bytes(std::vector<std::byte>& out) const {
  exact_sum n = *this;
  n.normalize();
  out.push_back(static_cast<std::byte>((n.nan_ ? 1 : 0) | (n.positive_infinity_ ? 2 : 0) |
                                       (n.negative_infinity_ ? 4 : 0)));
  for (const std::int64_t limb : n.limbs_) {
    const auto u = static_cast<std::uint64_t>(limb);
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<std::byte>(u >> (8 * b)));
  }
}

exact_sum exact_sum::from_bytes(std::span<const std::byte> bytes) {
  if (bytes.size() != byte_size)
    throw std::invalid_argument("exact_sum: byte form has " + std::to_string(bytes.size()) +
                                " bytes, but must have " + std::to_string(byte_size));
  exact_sum s;
  const auto flags = static_cast<unsigned>(bytes[0]);
  if (flags > 7) throw std::invalid_argument("exact_sum: byte form has unknown flags");
  s.nan_ = (flags & 1) != 0;
  s.positive_infinity_ = (flags & 2) != 0;
  s.negative_infinity_ = (flags & 4) != 0;
  for (std::size_t k = 0; k < limb_count; ++k) {
    std::uint64_t u = 0;
    for (int b = 0; b < 8; ++b) u |= static_cast<std::uint64_t>(bytes[1 + 8 * k + b]) << (8 * b);
    s.limbs_[k] = static_cast<std::int64_t>(u);
    // A normalized form: every digit but the last in [0, 2^32).
    if (k + 1 < limb_count && (s.limbs_[k] < 0 || s.limbs_[k] >= (std::int64_t{1} << 32)))
      throw std::invalid_argument("exact_sum: byte form is not normalized");
  }
  if (s.limbs_[limb_count - 1] >= (std::int64_t{1} << 32) ||
      s.limbs_[limb_count - 1] < -(std::int64_t{1} << 32))
    throw std::invalid_argument("exact_sum: byte form is out of range");
  return s;
}

}  // namespace verinit::verify
