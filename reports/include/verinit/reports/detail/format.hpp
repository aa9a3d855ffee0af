// Text helpers shared by the report writers.
#pragma once

#include <string>
#include <string_view>

namespace verinit::reports::detail {

/// `value` with `digits` significant digits ("%.*g"); "NaN", "inf", "-inf" for the others.
/// Every number a report shows goes through this, so tests can find it in the page.
std::string format_number(double value, int digits = 4);

/// `value` with two decimals, as "%.2f" writes it (std::to_chars, which is specified so, and
/// several times faster): pixel coordinates.
std::string format_fixed2(double value);
/// The same, appended to `out`.
void append_fixed2(std::string& out, double value);

/// Escapes &, <, >, " and ' for XML text and attribute values.
std::string escape_xml(std::string_view text);

}  // namespace verinit::reports::detail
