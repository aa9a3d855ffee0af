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

  /// x rounded to nearest, ties to even; overflow to infinity; subnormals kept.
  static std::uint16_t round(double x) noexcept {
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    if (std::isnan(x)) return sign | quiet_nan_bits;
    const double magnitude = std::fabs(x);
    if (magnitude == 0) return sign;
    if (std::isinf(magnitude)) return sign | infinity_bits;
    // magnitude in [2^e, 2^(e+1)); below the normal range the quantum stays 2^(min - F).
    const int e = std::max(std::ilogb(magnitude), min_exponent);
    if (e > bias) return sign | infinity_bits;  // >= 2^(bias+1): past the largest finite
    // m = magnitude / quantum, exact (a power-of-two scaling), rounded to an integer by the
    // default rounding mode, to nearest even. The encoding is then (e - min) 2^F + m for
    // normals and subnormals alike, and m = 2^(F+1) carries into the next binade.
    const double m = std::nearbyint(std::ldexp(magnitude, fraction_bits - e));
    const std::uint32_t encoded = (static_cast<std::uint32_t>(e - min_exponent) << fraction_bits) +
                                  static_cast<std::uint32_t>(m);
    return sign | static_cast<std::uint16_t>(encoded >= infinity_bits ? infinity_bits : encoded);
  }

  /// The exact value of a bit pattern.
  static double value(std::uint16_t bits) noexcept {
    const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
    const unsigned exponent = (bits & 0x7fffu) >> fraction_bits;
    const unsigned fraction = bits & ((1u << fraction_bits) - 1);
    if ((bits & 0x7fffu) >= infinity_bits)
      return fraction != 0 ? std::numeric_limits<double>::quiet_NaN()
                           : sign * std::numeric_limits<double>::infinity();
    if (exponent == 0) return sign * std::ldexp(fraction, min_exponent - fraction_bits);
    return sign * std::ldexp(fraction + (1u << fraction_bits),
                             static_cast<int>(exponent) - bias - fraction_bits);
  }
};
using float16_format = binary16_format<5, 10>;
using bfloat16_format = binary16_format<8, 7>;

/// A 16-bit floating-point storage type: the bit pattern of Format.
template <class Format, class Tag>
struct binary16 {
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
