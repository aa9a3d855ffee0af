// What a failed case looks like: the known signatures of initializer bugs, read off its tests.
#pragma once

#include <string>

namespace verinit::verify {

struct case_result;

/// One line naming what the failed tests of `c` look like, most specific first: non-finite
/// values (uninitialised memory or an overflow), values far beyond any plausible law, every
/// value 0 (left at zeros), one value only or every value at the mean (a constant), a lattice (a
/// 16-bit grid case with far fewer distinct values than the law gives), then the variance ratio v /
/// sigma^2 matched (within 3%) against the bugs' ratios: 2 and 1/2 (a gain of sqrt(2) added or
/// dropped), 3 and 1/3 (a uniform bound sqrt(1/fan) for sqrt(3/fan)), 6 and 1/6 (kaiming_uniform's
/// a = sqrt(5) of torch's Linear against a = 0), 0.7737 and its inverse (truncation at +-2 sd
/// without the 0.8796 std correction), fan_in/fan_out (axes swapped), the receptive field (kernel
/// dims left out of the fans) and fan_avg against fan_in/fan_out; in bfloat16, 0.985 +- 0.006 (a
/// normal computed in bfloat16, as PyTorch 1.13's bf16 normal_ is); a std of 0.02 +- 3% (the
/// GPT-2/BERT N(0, 0.02^2) convention); else the fan that would give the ratio (for a law from
/// fans), the ratio and mean shift, or that the shape of the law differs while its moments fit.
/// Empty for a case that passed.
std::string diagnose(const case_result& c);

}  // namespace verinit::verify
