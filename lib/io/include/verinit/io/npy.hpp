// NumPy .npy files (format: numpy/lib/format.py, "NEP 1: A simple file format for NumPy
// arrays"): a magic string, a version, a little-endian header length, a Python dict literal
// with 'descr', 'fortran_order' and 'shape', padding, then the raw elements.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <vector>

#include "verinit/tensor.hpp"

namespace verinit::io {

/// Writes `tensor` as a version 1.0, little-endian, C-order .npy array of its shape ('<f2',
/// '<f4' or '<f8'), atomically (write_file_atomically). Throws std::invalid_argument for a
/// dtype numpy cannot spell (bfloat16) or a shape too long for a v1.0 header,
/// std::runtime_error naming the path if it cannot be written.
void write_npy(const std::filesystem::path& path, const tensor_view& tensor);

/// Reads a .npy file strictly: format versions 1.0, 2.0 and 3.0; float16, float32 or float64
/// in either byte order; C or Fortran order; at least one element. The header must describe
/// exactly the bytes that follow it (checked before anything is allocated, so a lying header
/// cannot cause a huge allocation). Throws std::runtime_error naming the file and the problem
/// (missing, empty, truncated, not .npy, bad header, integer or other dtype, zero-size).
///
/// `bits16`, a 16-bit dtype (bfloat16 or float16), reads 16-bit bit patterns as it: '<u2',
/// '<i2', '<V2' (what np.save writes for an ml_dtypes bfloat16 array), each in either byte
/// order, and '|V2' (raw, little-endian); a float file must then be of that dtype. Without it those
/// descrs are an error that says to name the dtype. std::invalid_argument for a `bits16` of 32 or
/// 64 bits.
verinit::tensor_buffer read_npy(const std::filesystem::path& path,
                                std::optional<verinit::dtype> bits16 = std::nullopt);

}  // namespace verinit::io
