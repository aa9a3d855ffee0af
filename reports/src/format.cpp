#include "verinit/reports/detail/format.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace verinit::reports::detail {

std::string format_number(double value, int digits) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[64];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return text;
}

void append_fixed2(std::string& out, double value) {
  // 2 decimals of the largest double (309 digits) and the sign fit.
  char text[320];
  const auto [end, error] =
      std::to_chars(text, text + sizeof text, value, std::chars_format::fixed, 2);
  if (error != std::errc{}) {  // cannot happen with this buffer; keep printf's answer then
    std::snprintf(text, sizeof text, "%.2f", value);
    out += text;
    return;
  }
  out.append(text, end);
}

std::string format_fixed2(double value) {
  std::string out;
  append_fixed2(out, value);
  return out;
}

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace verinit::reports::detail
