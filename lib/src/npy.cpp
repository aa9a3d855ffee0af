// .npy writer (format version 1.0; numpy/lib/format.py documents the layout).
#include "verinit/npy.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "verinit/detail/check.hpp"
#include "verinit/shape.hpp"

namespace verinit {
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

template <class T>
void write(const std::filesystem::path& path, std::span<const T> data,
           std::span<const std::int64_t> shape, std::string_view descr) {
  if (static_cast<std::int64_t>(data.size()) != element_count(shape))
    detail::throw_invalid("write_npy", "data size", std::to_string(data.size()),
                          "the element count of shape " + to_string(shape));
  const std::string header = header_for(descr, shape);
  if (header.size() > 65535)
    detail::throw_invalid("write_npy", "shape", to_string(shape), "short enough for a v1.0 header");
  std::filesystem::path temporary = path;
  temporary += ".tmp" + std::to_string(std::random_device{}());
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file)
      throw std::runtime_error("cannot write '" + path.string() + "': cannot create the file");
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
    file.write(reinterpret_cast<const char*>(preamble), sizeof preamble);
    file.write(header.data(), static_cast<std::streamsize>(header.size()));
    file.write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size_bytes()));
    file.close();
    if (!file) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw std::runtime_error("cannot write '" + path.string() + "': write failed (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw std::runtime_error("cannot write '" + path.string() + "': cannot rename into place");
  }
}

}  // namespace

void write_npy(const std::filesystem::path& path, std::span<const float> data,
               std::span<const std::int64_t> shape) {
  write(path, data, shape, "<f4");
}

void write_npy(const std::filesystem::path& path, std::span<const double> data,
               std::span<const std::int64_t> shape) {
  write(path, data, shape, "<f8");
}

}  // namespace verinit

// ---- reader ---------------------------------------------------------------------------------

namespace verinit {
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

template <class T>
void byte_swap(std::vector<T>& values) {
  for (T& v : values) {
    auto* bytes = reinterpret_cast<unsigned char*>(&v);
    std::reverse(bytes, bytes + sizeof(T));
  }
}

// Fortran (column-major) order to C order.
template <class T>
std::vector<T> to_c_order(const std::vector<T>& values, const std::vector<std::int64_t>& shape) {
  std::vector<T> out(values.size());
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> index(rank, 0);
  for (std::size_t c = 0; c < values.size(); ++c) {
    std::int64_t f = 0, stride = 1;
    for (std::size_t d = 0; d < rank; ++d) {
      f += index[d] * stride;
      stride *= shape[d];
    }
    out[c] = values[static_cast<std::size_t>(f)];
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

}  // namespace

npy_array read_npy(const std::filesystem::path& path) {
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
  const bool known = descr == "<f4" || descr == ">f4" || descr == "<f8" || descr == ">f8";
  if (!known)
    fail(path,
         "dtype is '" + descr + "', but must be float32 or float64 ('<f4', '>f4', '<f8' or '>f8')");
  const std::size_t item = descr[2] == '4' ? 4 : 8;
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
  npy_array array;
  array.shape = fields.shape;
  array.is_float64 = item == 8;
  const auto read_values = [&](auto& values) {
    values.resize(static_cast<std::size_t>(count));
    file.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * item));
    if (file.gcount() != static_cast<std::streamsize>(count * item)) fail(path, "truncated data");
    if (descr[0] == '>') byte_swap(values);
    if (fields.fortran && fields.shape.size() > 1) values = to_c_order(values, fields.shape);
  };
  if (array.is_float64)
    read_values(array.f64);
  else
    read_values(array.f32);
  return array;
}

}  // namespace verinit
