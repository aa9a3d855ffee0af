// Error messages shared by every public entry.
#include "verinit/detail/check.hpp"

#include <charconv>
#include <cmath>
#include <string>

namespace verinit::detail {

std::string format_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

void throw_invalid(std::string_view function, std::string_view parameter,
                   std::string_view value_text, std::string_view expected) {
  std::string message;
  message.append(function).append(": ").append(parameter).append(" is ").append(value_text);
  message.append(", but must be ").append(expected);
  throw std::invalid_argument(message);
}

}  // namespace verinit::detail
