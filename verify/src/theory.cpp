// The theory table: see the header for the sources of each formula.
#include "verinit/verify/theory.hpp"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace verinit::verify {
namespace {

std::string number(double v) {
  std::ostringstream text;
  text.precision(6);
  text << v;
  return text.str();
}

// Gains, from PyTorch's calculate_gain documentation (He et al. 2015 for the rectifiers).
double gain_for(const std::string& nonlinearity, double slope) {
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + slope * slope));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  return 1.0;  // linear, conv*, sigmoid
}

// The standard deviation of N(0, 1) truncated to [-2, 2], computed from the truncated normal's
// moments rather than copied from Keras's 0.87962566103423978.
double truncated_std_two_sigma() {
  static const double value =
      std::sqrt(variance(truncated_normal_distribution<>(0.0, 1.0, -2.0, 2.0)));
  return value;
}

expectation continuous(any_law law, std::string formula) {
  expectation e;
  e.kind = expectation_kind::continuous;
  e.law = std::move(law);
  e.formula = std::move(formula);
  return e;
}

expectation symmetric_uniform(double variance, std::string formula) {
  const double bound = std::sqrt(3 * variance);
  return continuous(boost::math::uniform_distribution<>(-bound, bound),
                    formula + ": U(+-" + number(bound) + ")");
}

expectation centred_normal(double variance, std::string formula) {
  const double sd = std::sqrt(variance);
  return continuous(boost::math::normal_distribution<>(0.0, sd),
                    formula + ": N(0, " + number(sd) + "^2)");
}

double fan_by_mode(const theory_fans& f, const std::string& mode) {
  if (mode == "fan_in") return f.fan_in;
  if (mode == "fan_out") return f.fan_out;
  return (f.fan_in + f.fan_out) / 2;
}

}  // namespace

theory_fans fans_from_shape(std::span<const std::int64_t> shape, layout layout) {
  if (shape.size() < 2)
    throw std::invalid_argument("theory: a fan-based scheme needs a tensor of >= 2 dims, got " +
                                std::to_string(shape.size()));
  double kernel = 1;
  const std::size_t rank = shape.size();
  if (layout == layout::torch) {
    for (std::size_t i = 2; i < rank; ++i) kernel *= static_cast<double>(shape[i]);
    return {static_cast<double>(shape[1]) * kernel, static_cast<double>(shape[0]) * kernel};
  }
  for (std::size_t i = 0; i + 2 < rank; ++i) kernel *= static_cast<double>(shape[i]);
  return {static_cast<double>(shape[rank - 2]) * kernel,
          static_cast<double>(shape[rank - 1]) * kernel};
}

