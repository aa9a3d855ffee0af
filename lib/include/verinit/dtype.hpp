// Element types of weight tensors as values with traits: float16, bfloat16, float32, float64.
//
// The model is numpy's dtype/finfo and ml_dtypes' finfo(bfloat16): a dtype is a value that
// knows its size, names, file spellings, range and resolution, and code asks those traits
// instead of inferring a type from sizeof or carrying a `bool float32`. One dispatch
// (visit_dtype) turns a runtime dtype into a compile-time element type, in one place.
//
// Formats (IEEE 754-2019, table 3.5; bfloat16: Intel, "BFLOAT16 - Hardware Numerics
// Definition", 2018): binary16 has 5 exponent and 10 fraction bits, bfloat16 8 and 7 (the
// exponent range of binary32 with 8 significant bits). Both have subnormals, infinities and
// NaN. GCC 12 has no usable std::bfloat16_t, so the 16-bit types here are storage types of our
// own: a bit pattern, converted to and from double exactly and rounded to nearest even.
//
// Adding a dtype: an enumerator, its storage type (if new), a row in dtype.cpp's table, a line
// in element_traits and in visit_dtype below.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <type_traits>

namespace verinit {

enum class dtype { float16, bfloat16, float32, float64 };

namespace detail {
/// A binary floating-point format of 16 bits: ExponentBits + FractionBits + a sign bit.
template <int ExponentBits, int FractionBits>
struct binary16_format {
  static_assert(ExponentBits + FractionBits == 15);
  static constexpr int fraction_bits = FractionBits;
  static constexpr int bias = (1 << (ExponentBits - 1)) - 1;
  static constexpr int min_exponent = 1 - bias;  ///< of the smallest normal, 2^min_exponent
  static constexpr std::uint16_t infinity_bits = ((1u << ExponentBits) - 1) << FractionBits;
  static constexpr std::uint16_t quiet_nan_bits = infinity_bits | (1u << (FractionBits - 1));

  /// 2^e, exactly (constexpr: std::ldexp is not).
  static constexpr double power_of_two(int e) noexcept {
    double p = 1;
    for (; e > 0; --e) p *= 2;
    for (; e < 0; ++e) p /= 2;
    return p;
  }
  /// The quantum of the subnormals (and of the smallest binade of normals), 2^(min - F).
  static constexpr double subnormal_quantum = power_of_two(min_exponent - fraction_bits);

  /// x rounded to nearest, ties to even; overflow to infinity; subnormals kept. On the bits of
  /// the double and without branches, so that the fill's 16-bit kernels can round every sample
  /// in vector registers: a normal result rounds the 52-bit fraction to F bits by adding half a
  /// quantum less one plus the kept lowest bit (ties to even) and shifting, the carry moving
  /// into the exponent as it should; a subnormal result is the integer multiple of the quantum
  /// nearest to |x| (rounded by the default mode, to nearest even).
  static std::uint16_t round(double x) noexcept {
    constexpr int shift = 52 - fraction_bits;
    constexpr std::uint64_t exponent_one = 1023;
    constexpr std::uint64_t smallest_normal_bits =
        static_cast<std::uint64_t>(static_cast<int>(exponent_one) + min_exponent) << 52;
    constexpr std::uint64_t double_infinity_bits = std::uint64_t{0x7ff} << 52;
    const std::uint64_t b = std::bit_cast<std::uint64_t>(x);
    const auto sign = static_cast<std::uint16_t>((b >> 48) & 0x8000);
    const std::uint64_t magnitude = b & ~(std::uint64_t{1} << 63);
    const std::uint64_t rounded =
        (magnitude + ((std::uint64_t{1} << (shift - 1)) - 1) + ((magnitude >> shift) & 1)) >> shift;
    // Re-bias the exponent: (e + 1023) 2^F + f becomes (e + bias) 2^F + f (wraps, unused, for
    // a subnormal result).
    const std::uint64_t encoded =
        rounded - ((exponent_one - static_cast<std::uint64_t>(bias)) << fraction_bits);
    const std::uint64_t normal = encoded >= infinity_bits ? infinity_bits : encoded;
    // |x| / quantum is exact (a power-of-two scaling) and, for a subnormal result, at most 2^F:
    // the smallest normal's encoding, so the carry needs no special case. Adding and removing
    // 2^52 rounds it to an integer in the default mode, to nearest even (nearbyint without a
    // libm call). Capped so that the conversion is defined when this branch is not used.
    constexpr double integer_magic = power_of_two(52);
    constexpr double inverse_quantum = power_of_two(fraction_bits - min_exponent);
    // std::min(cap, x) is cap for a NaN x: the conversion below stays defined.
    const double scaled = std::min(static_cast<double>(1u << fraction_bits),
                                   std::bit_cast<double>(magnitude) * inverse_quantum);
    const double multiple = (scaled + integer_magic) - integer_magic;
    const auto subnormal = static_cast<std::uint64_t>(static_cast<std::int32_t>(multiple));
    const std::uint64_t finite = magnitude >= smallest_normal_bits ? normal : subnormal;
    return sign |
           static_cast<std::uint16_t>(magnitude > double_infinity_bits ? quiet_nan_bits : finite);
  }

