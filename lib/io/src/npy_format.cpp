// The .npy layout, parsed from memory (numpy/lib/format.py documents it).
#include "npy_format.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include "text.hpp"

namespace verinit::io::npy_format {
namespace {

[[noreturn]] void fail(const std::string& problem) { throw error(problem); }

// A minimal parser for the header's Python dict literal: exactly the keys 'descr',
// 'fortran_order' and 'shape', in any order.
class header_parser {
 public:
  explicit header_parser(std::string_view text) : text_(text) {}

  header parse() {
    header fields;
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
          fail("header: fortran_order is neither True nor False");
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        fields.shape = shape();
        seen_shape = true;
      } else {
        fail("header: unexpected or repeated key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++position_;
    }
    ++position_;
    if (!seen_descr || !seen_order || !seen_shape)
      fail("header: missing descr, fortran_order or shape");
    for (; position_ < text_.size(); ++position_)
      if (text_[position_] != ' ' && text_[position_] != '\n') fail("header: text after the dict");
    return fields;
  }

 private:
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void skip_space() {
    while (peek() == ' ') ++position_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("header: expected '") + c + "'");
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
    if (quote != '\'' && quote != '"') fail("header: expected a quoted string");
    const std::size_t end = text_.find(quote, position_ + 1);
    if (end == std::string_view::npos) fail("header: unterminated string");
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
      const auto [end, problem] = std::from_chars(first, text_.data() + text_.size(), dim);
      if (problem != std::errc{} || end == first)
        fail("header: shape holds something other than integers");
      if (dim < 0) fail("header: negative dimension " + std::to_string(dim));
      dims.push_back(dim);
      position_ += static_cast<std::size_t>(end - first);
      skip_space();
      if (peek() == ',') ++position_;
      if (dims.size() > 64) fail("header: more than 64 dimensions");
    }
    ++position_;
    return dims;
  }

  std::string_view text_;
  std::size_t position_ = 0;
};

// A descr's kind and size without its byte-order character, or empty when it has none.
std::string_view body(std::string_view descr) {
  if (descr.size() < 2 ||
      (descr[0] != '<' && descr[0] != '>' && descr[0] != '|' && descr[0] != '='))
    return {};
  return descr.substr(1);
}

}  // namespace

preamble read_preamble(std::span<const std::byte> first, std::uint64_t total_size) {
  if (first.size() < 8 || std::memcmp(first.data(), "\x93NUMPY", 6) != 0)
    fail("not a .npy array (bad magic)");
  const auto byte = [&](std::size_t i) { return std::to_integer<std::uint64_t>(first[i]); };
  const auto major = byte(6);
  if (major < 1 || major > 3) fail("unsupported .npy version " + std::to_string(major));
  preamble out;
  out.size = major == 1 ? 10 : 12;
  if (first.size() < out.size) fail("truncated header");
  out.header_length = byte(8) | byte(9) << 8;
  if (major > 1) out.header_length |= byte(10) << 16 | byte(11) << 24;
  if (out.header_length > max_header_length)
    fail("the header claims " + std::to_string(out.header_length) + " bytes, more than the " +
         std::to_string(max_header_length) + " accepted");
  if (out.data_offset() > total_size)
    fail("truncated header (it claims " + std::to_string(out.header_length) + " bytes)");
  return out;
}

header parse_header(std::string_view dict) { return header_parser(dict).parse(); }

std::optional<dtype> float_dtype(std::string_view descr) {
  if (descr.empty() || (descr[0] != '<' && descr[0] != '>')) return std::nullopt;
  for (const auto& d : dtypes())
    if (!d.npy_descr.empty() && descr.substr(1) == d.npy_descr.substr(1)) return d.type;
  return std::nullopt;
}

bool is_bit_pattern(std::string_view descr) {
  const std::string_view kind = body(descr);
  return kind == "u2" || kind == "i2" || kind == "V2";
}

std::string dtype_name(std::string_view descr) {
  // numpy's kinds (f float, i signed, u unsigned, b bool, V void) and sizes, as safetensors
  // spells them (safetensors/src/tensor.rs, Dtype).
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"f2", "F16"}, {"f4", "F32"},  {"f8", "F64"}, {"i1", "I8"},  {"i2", "I16"},
      {"i4", "I32"}, {"i8", "I64"},  {"u1", "U8"},  {"u2", "U16"}, {"u4", "U32"},
      {"u8", "U64"}, {"b1", "BOOL"}, {"V2", "V2"}};
  const std::string_view kind = body(descr);
  for (const auto& [npy, name] : names)
    if (kind == npy) return std::string(name);
  return text::printable(descr, 16);
}

std::size_t item_size(std::string_view descr) {
  const std::string_view kind = body(descr);
  if (kind.size() != 2 || std::string_view("fiubV").find(kind[0]) == std::string_view::npos)
    return 0;
  switch (kind[1]) {
    case '1':
      return 1;
    case '2':
      return 2;
    case '4':
      return 4;
    case '8':
      return 8;
    default:
      return 0;
  }
}

std::uint64_t element_count(std::span<const std::int64_t> shape, std::size_t item) {
  std::uint64_t count = 1;
  for (const auto dim : shape) {
    if (dim == 0) return 0;
  }
  const std::uint64_t limit =
      std::numeric_limits<std::int64_t>::max() / std::max<std::size_t>(item, 1);
  for (const auto dim : shape) {
    if (count > limit / static_cast<std::uint64_t>(dim))
      fail("the shape's element count overflows");
    count *= static_cast<std::uint64_t>(dim);
  }
  return count;
}

void byte_swap(std::span<std::byte> bytes, std::size_t item) {
  for (std::size_t at = 0; at + item <= bytes.size(); at += item)
    std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                 bytes.begin() + static_cast<std::ptrdiff_t>(at + item));
}

std::vector<std::byte> to_c_order(std::span<const std::byte> values, std::size_t item,
                                  std::span<const std::int64_t> shape) {
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

}  // namespace verinit::io::npy_format
