// Shapes, layouts and fans (PyTorch's _calculate_fan_in_and_fan_out, Keras's _compute_fans).
#include "verinit/shape.hpp"

#include <charconv>
#include <limits>
#include <stdexcept>
#include <string>

#include "verinit/detail/check.hpp"

namespace verinit {

layout parse_layout(std::string_view text) {
  if (text == "torch") return layout::torch;
  if (text == "keras") return layout::keras;
  detail::throw_invalid("layout", "layout", "'" + std::string(text) + "'", "'torch' or 'keras'");
}

std::string_view to_string(layout value) noexcept {
  return value == layout::torch ? "torch" : "keras";
}

tensor_shape parse_shape(std::string_view text) {
  tensor_shape shape;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string_view token = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::int64_t dim = 0;
    const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), dim);
    const std::string label = "dim " + std::to_string(shape.size());
    if (token.empty() || error != std::errc{} || end != token.data() + token.size())
      detail::throw_invalid("shape", label, "'" + std::string(token) + "'",
                            "an integer >= 1 (shape is written D1,D2,...)");
    if (dim < 1) detail::throw_invalid("shape", label, std::to_string(dim), ">= 1");
    shape.push_back(dim);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  element_count(shape);  // rejects a product that overflows
  return shape;
}

std::string to_string(std::span<const std::int64_t> shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(shape[i]);
  }
  return text;
}

std::int64_t element_count(std::span<const std::int64_t> shape) {
  std::int64_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 1)
      detail::throw_invalid("shape", "dim " + std::to_string(i), std::to_string(shape[i]), ">= 1");
    if (count > std::numeric_limits<std::int64_t>::max() / shape[i])
      detail::throw_invalid("shape", "element count", to_string(shape) + " (overflow)", "< 2^63");
    count *= shape[i];
  }
  return count;
}

fans compute_fans(std::span<const std::int64_t> shape, layout layout) {
  if (shape.size() < 2)
    detail::throw_invalid("compute_fans", "number of dims", std::to_string(shape.size()),
                          ">= 2 to define fan_in and fan_out (give the fans explicitly for a "
                          "bias or other 1-D tensor)");
  element_count(shape);
  const std::size_t rank = shape.size();
  std::int64_t receptive_field = 1;
  std::int64_t in = 0;
  std::int64_t out = 0;
  if (layout == layout::torch) {  // [out, in, *kernel]
    out = shape[0];
    in = shape[1];
    for (std::size_t i = 2; i < rank; ++i) receptive_field *= shape[i];
  } else {  // [*kernel, in, out]
    in = shape[rank - 2];
    out = shape[rank - 1];
    for (std::size_t i = 0; i + 2 < rank; ++i) receptive_field *= shape[i];
  }
  return fans{in * receptive_field, out * receptive_field, receptive_field};
}

}  // namespace verinit
