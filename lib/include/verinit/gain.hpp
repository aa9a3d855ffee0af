// Recommended gains for each nonlinearity, as PyTorch's torch.nn.init.calculate_gain.
//
// linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu(slope):
// sqrt(2 / (1 + slope^2)) with slope 0.01 when none is given (He et al. 2015, eq. 15);
// selu: 3/4 (PyTorch's choice, see pytorch/pytorch#53694).
#pragma once

#include <optional>
#include <string_view>

namespace verinit {

enum class nonlinearity {
  linear,
  conv1d,
  conv2d,
  conv3d,
  conv_transpose1d,
  conv_transpose2d,
  conv_transpose3d,
  sigmoid,
  tanh,
  relu,
  leaky_relu,
  selu,
};

/// Parses PyTorch's spelling ("leaky_relu", "conv2d", ...).
/// Throws std::invalid_argument naming the text and the accepted names.
nonlinearity parse_nonlinearity(std::string_view text);
std::string_view to_string(nonlinearity value) noexcept;

/// The recommended gain. `param` is the negative slope of leaky_relu (default 0.01) and must
/// be absent for every other nonlinearity. Throws std::invalid_argument for a non-finite
/// slope or a param given to a nonlinearity that takes none.
double calculate_gain(nonlinearity nonlinearity, std::optional<double> param = std::nullopt);

}  // namespace verinit
