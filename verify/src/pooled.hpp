// Internal: the pooled goodness-of-fit tests of a model's rules (runner.hpp's pooled_result).
#pragma once

#include <vector>

#include "rounded_laws.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::verify::detail {

/// Adds "pooled_ks" and "pooled_anderson_darling" to each of `pooled` (pool_by_rule of
/// `cases`, which are the results of request.cases, index for index): the probability-integral
/// transforms u = F_t(x) of the rule's tensors (those of an i.i.d. law with their samples in
/// the request; a tensor on a 16-bit grid, or of float32 values all on one, by the randomised
/// PIT u = F_t(g-) + V P_t(g), V ~ U(0, 1) from Philox keyed by the run's seed and the case,
/// exactly U(0, 1) under the null; the grid tensors of one rounded law are drawn together from
/// their summed histogram, binomials over the bins each atom spans, when that is cheaper than
/// value by value: a 10^8-weight bfloat16 rule costs its histograms, not 10^8 draws) pooled
/// into one sample, tested against U(0, 1) with KS and
/// A^2 bracketed over bins of ~4 values, 2^12 to 2^20 (stream_state.hpp), the p-value at the
/// bracket's lower end (conservative). Where fewer than two of a rule's tensors qualify, nothing is
/// added. The rule's tolerance applies (tolerance.hpp). The same bits on any thread count.
/// `laws` holds the run's rounded laws (built for the cases' tests).
void add_pit_tests(std::vector<pooled_result>& pooled, const run_request& request,
                   const std::vector<case_result>& cases, const run_options& options,
                   rounded_laws& laws);

}  // namespace verinit::verify::detail
