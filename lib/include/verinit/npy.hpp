// NumPy .npy files (format described in numpy/lib/format.py, "NEP 1").
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace verinit {

/// Writes `data` as a version 1.0, little-endian, C-order .npy array of `shape` ('<f4' or
/// '<f8'). The file appears atomically: it is written beside `path` and renamed over it.
/// Throws std::invalid_argument if data.size() != element_count(shape), std::runtime_error
/// naming the path if it cannot be written.
void write_npy(const std::filesystem::path& path, std::span<const float> data,
               std::span<const std::int64_t> shape);
void write_npy(const std::filesystem::path& path, std::span<const double> data,
               std::span<const std::int64_t> shape);

/// An array read from a .npy file, converted to native byte order and C order.
struct npy_array {
  std::vector<std::int64_t> shape;
  bool is_float64 = false;  ///< '<f8'/'>f8' (else float32)
  std::vector<float> f32;   ///< the data when !is_float64
  std::vector<double> f64;  ///< the data when is_float64
  std::int64_t size() const {
    return is_float64 ? static_cast<std::int64_t>(f64.size())
                      : static_cast<std::int64_t>(f32.size());
  }
};

/// Reads a .npy file strictly: format versions 1.0, 2.0 and 3.0; dtype float32 or float64 in
/// either byte order; C or Fortran order; at least one element. The header must describe
/// exactly the bytes that follow it (checked before anything is allocated, so a lying header
/// cannot cause a huge allocation). Throws std::runtime_error naming the file and the problem
/// (missing, empty, truncated, not .npy, bad header, integer or other dtype, zero-size).
npy_array read_npy(const std::filesystem::path& path);

}  // namespace verinit
