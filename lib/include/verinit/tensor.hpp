// A tensor's elements seen without their type: a dtype, a shape and the bytes.
//
// What the library's fill, the file readers and the verifier pass between them when the
// element type is known only at run time (a file's dtype, a Python array's). A view never
// owns its bytes; the shape (a few integers) is held by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "verinit/dtype.hpp"
#include "verinit/shape.hpp"

namespace verinit {

namespace detail {
/// Throws std::invalid_argument unless `bytes` holds exactly element_count(shape) elements of
/// `type`, aligned for it; `function` names the caller in the message.
void check_tensor_bytes(std::string_view function, dtype type, std::span<const std::int64_t> shape,
                        std::size_t bytes, const void* data);
/// Throws std::invalid_argument naming `function` unless `actual` is `expected`.
void check_dtype(std::string_view function, dtype actual, dtype expected);
}  // namespace detail

/// Read-only elements of one dtype, in C order.
struct tensor_view {
  dtype type = dtype::float32;
  tensor_shape shape;
  std::span<const std::byte> bytes;

  /// The element count (bytes / element size).
  std::int64_t size() const noexcept {
    return static_cast<std::int64_t>(bytes.size() / info(type).size);
  }
  /// The elements as T. Throws std::invalid_argument if T is not the view's dtype.
  template <element_type T>
  std::span<const T> elements() const {
    detail::check_dtype("tensor_view::elements", dtype_of<T>, type);
    return {reinterpret_cast<const T*>(bytes.data()), static_cast<std::size_t>(size())};
  }
};

/// Writable elements of one dtype, in C order.
struct mutable_tensor_view {
  dtype type = dtype::float32;
  tensor_shape shape;
  std::span<std::byte> bytes;

  std::int64_t size() const noexcept {
    return static_cast<std::int64_t>(bytes.size() / info(type).size);
  }
  template <element_type T>
  std::span<T> elements() const {
    detail::check_dtype("mutable_tensor_view::elements", dtype_of<T>, type);
    return {reinterpret_cast<T*>(bytes.data()), static_cast<std::size_t>(size())};
  }
  operator tensor_view() const { return {type, shape, bytes}; }  // NOLINT: a view of a view
};

/// Elements held in memory the object owns (C order, native byte order): what a file reader
/// returns and what a filter of samples produces.
struct tensor_buffer {
  dtype type = dtype::float32;
  tensor_shape shape;
  std::vector<std::byte> bytes;

  tensor_view view() const { return {type, shape, bytes}; }
};

/// Views raw bytes as a tensor. Throws std::invalid_argument unless they hold exactly
/// element_count(shape) elements of `type`, aligned for it.
tensor_view make_tensor_view(dtype type, tensor_shape shape, std::span<const std::byte> bytes);
mutable_tensor_view make_mutable_tensor_view(dtype type, tensor_shape shape,
                                             std::span<std::byte> bytes);

/// Views typed elements as a tensor of `shape`. Throws std::invalid_argument unless
/// data.size() == element_count(shape).
template <element_type T>
tensor_view view_of(std::span<const T> data, std::span<const std::int64_t> shape) {
  return make_tensor_view(dtype_of<T>, tensor_shape(shape.begin(), shape.end()),
                          std::as_bytes(data));
}
template <element_type T>
mutable_tensor_view mutable_view_of(std::span<T> data, std::span<const std::int64_t> shape) {
  return make_mutable_tensor_view(dtype_of<T>, tensor_shape(shape.begin(), shape.end()),
                                  std::as_writable_bytes(data));
}

}  // namespace verinit
