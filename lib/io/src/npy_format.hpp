// Internal: the .npy layout (numpy/lib/format.py; NEP 1), parsed from bytes in memory, for the
// .npy reader (a file) and the .npz reader (a zip member, mapped or inflated). Problems are
// thrown as npy_format::error holding only the problem; each caller names its file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "verinit/tensor.hpp"

namespace verinit::io::npy_format {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The largest header accepted: numpy writes ~128 bytes; a longer one is a lie or an attack.
inline constexpr std::uint64_t max_header_length = 1u << 20;

/// Magic, version and header length, from the first bytes of an .npy array.
struct preamble {
  std::size_t size = 0;             ///< 10 (version 1.0) or 12 (2.0, 3.0)
  std::uint64_t header_length = 0;  ///< the dict and its padding
  std::uint64_t data_offset() const { return size + header_length; }
};

/// Reads the preamble from `first` (the first min(12, total_size) bytes of an array of
/// `total_size` bytes). Throws error for a bad magic, an unsupported version, a truncated
/// preamble, or a header longer than max_header_length or than the array.
preamble read_preamble(std::span<const std::byte> first, std::uint64_t total_size);

struct header {
  std::string descr;
  bool fortran = false;
  std::vector<std::int64_t> shape;
};

/// Parses the header's Python dict literal: exactly 'descr', 'fortran_order' and 'shape' (at
/// most 64 dims, none negative), then only spaces and newlines. Throws error.
header parse_header(std::string_view dict);

/// The float dtype a descr names in either byte order ('<f2', '>f4', ...), or nullopt.
std::optional<dtype> float_dtype(std::string_view descr);

/// Whether the descr holds 16-bit bit patterns ('<u2', '<i2', '<V2', '|V2', either order).
bool is_bit_pattern(std::string_view descr);

/// The descr in safetensors' spelling ("F32", "I64", "BOOL", "U16"; "V2" for 16-bit void),
/// for listings; the descr itself (printable) when safetensors has no name for it.
std::string dtype_name(std::string_view descr);

/// The size in bytes of one element ('<f4': 4), or 0 when the descr is not a plain scalar.
std::size_t item_size(std::string_view descr);

/// The element count of `shape` (0 with a 0 dim); throws error if it times `item` overflows.
std::uint64_t element_count(std::span<const std::int64_t> shape, std::size_t item);

/// Reverses the bytes of each `item`-byte element, in place.
void byte_swap(std::span<std::byte> bytes, std::size_t item);

/// Fortran (column-major) order to C order, for elements of `item` bytes.
std::vector<std::byte> to_c_order(std::span<const std::byte> values, std::size_t item,
                                  std::span<const std::int64_t> shape);

}  // namespace verinit::io::npy_format
