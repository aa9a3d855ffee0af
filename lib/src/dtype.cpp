// The dtype table.
#include "verinit/dtype.hpp"

#include <array>
#include <string>

#include "verinit/detail/check.hpp"

namespace verinit {
namespace {

template <class T>
constexpr double float_max() {
  return std::numeric_limits<T>::max();
}

// Values of the 16-bit formats from their definitions: max = (2 - 2^-F) 2^bias, smallest normal
// 2^(1 - bias), smallest subnormal 2^(1 - bias - F). Checked against numpy's finfo(float16)
// and ml_dtypes' finfo(bfloat16) in tests/lib/dtype_test.cpp.
template <class Format>
constexpr dtype_info binary16_info(dtype type, std::string_view name, std::string_view npy,
                                   std::string_view safetensors) {
  const int f = Format::fraction_bits;
  double max = 2 - 1.0 / static_cast<double>(1u << f);
  for (int i = 0; i < Format::bias; ++i) max *= 2;
  double smallest = 1;
  for (int i = 0; i < Format::bias - 1; ++i) smallest /= 2;
  double subnormal = smallest;
  for (int i = 0; i < f; ++i) subnormal /= 2;
  double epsilon = 1;
  for (int i = 0; i < f; ++i) epsilon /= 2;
  return {type, name, 2, npy, safetensors, f + 1, max, smallest, subnormal, epsilon};
}

constexpr std::array<dtype_info, 4> table{{
    binary16_info<detail::float16_format>(dtype::float16, "float16", "<f2", "F16"),
    // numpy has no bfloat16 (ml_dtypes writes it as an anonymous '<V2'): no .npy spelling.
    binary16_info<detail::bfloat16_format>(dtype::bfloat16, "bfloat16", "", "BF16"),
    {dtype::float32, "float32", 4, "<f4", "F32", std::numeric_limits<float>::digits,
     float_max<float>(), std::numeric_limits<float>::min(),
     std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::epsilon()},
    {dtype::float64, "float64", 8, "<f8", "F64", std::numeric_limits<double>::digits,
     float_max<double>(), std::numeric_limits<double>::min(),
     std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::epsilon()},
}};

}  // namespace

const dtype_info& info(dtype type) noexcept { return table[static_cast<std::size_t>(type)]; }

std::span<const dtype_info> dtypes() noexcept { return table; }

std::string_view to_string(dtype type) noexcept { return info(type).name; }

dtype parse_dtype(std::string_view text) {
  std::string names;
  for (const auto& entry : table) {
    if (entry.name == text) return entry.type;
    names.append(names.empty() ? "" : ", ").append(entry.name);
  }
  detail::throw_invalid("dtype", "dtype", "'" + std::string(text) + "'", "one of " + names);
}

}  // namespace verinit