  /// The exact value of a bit pattern: the fields moved into a double's.
  static double value(std::uint16_t bits) noexcept {
    const std::uint64_t sign = std::uint64_t{bits & 0x8000u} << 48;
    const unsigned exponent = (bits & 0x7fffu) >> fraction_bits;
    const std::uint64_t fraction = bits & ((1u << fraction_bits) - 1);
    if ((bits & 0x7fffu) >= infinity_bits)
      return std::bit_cast<double>(sign | std::uint64_t{0x7ff} << 52 |
                                   fraction << (52 - fraction_bits));
    if (exponent == 0)
      return std::bit_cast<double>(
          sign | std::bit_cast<std::uint64_t>(static_cast<double>(fraction) * subnormal_quantum));
    return std::bit_cast<double>(sign | static_cast<std::uint64_t>(exponent - bias + 1023) << 52 |
                                 fraction << (52 - fraction_bits));
  }
};
using float16_format = binary16_format<5, 10>;
using bfloat16_format = binary16_format<8, 7>;

/// A 16-bit floating-point storage type: the bit pattern of Format.
template <class Format, class Tag>
struct binary16 {
  using format = Format;
  std::uint16_t bits = 0;

  /// The nearest value (ties to even) of x.
  static binary16 round_from(double x) noexcept { return from_bits(Format::round(x)); }
  static constexpr binary16 from_bits(std::uint16_t b) noexcept { return binary16{b}; }
  /// Exact.
  explicit operator double() const noexcept { return Format::value(bits); }
  explicit operator float() const noexcept { return static_cast<float>(Format::value(bits)); }
  /// Bitwise identity (so +0 and -0 differ, and NaN equals itself): these are storage types.
  friend constexpr bool operator==(binary16, binary16) = default;
};
struct float16_tag {};
struct bfloat16_tag {};
}  // namespace detail

/// IEEE 754 binary16.
using float16_t = detail::binary16<detail::float16_format, detail::float16_tag>;
/// bfloat16: binary32's exponent range with 8 significant bits.
using bfloat16_t = detail::binary16<detail::bfloat16_format, detail::bfloat16_tag>;
static_assert(sizeof(float16_t) == 2 && sizeof(bfloat16_t) == 2);

/// The traits of one dtype (numpy's finfo, with the file spellings).
struct dtype_info {
  dtype type;
  std::string_view name;              ///< "float16", "bfloat16", "float32", "float64"
  std::size_t size;                   ///< bytes per element
  std::string_view npy_descr;         ///< little-endian .npy descr ('<f2'...); empty: none
  std::string_view safetensors_name;  ///< "F16", "BF16", "F32", "F64"
  int digits;                         ///< significand bits, the implicit one included
  double max;                         ///< largest finite value
  double smallest_normal;
  double smallest_subnormal;
  double epsilon;  ///< 2^(1 - digits): the gap from 1 to the next value
};

/// The traits of `type`.
const dtype_info& info(dtype type) noexcept;
/// Every dtype, in enum order.
std::span<const dtype_info> dtypes() noexcept;
std::string_view to_string(dtype type) noexcept;
/// "float16", "bfloat16", "float32" or "float64". Throws std::invalid_argument naming the text
/// and the accepted names.
dtype parse_dtype(std::string_view text);

/// The element type of each dtype, and back.
template <class T>
struct element_traits;
template <>
struct element_traits<float16_t> {
  static constexpr dtype type = dtype::float16;
};
template <>
struct element_traits<bfloat16_t> {
  static constexpr dtype type = dtype::bfloat16;
};
template <>
struct element_traits<float> {
  static constexpr dtype type = dtype::float32;
};
template <>
struct element_traits<double> {
  static constexpr dtype type = dtype::float64;
};
template <class T>
inline constexpr dtype dtype_of = element_traits<std::remove_cv_t<T>>::type;
template <class T>
concept element_type = requires {
  element_traits<std::remove_cv_t<T>>::type;
};

/// Calls f(std::type_identity<T>{}) with T the element type of `type`: the one place a runtime
/// dtype becomes a template argument.
template <class F>
decltype(auto) visit_dtype(dtype type, F&& f) {
  switch (type) {
    case dtype::float16:
      return f(std::type_identity<float16_t>{});
    case dtype::bfloat16:
      return f(std::type_identity<bfloat16_t>{});
    case dtype::float32:
      return f(std::type_identity<float>{});
    case dtype::float64:
      break;
  }
  return f(std::type_identity<double>{});
}

/// The exact value of an element, as a double.
template <element_type T>
constexpr double to_double(T x) noexcept {
  return static_cast<double>(x);
}
/// x rounded to T, to nearest with ties to even (overflow to infinity, subnormals kept).
template <element_type T>
T round_to(double x) noexcept {
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(x);
  else
    return T::round_from(x);
}
/// The element's bit pattern.
template <element_type T>
constexpr std::uint64_t bits_of(T x) noexcept {
  if constexpr (std::is_same_v<T, float>)
    return std::bit_cast<std::uint32_t>(x);
  else if constexpr (std::is_same_v<T, double>)
    return std::bit_cast<std::uint64_t>(x);
  else
    return x.bits;
}

/// The next value of T after x toward +infinity (next_up) or -infinity (next_down), as
/// std::nextafter; NaN stays NaN, and the infinities at their own end stay.
template <element_type T>
T next_up(T x) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    return std::nextafter(x, std::numeric_limits<T>::infinity());
  } else {
    const double v = to_double(x);
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) return x;
    if (v == 0) return T::from_bits(1);
    return T::from_bits(static_cast<std::uint16_t>(v > 0 ? x.bits + 1 : x.bits - 1));
  }
}
template <element_type T>
T next_down(T x) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    return std::nextafter(x, -std::numeric_limits<T>::infinity());
  } else {
    const double v = to_double(x);
    if (std::isnan(v) || v == -std::numeric_limits<double>::infinity()) return x;
    if (v == 0) return T::from_bits(0x8001);
    return T::from_bits(static_cast<std::uint16_t>(v > 0 ? x.bits - 1 : x.bits + 1));
  }
}

/// The largest value of T that is <= x, and the smallest that is >= x (x finite or infinite).
template <element_type T>
T round_down(double x) noexcept {
  const T t = round_to<T>(x);
  return to_double(t) > x ? next_down(t) : t;
}
template <element_type T>
T round_up(double x) noexcept {
  const T t = round_to<T>(x);
  return to_double(t) < x ? next_up(t) : t;
}

}  // namespace verinit
