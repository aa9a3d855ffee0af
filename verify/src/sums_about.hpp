// The single pass's kernel about any centre and support (internal to verify/src): single_pass,
// support_check, centred_power_sums, extreme_test and autocorrelation_test all read the samples
// through it.
#pragma once

#include <span>

#include "verinit/verify/single_pass.hpp"

namespace verinit::verify::detail {

/// single_pass_sums with x - centre for the powers, the largest distance and the lagged
/// products, and the support counts against [low, high] (values of the sample type; `excluded`:
/// high itself is outside). Infinite bounds count only non-finite samples.
single_pass_sums sums_about(std::span<const float> x, double centre, float low, float high,
                            bool excluded);
single_pass_sums sums_about(std::span<const double> x, double centre, double low, double high,
                            bool excluded);

}  // namespace verinit::verify::detail
