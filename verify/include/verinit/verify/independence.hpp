// Tests of serial independence: what a random stream reused across blocks or threads breaks.
#pragma once

#include <span>

#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// Lag-1 autocorrelation r about the known mean mu, z = r sqrt(n) ~ N(0, 1) (Ljung-Box with
/// one lag, whose statistic is z^2), two-sided.
test_result autocorrelation_test(std::span<const float> samples, double mu);
test_result autocorrelation_test(std::span<const double> samples, double mu);

/// Repeated runs: every window of 4 consecutive samples (overlapping, so any period is
/// seen) is hashed to 64 bits, and windows whose hash occurs before are counted. For an
/// i.i.d. stream a repeat needs 4 coinciding values (or a 64-bit hash collision); under the
/// null the count is Poisson with mean at most C(n, 2) 2^-60 (values quantised as finely as
/// 2^-15 included), which is 4e-5 at n = 10^7; a stream reused with any period P repeats
/// about n - P windows. A count of single repeated values would not work: real samplers
/// quantise (PyTorch's uniforms sit on a 2^24 grid).
test_result repeated_runs_test(std::span<const float> samples);
test_result repeated_runs_test(std::span<const double> samples);

}  // namespace verinit::verify
