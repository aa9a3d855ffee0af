// .npy reader and writer (numpy/lib/format.py documents the layout).
#include "verinit/io/npy.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

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

// A minimal parser for the header's Python dict literal: exactly the keys 'descr',
// 'fortran_order' and 'shape', in any order.
struct header_fields {
  std::string descr;
  bool fortran = false;
  std::vector<std::int64_t> shape;
};

class header_parser {
 public:
  header_parser(std::string_view text, const std::filesystem::path& path)
      : text_(text), path_(path) {}

  header_fields parse() {
    header_fields fields;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr" && !seen_descr) {
        fields.descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_order) {
        if (consume("True"))
          fields.fortran = true;
        else if (consume("False"))
          fields.fortran = false;
        else
          fail(path_, "header: fortran_order is neither True nor False");
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        fields.shape = shape();
        seen_shape = true;
      } else {
        fail(path_, "header: unexpected or repeated key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++position_;
    }
    ++position_;
    if (!seen_descr || !seen_order || !seen_shape)
      fail(path_, "header: missing descr, fortran_order or shape");
    for (; position_ < text_.size(); ++position_)
      if (text_[position_] != ' ' && text_[position_] != '\n')
        fail(path_, "header: text after the dict");
    return fields;
  }

 private:
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void skip_space() {
    while (peek() == ' ') ++position_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(path_, std::string("header: expected '") + c + "'");
    ++position_;
  }
  bool consume(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(path_, "header: expected a quoted string");
    const std::size_t end = text_.find(quote, position_ + 1);
    if (end == std::string_view::npos) fail(path_, "header: unterminated string");
    std::string value(text_.substr(position_ + 1, end - position_ - 1));
    position_ = end + 1;
    return value;
  }
  std::vector<std::int64_t> shape() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      std::int64_t dim = 0;
      const char* first = text_.data() + position_;
      const auto [end, error] = std::from_chars(first, text_.data() + text_.size(), dim);
      if (error != std::errc{} || end == first)
        fail(path_, "header: shape holds something other than integers");
      if (dim < 0) fail(path_, "header: negative dimension " + std::to_string(dim));
      dims.push_back(dim);
      position_ += static_cast<std::size_t>(end - first);
      skip_space();
      if (peek() == ',') ++position_;
      if (dims.size() > 64) fail(path_, "header: more than 64 dimensions");
    }
    ++position_;
    return dims;
  }

  std::string_view text_;
  const std::filesystem::path& path_;
  std::size_t position_ = 0;
};

// Reverses the bytes of each `item`-byte element.
void byte_swap(std::vector<std::byte>& bytes, std::size_t item) {
  for (std::size_t at = 0; at < bytes.size(); at += item)
    std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                 bytes.begin() + static_cast<std::ptrdiff_t>(at + item));
}

// Fortran (column-major) order to C order, for elements of `item` bytes.
std::vector<std::byte> to_c_order(const std::vector<std::byte>& values, std::size_t item,
                                  const std::vector<std::int64_t>& shape) {
  std::vector<std::byte> out(values.size());
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> index(rank, 0);
  for (std::size_t c = 0; c < values.size() / item; ++c) {
    std::int64_t f = 0, stride = 1;
    for (std::size_t d = 0; d < rank; ++d) {
      f += index[d] * stride;
      stride *= shape[d];
    }
    std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(f) * item),
                item, out.begin() + static_cast<std::ptrdiff_t>(c * item));
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

// The dtype of a descr: '<' or '>' (or '|' for one byte, none here) and a kind and size that
// a dtype's little-endian spelling names.
std::optional<dtype> dtype_of_descr(const std::string& descr) {
  if (descr.size() < 2 || (descr[0] != '<' && descr[0] != '>')) return std::nullopt;
  for (const auto& d : dtypes())
    if (!d.npy_descr.empty() && descr.substr(1) == d.npy_descr.substr(1)) return d.type;
  return std::nullopt;
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
  unsigned char preamble[12] = {};
  file.read(reinterpret_cast<char*>(preamble), 8);
  if (file.gcount() < 8 || std::memcmp(preamble, "\x93NUMPY", 6) != 0)
    fail(path, "not a .npy file (bad magic)");
  const int major = preamble[6];
  if (major < 1 || major > 3) fail(path, "unsupported .npy version " + std::to_string(major));
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  file.read(reinterpret_cast<char*>(preamble + 8), static_cast<std::streamsize>(length_bytes));
  if (static_cast<std::size_t>(file.gcount()) < length_bytes) fail(path, "truncated header");
  std::uint64_t header_length = preamble[8] | preamble[9] << 8;
  if (major > 1)
    header_length |= std::uint64_t{preamble[10]} << 16 | std::uint64_t{preamble[11]} << 24;
  const std::uint64_t data_offset = 8 + length_bytes + header_length;
  if (data_offset > file_size)
    fail(path, "truncated header (it claims " + std::to_string(header_length) + " bytes)");
  std::string header(header_length, '\0');
  file.read(header.data(), static_cast<std::streamsize>(header_length));
  const header_fields fields = header_parser(header, path).parse();

  const std::string& descr = fields.descr;
  std::optional<dtype> type = dtype_of_descr(descr);
  // 16-bit bit patterns: unsigned, signed or void, named by the caller.
  const bool bit_patterns = descr == "<u2" || descr == ">u2" || descr == "<i2" || descr == ">i2" ||
                            descr == "|V2" || descr == "<V2" || descr == ">V2";
  if (bit_patterns) {
    if (!bits16)
      fail(path, "dtype is '" + descr +
                     "': 16-bit bit patterns, whose float format must be named (--input-dtype "
                     "bfloat16 or float16)");
    type = bits16;
  } else if (type && bits16 && *type != *bits16) {
    fail(path, "the file holds " + std::string(to_string(*type)) + " ('" + descr + "'), not the " +
                   std::string(to_string(*bits16)) + " it was read as");
  }
  if (!type)
    fail(path, "dtype is '" + descr +
                   "', but must be float16, float32 or float64 ('<f2', '<f4', '<f8' or the '>' "
                   "byte order), or 16-bit patterns ('<u2', '<i2', '<V2') read as bfloat16 or "
                   "float16");
  const std::size_t item = info(*type).size;
  std::int64_t count = 1;
  for (const auto dim : fields.shape) {
    if (dim == 0) fail(path, "the array has no elements (shape has a 0)");
    if (count > std::numeric_limits<std::int64_t>::max() / 8 / dim)
      fail(path, "the shape's element count overflows");
    count *= dim;
  }
  const std::uint64_t expected = data_offset + static_cast<std::uint64_t>(count) * item;
  if (file_size != expected)
    fail(path, "the header describes " + std::to_string(count) + " elements (" +
                   std::to_string(expected) + " bytes in all) but the file has " +
                   std::to_string(file_size) + " bytes");
  tensor_buffer array;
  array.type = *type;
  array.shape = fields.shape;
  array.bytes.resize(static_cast<std::size_t>(count) * item);
  file.read(reinterpret_cast<char*>(array.bytes.data()),
            static_cast<std::streamsize>(array.bytes.size()));
  if (file.gcount() != static_cast<std::streamsize>(array.bytes.size()))
    fail(path, "truncated data");
  if (descr[0] == '>') byte_swap(array.bytes, item);
  if (fields.fortran && fields.shape.size() > 1)
    array.bytes = to_c_order(array.bytes, item, fields.shape);
  return array;
}

}  // namespace verinit::io