expectation theory_for(const scheme& s, std::span<const std::int64_t> shape, layout layout) {
  const auto fans = [&] { return fans_from_shape(shape, layout); };
  const auto fan_text = [&](const char* which, double fan) {
    return std::string(which) + " = " + number(fan);
  };
  expectation e;
  switch (s.kind()) {
    case scheme_kind::zeros:
    case scheme_kind::ones:
    case scheme_kind::constant:
      e.kind = expectation_kind::constant;
      e.value = s.kind() == scheme_kind::zeros  ? 0.0
                : s.kind() == scheme_kind::ones ? 1.0
                                                : s.number("value");
      e.formula = "W = " + number(e.value);
      return e;
    case scheme_kind::eye:
      e.kind = expectation_kind::eye;
      e.formula = "W = I";
      return e;
    case scheme_kind::dirac:
      e.kind = expectation_kind::dirac;
      e.groups = static_cast<std::int64_t>(s.number("groups"));
      e.formula = "conv identity, groups = " + std::to_string(e.groups);
      return e;
    case scheme_kind::sparse: {
      if (shape.size() != 2) throw std::invalid_argument("theory: sparse needs a 2-D tensor");
      e.kind = expectation_kind::sparse;
      const double outputs = static_cast<double>(layout == layout::torch ? shape[0] : shape[1]);
      e.zeros_per_input = static_cast<std::int64_t>(std::ceil(s.number("sparsity") * outputs));
      e.law = boost::math::normal_distribution<>(0.0, s.number("std"));
      e.formula = std::to_string(e.zeros_per_input) + " zeros per input unit, others N(0, " +
                  number(s.number("std")) + "^2)";
      return e;
    }
    case scheme_kind::orthogonal: {
      e.kind = expectation_kind::orthogonal;
      e.gain = s.number("gain");
      const std::int64_t total = element_count(shape);  // checked: dims >= 1, no overflow
      e.rows = layout == layout::torch ? shape[0] : total / shape.back();
      e.cols = total / e.rows;
      e.formula = number(e.gain) + " * Haar orthogonal " + std::to_string(e.rows) + "x" +
                  std::to_string(e.cols);
      return e;
    }
    case scheme_kind::uniform:
      return continuous(boost::math::uniform_distribution<>(s.number("a"), s.number("b")),
                        "U[" + number(s.number("a")) + ", " + number(s.number("b")) + ")");
    case scheme_kind::normal:
      return continuous(boost::math::normal_distribution<>(s.number("mean"), s.number("std")),
                        "N(" + number(s.number("mean")) + ", " + number(s.number("std")) + "^2)");
    case scheme_kind::truncated_normal:
      return continuous(truncated_normal_distribution<>(s.number("mean"), s.number("std"),
                                                        s.number("a"), s.number("b")),
                        "TN(" + number(s.number("mean")) + ", " + number(s.number("std")) +
                            "^2) on [" + number(s.number("a")) + ", " + number(s.number("b")) +
                            "]");
    case scheme_kind::xavier_uniform:
    case scheme_kind::xavier_normal: {
      const auto f = fans();
      const double gain = s.number("gain");
      const double variance = gain * gain * 2 / (f.fan_in + f.fan_out);
      const std::string formula =
          "Glorot: Var = gain^2 2/(fan_in+fan_out), gain = " + number(gain) + ", " +
          fan_text("fan_in", f.fan_in) + ", " + fan_text("fan_out", f.fan_out);
      return s.kind() == scheme_kind::xavier_uniform ? symmetric_uniform(variance, formula)
                                                     : centred_normal(variance, formula);
    }
    case scheme_kind::kaiming_uniform:
    case scheme_kind::kaiming_normal: {
      const auto f = fans();
      const std::string& mode = s.choice("mode");
      const double fan = mode == "fan_in" ? f.fan_in : f.fan_out;
      const double gain = gain_for(s.choice("nonlinearity"), s.number("a"));
      const double variance = gain * gain / fan;
      const std::string formula =
          "He: Var = gain^2/fan, gain = " + number(gain) + ", " + fan_text(mode.c_str(), fan);
      return s.kind() == scheme_kind::kaiming_uniform ? symmetric_uniform(variance, formula)
                                                      : centred_normal(variance, formula);
    }
    case scheme_kind::he_uniform:
    case scheme_kind::he_normal: {
      const double fan = fans().fan_in;
      const std::string formula = "He: Var = 2/fan_in, " + fan_text("fan_in", fan);
      return s.kind() == scheme_kind::he_uniform ? symmetric_uniform(2 / fan, formula)
                                                 : centred_normal(2 / fan, formula);
    }
    case scheme_kind::lecun_uniform:
    case scheme_kind::lecun_normal: {
      const double fan = fans().fan_in;
      const std::string formula = "LeCun: Var = 1/fan_in, " + fan_text("fan_in", fan);
      return s.kind() == scheme_kind::lecun_uniform ? symmetric_uniform(1 / fan, formula)
                                                    : centred_normal(1 / fan, formula);
    }
    case scheme_kind::variance_scaling: {
      const std::string& mode = s.choice("mode");
      const double fan = fan_by_mode(fans(), mode);
      const double variance = s.number("scale") / fan;
      const std::string formula =
          "VarianceScaling: Var = scale/fan, scale = " + number(s.number("scale")) + ", " +
          fan_text(mode.c_str(), fan);
      const std::string& distribution = s.choice("distribution");
      if (distribution == "uniform") return symmetric_uniform(variance, formula);
      if (distribution == "normal") return centred_normal(variance, formula);
      const double sigma = std::sqrt(variance) / truncated_std_two_sigma();
      return continuous(truncated_normal_distribution<>(0.0, sigma, -2 * sigma, 2 * sigma),
                        formula + ": TN(0, " + number(sigma) + "^2) on +-2 sigma");
    }
  }
  throw std::invalid_argument("theory: no entry for scheme " + std::string(s.name()));
}

}  // namespace verinit::verify
