#include "verinit/verify/multiple_testing.hpp"

#include <algorithm>
#include <cmath>

namespace verinit::verify {

std::size_t holm_bonferroni(std::vector<test_result*>& tests, double alpha) {
  std::vector<test_result*> family;
  for (auto* t : tests) {
    if (t->informational) {
      t->adjusted_p_value = t->p_value;
      t->passed = true;
      t->suspicious = false;
    } else if (t->exact) {
      t->adjusted_p_value = t->p_value;
    } else {
      family.push_back(t);
    }
  }
  // NaN p-values sort first and are rejected: a test that could not be computed fails.
  std::stable_sort(family.begin(), family.end(), [](const test_result* a, const test_result* b) {
    return std::isnan(a->p_value) ? !std::isnan(b->p_value) : a->p_value < b->p_value;
  });
  const std::size_t m = family.size();
  bool rejecting = true;
  double running_max = 0;  // of (m - j) p_(j), j <= k, over computable p-values
  for (std::size_t k = 0; k < m; ++k) {
    test_result& t = *family[k];
    if (std::isnan(t.p_value)) {
      t.adjusted_p_value = NAN;
    } else {
      running_max = std::max(running_max, static_cast<double>(m - k) * t.p_value);
      t.adjusted_p_value = std::min(1.0, running_max);
    }
    if (rejecting && !(t.p_value > alpha / static_cast<double>(m - k))) {
      t.passed = false;
    } else {
      rejecting = false;
      t.passed = true;
    }
    t.suspicious = t.passed && t.p_value < 1e-3;
  }
  return m;
}

}  // namespace verinit::verify
