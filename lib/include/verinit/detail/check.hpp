// Argument checks used at every public entry of verinit.
//
// Each helper throws std::invalid_argument whose message names the function, the parameter,
// the value and what was expected, e.g. "he_normal: fan_in is 0, but must be > 0". The CLI
// prints that message on one line and exits with status 2.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace verinit::detail {

/// Shortest decimal text that reads back as the same double (like Python's repr).
std::string format_number(double value);

[[noreturn]] void throw_invalid(std::string_view function, std::string_view parameter,
                                std::string_view value_text, std::string_view expected);

inline void check_finite(std::string_view function, std::string_view parameter, double value) {
  if (!std::isfinite(value)) throw_invalid(function, parameter, format_number(value), "finite");
}

inline void check_positive(std::string_view function, std::string_view parameter, double value) {
  if (!(value > 0) || !std::isfinite(value))
    throw_invalid(function, parameter, format_number(value), "finite and > 0");
}

inline void check_non_negative(std::string_view function, std::string_view parameter,
                               double value) {
  if (!(value >= 0) || !std::isfinite(value))
    throw_invalid(function, parameter, format_number(value), "finite and >= 0");
}

/// Checks 0 <= value <= 1.
inline void check_probability(std::string_view function, std::string_view parameter, double value) {
  if (!(value >= 0 && value <= 1))
    throw_invalid(function, parameter, format_number(value), "in [0, 1]");
}

}  // namespace verinit::detail

/// Invariant check: a failure is a bug in verinit, never a user error.
#define VERINIT_ASSERT(condition)                                                          \
  do {                                                                                     \
    if (!(condition))                                                                      \
      throw std::logic_error(std::string("verinit internal error: ") + #condition + " (" + \
                             __FILE__ + ":" + std::to_string(__LINE__) + ")");             \
  } while (false)
