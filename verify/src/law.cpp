// Generic operations on the verifier's laws.
#include "verinit/verify/law.hpp"

#include <cmath>
#include <sstream>

namespace verinit::verify {
namespace {
template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
}  // namespace

// Boost's cdf raises a domain error for NaN; a NaN sample maps to a NaN probability instead,
// which the tests treat as a failure. Every law here handles x outside its support.
double law_cdf(const continuous_law& law, double x) {
  if (std::isnan(x)) return NAN;
  return std::visit([x](const auto& d) { return fast_cdf(d, x); }, law);
}

double law_sf(const continuous_law& law, double x) {
  if (std::isnan(x)) return NAN;
  return std::visit([x](const auto& d) { return static_cast<double>(cdf(complement(d, x))); }, law);
}

law_moments moments_of(const continuous_law& law) {
  return std::visit(
      [](const auto& d) {
        return law_moments{mean(d), variance(d), kurtosis(d), skewness(d)};
      },
      law);
}

std::pair<double, double> support_of(const continuous_law& law) {
  return std::visit(overloaded{[](const boost::math::normal_distribution<>&) {
                                 return std::pair<double, double>{-INFINITY, INFINITY};
                               },
                               [](const auto& d) {
                                 const auto s = support(d);
                                 return std::pair<double, double>{s.first, s.second};
                               }},
                    law);
}

bool upper_bound_excluded(const continuous_law& law) {
  return std::holds_alternative<boost::math::uniform_distribution<>>(law);
}

std::string describe(const continuous_law& law) {
  std::ostringstream text;
  text.precision(6);
  std::visit(overloaded{[&](const boost::math::uniform_distribution<>& d) {
                          text << "U[" << d.lower() << ", " << d.upper() << ")";
                        },
                        [&](const boost::math::normal_distribution<>& d) {
                          text << "N(" << d.mean() << ", " << d.standard_deviation() << "^2)";
                        },
                        [&](const truncated_normal_distribution<>& d) {
                          text << "TN(" << d.mean() << ", " << d.standard_deviation() << "^2; ["
                               << d.lower() << ", " << d.upper() << "])";
                        }},
             law);
  return text.str();
}

}  // namespace verinit::verify
