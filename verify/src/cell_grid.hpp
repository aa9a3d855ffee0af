// Internal: equal cells over an interval, the one cell function that bucketing, the level table
// of the summaries and the histogram slots all use (internal to verify/src).
#pragma once

#include <cstdint>

namespace verinit::verify::detail {

// Cells of width 1/scale from `low`: cell_of is non-decreasing in v (a rounded subtraction, a
// multiplication by a positive constant, clamps and a truncation each are), below `low` and
// NaN give cell 0, beyond the last cell (`top`) the last one. Branch-free (ternaries, not
// std::clamp, whose reference keeps loops from being vectorized), so loops over values
// vectorize.
struct cell_grid {
  double low = 0, scale = 0, top = 0;

  std::int32_t cell_of(double v) const {
    const double position = (v - low) * scale;
    const double above = position > 0 ? position : 0.0;  // NaN and -inf to cell 0
    // (Clamped before the cast: converting +inf or a huge double to an integer is undefined.)
    return static_cast<std::int32_t>(top < above ? top : above);
  }
};

}  // namespace verinit::verify::detail
