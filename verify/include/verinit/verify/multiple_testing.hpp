// Family-wise error control for one run.
#pragma once

#include <vector>

#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// Holm-Bonferroni step-down at family-wise level `alpha` over the statistical tests given
/// (exact checks are skipped: they decide themselves). Sorting the m p-values ascending,
/// H_(k) is rejected while p_(k) <= alpha / (m - k + 1); the first acceptance stops it
/// (S. Holm, Scand. J. Statist. 6, 1979). Sets `passed`, `suspicious` for p < 1e-3, and
/// the adjusted p-value min(1, max_{j <= k} (m - j + 1) p_(j)), which is <= alpha exactly
/// when the test is rejected. Exact checks get their own p as the adjusted one; informational
/// tests too, and pass.
/// Returns m.
std::size_t holm_bonferroni(std::vector<test_result*>& tests, double alpha);

}  // namespace verinit::verify
