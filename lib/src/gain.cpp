// Gains of torch.nn.init.calculate_gain.
#include "verinit/gain.hpp"

#include <array>
#include <cmath>
#include <string>
#include <utility>

#include "verinit/detail/check.hpp"

namespace verinit {
namespace {

constexpr std::array<std::pair<std::string_view, nonlinearity>, 12> names{{
    {"linear", nonlinearity::linear},
    {"conv1d", nonlinearity::conv1d},
    {"conv2d", nonlinearity::conv2d},
    {"conv3d", nonlinearity::conv3d},
    {"conv_transpose1d", nonlinearity::conv_transpose1d},
    {"conv_transpose2d", nonlinearity::conv_transpose2d},
    {"conv_transpose3d", nonlinearity::conv_transpose3d},
    {"sigmoid", nonlinearity::sigmoid},
    {"tanh", nonlinearity::tanh},
    {"relu", nonlinearity::relu},
    {"leaky_relu", nonlinearity::leaky_relu},
    {"selu", nonlinearity::selu},
}};

}  // namespace

nonlinearity parse_nonlinearity(std::string_view text) {
  for (const auto& [name, value] : names)
    if (name == text) return value;
  std::string expected = "one of";
  for (const auto& [name, value] : names) expected.append(" ").append(name);
  detail::throw_invalid("calculate_gain", "nonlinearity", "'" + std::string(text) + "'", expected);
}

std::string_view to_string(nonlinearity value) noexcept {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  return "?";
}

double calculate_gain(nonlinearity nonlinearity, std::optional<double> param) {
  if (param && nonlinearity != nonlinearity::leaky_relu)
    detail::throw_invalid("calculate_gain", "param", detail::format_number(*param),
                          "absent for " + std::string(to_string(nonlinearity)) +
                              " (only leaky_relu takes a negative slope)");
  switch (nonlinearity) {
    case nonlinearity::tanh:
      return 5.0 / 3.0;
    case nonlinearity::relu:
      return std::sqrt(2.0);
    case nonlinearity::leaky_relu: {
      const double slope = param.value_or(0.01);
      detail::check_finite("calculate_gain", "negative_slope", slope);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case nonlinearity::selu:
      return 0.75;
    default:  // linear, conv*, sigmoid
      return 1.0;
  }
}

}  // namespace verinit
