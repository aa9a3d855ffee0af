#include "verinit/verify/tolerance.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "verinit/detail/check.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"

namespace verinit::verify {

namespace {

// Q(x) = P(Z >= x) for a standard normal Z.
double upper_tail(double x) { return 0.5 * std::erfc(x / 1.41421356237309504880); }

}  // namespace

void check_tolerance(const tolerance& t, const std::string& where) {
  for (const auto& [key, value] :
       {std::pair{"variance", t.variance}, std::pair{"mean", t.mean}, std::pair{"ks", t.ks}}) {
    if (!(value >= 0 && value < 1))
      throw std::invalid_argument(where + ": tolerance " + key + " is " +
                                  verinit::detail::format_number(value) +
                                  ", but must be in [0, 1)");
  }
}

std::string to_string(const tolerance& t) {
  std::string out;
  const auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (t.variance > 0) add("variance +-" + verinit::detail::format_number(100 * t.variance) + "%");
  if (t.mean > 0) add("mean +-" + verinit::detail::format_number(t.mean) + " sd");
  if (t.ks > 0) add("ks " + verinit::detail::format_number(t.ks));
  return out.empty() ? "none" : out;
}

double equivalence_p(double z, double standard_error, double tol) {
  if (std::isnan(z)) return 0;  // a test that could not be computed fails, as without one
  const double shift = tol / standard_error, a = std::abs(z);
  return std::min(1.0, upper_tail(a - shift) + upper_tail(a + shift));
}

void apply_tolerance(std::vector<test_result>& tests, const tolerance& t) {
  for (test_result& r : tests) {
    if (r.exact || r.informational) continue;
    const bool ks = r.name == "ks" || r.name == "pooled_ks";
    const double tol = r.detects == detectable_quantity::relative_variance_error ? t.variance
                       : r.detects == detectable_quantity::mean_shift            ? t.mean
                       : ks                                                      ? t.ks
                                                                                 : 0.0;
    if (tol > 0 && ks) {
      const auto n = std::find_if(r.values.begin(), r.values.end(),
                                  [](const auto& v) { return v.first == "n"; });
      if (n == r.values.end() || !(n->second >= 1))
        throw std::logic_error("apply_tolerance: a ks test without its sample count");
      r.p_value =
          cdf(complement(kolmogorov_smirnov_distribution(static_cast<std::int64_t>(n->second)),
                         std::max(0.0, r.statistic - tol)));
      r.values.emplace_back("tolerance", tol);
      r.note += "; equivalence: fails only for a distance shown beyond " +
                verinit::detail::format_number(tol);
    } else if (tol > 0 && !std::isnan(r.standard_error)) {
      r.p_value = equivalence_p(r.statistic, r.standard_error, tol);
      r.values.emplace_back("tolerance", tol);
      r.note += "; equivalence: fails only for an error shown beyond +-" +
                verinit::detail::format_number(tol) +
                (r.detects == detectable_quantity::mean_shift ? " sd" : " (relative)");
    } else if (t.ks > 0 && (r.name == "anderson_darling" || r.name == "chi_square" ||
                            r.name == "pooled_anderson_darling")) {
      r.informational = true;
      r.note += "; information only: the rule's ks tolerance decides the law's shape";
    }
  }
}

}  // namespace verinit::verify
