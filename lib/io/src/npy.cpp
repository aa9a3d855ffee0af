// .npy reader and writer (numpy/lib/format.py documents the layout).
#include "verinit/io/npy.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "npy_format.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/io/atomic_file.hpp"
#include "verinit/shape.hpp"

namespace verinit::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the .npy writer assumes a little-endian host");

std::string header_for(std::string_view descr, std::span<const std::int64_t> shape) {
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += shape.size() == 1 ? "," : ", ";
  }
  dict += "), }";
  // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64, which
  // keeps the data aligned as numpy's own writer does.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  return dict;
}

}  // namespace

void write_npy(const std::filesystem::path& path, const tensor_view& tensor) {
  detail::check_tensor_bytes("write_npy", tensor.type, tensor.shape, tensor.bytes.size(),
                             tensor.bytes.data());
  const std::string_view descr = info(tensor.type).npy_descr;
  if (descr.empty())
    detail::throw_invalid("write_npy", "dtype", std::string(to_string(tensor.type)),
                          "one numpy can store (float16, float32, float64); write bfloat16 as "
                          "safetensors");
  const std::string header = header_for(descr, tensor.shape);
  if (header.size() > 65535)
    detail::throw_invalid("write_npy", "shape", to_string(tensor.shape),
                          "short enough for a v1.0 header");
  const unsigned char preamble[10] = {0x93,
                                      'N',
                                      'U',
                                      'M',
                                      'P',
                                      'Y',
                                      1,
                                      0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  write_file_atomically(path,
                        {std::as_bytes(std::span(preamble)),
                         std::as_bytes(std::span(header.data(), header.size())), tensor.bytes});
}

}  // namespace verinit::io

// ---- reader ---------------------------------------------------------------------------------

namespace verinit::io {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("cannot read '" + path.string() + "': " + problem);
}

void read_exactly(std::ifstream& file, const std::filesystem::path& path, void* out,
                  std::size_t size) {
  file.read(static_cast<char*>(out), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(file.gcount()) != size) fail(path, "truncated data");
}

}  // namespace

tensor_buffer read_npy(const std::filesystem::path& path, std::optional<dtype> bits16) {
  if (bits16 && info(*bits16).size != 2)
    detail::throw_invalid("read_npy", "bits16", std::string(to_string(*bits16)),
                          "bfloat16 or float16");
  std::error_code error;
  if (!std::filesystem::exists(path, error)) fail(path, "no such file");
  if (std::filesystem::is_directory(path, error)) fail(path, "it is a directory");
  const auto file_size = std::filesystem::file_size(path, error);
  if (error) fail(path, "cannot get its size");
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, "cannot open it");
  if (file_size == 0) fail(path, "the file is empty");
  try {
    std::byte first[12] = {};
    file.read(reinterpret_cast<char*>(first), static_cast<std::streamsize>(sizeof first));
    const auto preamble = npy_format::read_preamble(
        std::span(first, static_cast<std::size_t>(file.gcount())), file_size);
    file.clear();
    file.seekg(static_cast<std::streamoff>(preamble.size));
    std::string dict(static_cast<std::size_t>(preamble.header_length), '\0');
    read_exactly(file, path, dict.data(), dict.size());
    const npy_format::header fields = npy_format::parse_header(dict);

    const std::string& descr = fields.descr;
    std::optional<dtype> type = npy_format::float_dtype(descr);
    // 16-bit bit patterns: unsigned, signed or void, named by the caller.
    if (npy_format::is_bit_pattern(descr)) {
      if (!bits16)
        fail(path, "dtype is '" + descr +
                       "': 16-bit bit patterns, whose float format must be named (--input-dtype "
                       "bfloat16 or float16)");
      type = bits16;
    } else if (type && bits16 && *type != *bits16) {
      fail(path, "the file holds " + std::string(to_string(*type)) + " ('" + descr +
                     "'), not the " + std::string(to_string(*bits16)) + " it was read as");
    }
    if (!type)
      fail(path, "dtype is '" + descr +
                     "', but must be float16, float32 or float64 ('<f2', '<f4', '<f8' or the '>' "
                     "byte order), or 16-bit patterns ('<u2', '<i2', '<V2') read as bfloat16 or "
                     "float16");
    const std::size_t item = info(*type).size;
    const std::uint64_t count = npy_format::element_count(fields.shape, item);
    if (count == 0) fail(path, "the array has no elements (shape has a 0)");
    const std::uint64_t expected = preamble.data_offset() + count * item;
    if (file_size != expected)
      fail(path, "the header describes " + std::to_string(count) + " elements (" +
                     std::to_string(expected) + " bytes in all) but the file has " +
                     std::to_string(file_size) + " bytes");
    tensor_buffer array;
    array.type = *type;
    array.shape = fields.shape;
    array.bytes.resize(static_cast<std::size_t>(count) * item);
    read_exactly(file, path, array.bytes.data(), array.bytes.size());
    if (descr[0] == '>') npy_format::byte_swap(array.bytes, item);
    if (fields.fortran && fields.shape.size() > 1)
      array.bytes = npy_format::to_c_order(array.bytes, item, fields.shape);
    return array;
  } catch (const npy_format::error& e) {
    fail(path, e.what());
  }
}

}  // namespace verinit::io
