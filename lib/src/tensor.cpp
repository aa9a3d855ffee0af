// Tensor views: the checks of their bytes against their dtype and shape.
#include "verinit/tensor.hpp"

#include <cstdint>
#include <string>

#include "verinit/detail/check.hpp"

namespace verinit {

namespace detail {

void check_dtype(std::string_view function, dtype actual, dtype expected) {
  if (actual != expected)
    throw_invalid(function, "dtype", std::string(to_string(actual)),
                  std::string(to_string(expected)));
}

void check_tensor_bytes(std::string_view function, dtype type, std::span<const std::int64_t> shape,
                        std::size_t bytes, const void* data) {
  const std::int64_t count = element_count(shape);
  const std::size_t size = info(type).size;
  if (bytes % size != 0 || static_cast<std::int64_t>(bytes / size) != count)
    throw_invalid(function, "byte count", std::to_string(bytes),
                  std::to_string(count) + " elements of " + std::string(to_string(type)) +
                      " for shape " + to_string(shape));
  if (reinterpret_cast<std::uintptr_t>(data) % size != 0)
    throw_invalid(
        function, "data address", "misaligned",
        "aligned to " + std::to_string(size) + " bytes for " + std::string(to_string(type)));
}

}  // namespace detail

tensor_view make_tensor_view(dtype type, tensor_shape shape, std::span<const std::byte> bytes) {
  detail::check_tensor_bytes("tensor_view", type, shape, bytes.size(), bytes.data());
  return {type, std::move(shape), bytes};
}

mutable_tensor_view make_mutable_tensor_view(dtype type, tensor_shape shape,
                                             std::span<std::byte> bytes) {
  detail::check_tensor_bytes("tensor_view", type, shape, bytes.size(), bytes.data());
  return {type, std::move(shape), bytes};
}

}  // namespace verinit
