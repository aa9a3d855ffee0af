// safetensors files (format: https://github.com/huggingface/safetensors, README.md, "Format"):
// an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON (an object mapping
// each tensor's name to {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional
// "__metadata__" object of strings, padded at the end with spaces), then the byte buffer the
// offsets index (relative to its start, end exclusive), C order, little-endian.
//
// The reader follows the reference implementation's checks (safetensors/src/tensor.rs,
// read_metadata and Metadata::validate): a header of at most 100,000,000 bytes; tensors sorted
// by offset must tile the buffer from 0 to its end with no gap or overlap; each tensor's byte
// count is its element count times its dtype's size, computed without overflow. It adds what
// the reference leaves to its JSON parser or does not check: duplicate keys and unknown keys
// are errors, and a shape has at most 64 dims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verinit/tensor.hpp"

namespace verinit::io {

/// One tensor of a safetensors file, as its header describes it.
struct safetensors_entry {
  std::string name;
  std::string dtype_name;              ///< as in the file: "BF16", "F32", "I64", "BOOL", ...
  std::optional<verinit::dtype> type;  ///< set for the dtypes verinit has (F16, BF16, F32, F64)
  verinit::tensor_shape shape;         ///< [] is a scalar (1 element); a 0 dim, no elements
  std::uint64_t begin = 0, end = 0;    ///< byte offsets in the data buffer, end exclusive
  std::uint64_t bytes() const { return end - begin; }
};

/// A safetensors file, validated and mapped read-only (POSIX mmap, MAP_PRIVATE) whole; the
/// tensors' bytes are read from the mapping. Move-only; the mapping lives as long as the object
/// (views and raw spans from it are valid until then). If another process truncates the file
/// while it is mapped, reading the lost pages raises SIGBUS: as for any mapped file.
class safetensors_file {
 public:
  /// Opens, validates and maps `path`. Everything the header says is checked against the file
  /// size before the file is mapped or anything the size does not justify is allocated.
  /// Throws std::runtime_error, one line, "cannot read '<path>': <problem>", naming the value at
  /// fault and what was expected: missing or not a regular file; shorter than 8 bytes; header
  /// length 0, over 100,000,000 or past the end of the file; header not UTF-8 JSON, not an
  /// object or not starting with '{' (after JSON whitespace); an entry that is not an object,
  /// lacks or repeats dtype/shape/data_offsets, has another key, or has a value of the wrong
  /// type; an unknown dtype; negative, non-integer or too many dims; an element count whose
  /// byte size overflows 64 bits; data_offsets not two integers with begin <= end, or not the
  /// tensor's byte size apart; offsets with a gap or an overlap or not ending at the end of the
  /// file; duplicate names; __metadata__ not an object of strings.
  static safetensors_file open(const std::filesystem::path& path);

  safetensors_file(safetensors_file&& other) noexcept;
  safetensors_file& operator=(safetensors_file&& other) noexcept;
  safetensors_file(const safetensors_file&) = delete;
  safetensors_file& operator=(const safetensors_file&) = delete;
  ~safetensors_file();

  /// Every tensor, in data-offset order (ties, which only empty tensors have, by name).
  std::span<const safetensors_entry> tensors() const noexcept { return entries_; }
  /// The tensor called `name`, or nullptr.
  const safetensors_entry* find(std::string_view name) const noexcept;
  /// The "__metadata__" strings (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// The tensor's elements as a tensor_view of its dtype and shape. Without a copy when its
  /// bytes are aligned for the dtype in the mapping (the usual case: writers pad the header to
  /// a multiple of 8, as write_safetensors does); otherwise they are copied into `fallback`
  /// (its type, shape and bytes replaced) and the view is of `fallback`. `fallback` is not
  /// touched in the first case. A tensor with a 0 dim gives a view with no bytes (and that
  /// shape, which verinit::element_count rejects). `entry` must be one of tensors(). Throws
  /// std::runtime_error naming the file and the tensor if its dtype is not one of F16, BF16,
  /// F32, F64.
  verinit::tensor_view view(const safetensors_entry& entry, verinit::tensor_buffer& fallback) const;
  /// The raw bytes of any entry (integer, boolean and 8-bit float tensors too), in the mapping.
  /// `entry` must be one of tensors().
  std::span<const std::byte> raw(const safetensors_entry& entry) const;

 private:
  safetensors_file() = default;

  std::filesystem::path path_;
  std::vector<safetensors_entry> entries_;
  std::vector<std::size_t> by_name_;  ///< indices of entries_ in name order, for find()
  std::map<std::string, std::string> metadata_;
  const std::byte* mapping_ = nullptr;  ///< the whole file, or null when moved from
  std::size_t mapping_size_ = 0;
  std::size_t data_start_ = 0;  ///< 8 + header length
};

/// Writes `tensors` (name, elements) to `path` as safetensors: the header lists __metadata__
/// (when `metadata` is not empty) and the tensors in the given order, padded with spaces so
/// that the data starts at a multiple of 8 bytes; the tensors' bytes follow in the given order,
/// unpadded. Written atomically (write_file_atomically), from the tensors' own bytes. Each
/// view's bytes must be exactly its shape's element count (a 0 dim allowed, [] is a scalar)
/// times its dtype's size. Throws std::invalid_argument for an empty or duplicate name,
/// "__metadata__" as a name, a name or metadata string that is not valid UTF-8, or a view whose
/// bytes do not match its shape; std::runtime_error naming the path if it cannot be written.
void write_safetensors(const std::filesystem::path& path,
                       std::span<const std::pair<std::string, verinit::tensor_view>> tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace verinit::io
