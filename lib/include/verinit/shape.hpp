// Tensor shapes, layouts and fans.
//
// fan_in and fan_out follow PyTorch's torch.nn.init._calculate_fan_in_and_fan_out for the
// `torch` layout ([out, in, *kernel]) and Keras's initializers._compute_fans for the `keras`
// layout ([*kernel, in, out]); in both the receptive field is the product of the kernel dims.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace verinit {

/// Dimensions of a weight tensor, outermost first (C order).
using tensor_shape = std::vector<std::int64_t>;

/// Which axes of a weight tensor are the output and input axes.
enum class layout {
  torch,  ///< [out, in, *kernel] (PyTorch nn.Linear / nn.ConvNd weights)
  keras,  ///< [*kernel, in, out] (Keras Dense / ConvND kernels)
};

/// Fans of a weight tensor.
struct fans {
  std::int64_t fan_in = 0;           ///< in  * receptive_field
  std::int64_t fan_out = 0;          ///< out * receptive_field
  std::int64_t receptive_field = 1;  ///< product of the kernel dims (1 for a dense layer)
};

/// "torch" or "keras". Throws std::invalid_argument for anything else.
layout parse_layout(std::string_view text);
std::string_view to_string(layout value) noexcept;

/// Parses "D1,D2,..." (decimal, each >= 1). Throws std::invalid_argument naming the bad dim.
tensor_shape parse_shape(std::string_view text);
/// "D1,D2,...", the inverse of parse_shape.
std::string to_string(std::span<const std::int64_t> shape);

/// Product of the dims. Throws std::invalid_argument if a dim is < 1 or the product
/// overflows int64.
std::int64_t element_count(std::span<const std::int64_t> shape);

/// fan_in / fan_out of `shape` under `layout`.
/// Throws std::invalid_argument if the shape has fewer than 2 dims or a dim < 1.
fans compute_fans(std::span<const std::int64_t> shape, layout layout);

}  // namespace verinit
