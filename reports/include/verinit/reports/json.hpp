// The results document: one JSON format for `verinit verify --json`, a report's results.json
// and `verinit report --from`.
//
// Every number is written with 17 significant digits, so to_json(from_json(text)) == text and
// a report rebuilt from results.json is byte-identical to the one the run wrote. JSON has no
// NaN or infinity: NaN is written as null, infinities as the strings "inf" and "-inf" (an
// unbounded law's support), and both read back as they were. Timings sit in one place, the
// top-level "timing" object, so two runs with one seed differ only there.
#pragma once

#include <string>
#include <string_view>

#include "verinit/verify/runner.hpp"

namespace verinit::reports {

/// The JSON document of a run (indented by 2, ending in a newline).
std::string to_json(const verify::run_result& run);

/// Reads a document written by to_json. Throws std::invalid_argument naming the first field
/// that is missing or of the wrong type, or the parse error's position.
verify::run_result from_json(std::string_view text);

}  // namespace verinit::reports
