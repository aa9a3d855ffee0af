// Each scheme's element law from its formula (see scheme.cpp's catalog for the formulas).
#include "verinit/law.hpp"

#include <cmath>
#include <optional>

#include "verinit/detail/check.hpp"
#include "verinit/gain.hpp"

namespace verinit {
namespace {

double fan_of(const scheme& s, const fans& f, std::string_view mode) {
  const auto check = [&](std::string_view label, double value) {
    if (!(value > 0)) detail::throw_invalid(s.name(), label, detail::format_number(value), "> 0");
    return value;
  };
  if (mode == "fan_in") return check("fan_in", static_cast<double>(f.fan_in));
  if (mode == "fan_out") return check("fan_out", static_cast<double>(f.fan_out));
  return check("fan_avg", (static_cast<double>(f.fan_in) + static_cast<double>(f.fan_out)) / 2);
}

element_law symmetric_uniform(double bound) { return uniform_law{-bound, bound}; }
element_law centred_normal(double std) { return normal_law{0.0, std}; }

}  // namespace

bool is_elementwise(scheme_kind kind) noexcept {
  switch (kind) {
    case scheme_kind::eye:
    case scheme_kind::dirac:
    case scheme_kind::sparse:
    case scheme_kind::orthogonal:
      return false;
    default:
      return true;
  }
}

element_law resolve_law(const scheme& s, const fans& f) {
  switch (s.kind()) {
    case scheme_kind::zeros:
      return constant_law{0.0};
    case scheme_kind::ones:
      return constant_law{1.0};
    case scheme_kind::constant:
      return constant_law{s.number("value")};
    case scheme_kind::uniform:
      return uniform_law{s.number("a"), s.number("b")};
    case scheme_kind::normal:
      return normal_law{s.number("mean"), s.number("std")};
    case scheme_kind::truncated_normal:
      return truncated_normal_law{s.number("mean"), s.number("std"), s.number("a"), s.number("b")};
    case scheme_kind::xavier_uniform:  // Glorot & Bengio 2010, eq. 16
      return symmetric_uniform(s.number("gain") * std::sqrt(6.0 / (2 * fan_of(s, f, "fan_avg"))));
    case scheme_kind::xavier_normal:
      return centred_normal(s.number("gain") * std::sqrt(2.0 / (2 * fan_of(s, f, "fan_avg"))));
    case scheme_kind::kaiming_uniform:
    case scheme_kind::kaiming_normal: {  // He et al. 2015, eq. 10 and 14
      const nonlinearity nl = parse_nonlinearity(s.choice("nonlinearity"));
      const std::optional<double> slope =
          nl == nonlinearity::leaky_relu ? std::optional<double>(s.number("a")) : std::nullopt;
      const double std = calculate_gain(nl, slope) / std::sqrt(fan_of(s, f, s.choice("mode")));
      if (s.kind() == scheme_kind::kaiming_normal) return centred_normal(std);
      return symmetric_uniform(std::sqrt(3.0) * std);
    }
    case scheme_kind::he_uniform:
      return symmetric_uniform(std::sqrt(6.0 / fan_of(s, f, "fan_in")));
    case scheme_kind::he_normal:
      return centred_normal(std::sqrt(2.0 / fan_of(s, f, "fan_in")));
    case scheme_kind::lecun_uniform:
      return symmetric_uniform(std::sqrt(3.0 / fan_of(s, f, "fan_in")));
    case scheme_kind::lecun_normal:
      return centred_normal(std::sqrt(1.0 / fan_of(s, f, "fan_in")));
    case scheme_kind::variance_scaling: {
      const double variance = s.number("scale") / fan_of(s, f, s.choice("mode"));
      const std::string& distribution = s.choice("distribution");
      if (distribution == "uniform") return symmetric_uniform(std::sqrt(3.0 * variance));
      if (distribution == "normal") return centred_normal(std::sqrt(variance));
      const double sigma = std::sqrt(variance) / truncated_normal_2sigma_std;
      return truncated_normal_law{0.0, sigma, -2 * sigma, 2 * sigma};
    }
    default:
      detail::throw_invalid("resolve_law", "scheme", "'" + std::string(s.name()) + "'",
                            "an elementwise scheme (not eye, dirac, sparse or orthogonal)");
  }
}

}  // namespace verinit
