#include "text.hpp"

namespace verinit::io::text {

// The length of the UTF-8 sequence at the start of `text` (RFC 3629, section 4: no overlong
// forms, surrogates or code points past U+10FFFF), or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  const std::size_t length = lead < 0x80   ? 1
                             : lead < 0xc2 ? 0
                             : lead < 0xe0 ? 2
                             : lead < 0xf0 ? 3
                             : lead < 0xf5 ? 4
                                           : 0;
  if (length == 0 || length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i)
    if ((byte(i) & 0xc0) != 0x80) return 0;
  if (length >= 3) {
    const unsigned char second = byte(1);
    if ((lead == 0xe0 && second < 0xa0) || (lead == 0xed && second > 0x9f) ||
        (lead == 0xf0 && second < 0x90) || (lead == 0xf4 && second > 0x8f))
      return 0;
  }
  return length;
}

// Text from the file made fit for a one-line message: control bytes, DEL and bytes that are
// not UTF-8 escaped as \xHH, cut after about `max_shown` bytes.
std::string printable(std::string_view text, std::size_t max_shown) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && i < max_shown) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = utf8_sequence_length(text.substr(i));
    if (length == 0 || c < 0x20 || c == 0x7f) {
      constexpr char hex[] = "0123456789abcdef";
      out.append("\\x").append(1, hex[c >> 4]).append(1, hex[c & 0xf]);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace verinit::io::text
