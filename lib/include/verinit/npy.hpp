// NumPy .npy files (format described in numpy/lib/format.py, "NEP 1").
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

namespace verinit {

/// Writes `data` as a version 1.0, little-endian, C-order .npy array of `shape` ('<f4' or
/// '<f8'). The file appears atomically: it is written beside `path` and renamed over it.
/// Throws std::invalid_argument if data.size() != element_count(shape), std::runtime_error
/// naming the path if it cannot be written.
void write_npy(const std::filesystem::path& path, std::span<const float> data,
               std::span<const std::int64_t> shape);
void write_npy(const std::filesystem::path& path, std::span<const double> data,
               std::span<const std::int64_t> shape);

}  // namespace verinit
