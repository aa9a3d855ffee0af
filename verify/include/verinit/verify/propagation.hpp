// Signal propagation: what initialization is for. A unit-variance batch is pushed through a
// deep MLP whose weights come from verinit's schemes, and the variance of the pre-activations
// (forward) and of the gradients with respect to them (backward) is measured per layer.
//
// Network: x_0 ~ N(0, 1) of batch x width; z_l = W_l x_{l-1} (no bias), x_l = phi(z_l),
// l = 1..depth, every W_l width x width. Backward: dL/dz_depth ~ N(0, 1) times phi'(z_depth),
// dL/dz_{l-1} = (W_l^T dL/dz_l) phi'(z_{l-1}).
//
// Criterion (forward, as a verdict per configuration): r = Var(z_depth) / Var(z_10), averaged
// over seeds, compares the last layer with the regime the network settles in after 10 layers
// (tanh at gain 5/3 settles at a fixed point near 1.2, not at 1). Verdicts, first that holds:
//   symmetric  - every hidden unit computes the same value (zero or constant weights);
//   exploding  - the pre-activations overflowed float32, or r > 2;
//   saturating - tanh with more than half the units at |tanh(z)| > 0.99 in the last layer;
//   vanishing  - r < 1/2;
//   stable     - otherwise.
// The gradient ratio Var(dL/dz_1) / Var(dL/dz_{depth-9}) is reported, not judged: at width
// 512 tanh at gain 5/3 lies in the chaotic phase where gradients grow ~1.2x a layer
// (S. S. Schoenholz et al., "Deep information propagation", ICLR 2017), and SELU gradients
// grow mildly too; the forward criterion is the one the schemes are derived from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace verinit::verify {

enum class activation { relu, tanh, selu };
std::string_view to_string(activation value) noexcept;
/// Throws std::invalid_argument for anything but "relu", "tanh", "selu".
activation parse_activation(std::string_view text);

struct propagation_config {
  std::string label;   ///< "He + ReLU"
  std::string scheme;  ///< verinit spec of every layer's weights
  activation act = activation::relu;
  std::string expected;  ///< the verdict this configuration should get
};

/// The standard set: the matched pairs He + ReLU, Xavier + tanh at gain 5/3, LeCun + SELU
/// (expected stable), and zeros, a constant, normal(0, 0.01), normal(0, 1) with ReLU and with
/// tanh, Xavier (gain 1) with tanh and with ReLU.
std::vector<propagation_config> standard_propagation_configs();

struct propagation_options {
  int depth = 50;  ///< >= 20 (the criterion compares with layer 10)
  int width = 512;
  int batch = 256;
  int seeds = 3;  ///< independent networks per configuration, averaged
  std::uint64_t seed = 20'261'122;
  int threads = 0;  ///< 0: OpenMP's default; configurations x seeds run in parallel
};

struct propagation_case {
  propagation_config config;
  /// Per layer 1..depth, averaged over seeds; cut at the first layer where a seed overflowed.
  std::vector<double> forward;    ///< Var(z_l)
  std::vector<double> backward;   ///< Var(dL/dz_l) (empty after an overflow)
  std::vector<double> saturated;  ///< fraction of |tanh(z_l)| > 0.99 (tanh only)
  bool overflowed = false;
  bool symmetric = false;     ///< all hidden units identical in every seed
  double forward_ratio = 0;   ///< mean over seeds of Var(z_depth) / Var(z_10); NaN if overflowed
  double backward_ratio = 0;  ///< mean over seeds of Var(dL/dz_1) / Var(dL/dz_{depth-9})
  std::string verdict;
  bool passed = false;  ///< verdict == config.expected
};

struct propagation_result {
  propagation_options options;
  std::vector<propagation_case> cases;
  bool passed = true;
  double seconds = 0;
};

/// Runs every configuration. Throws std::invalid_argument for options out of range or a bad
/// scheme spec.
propagation_result propagate(const std::vector<propagation_config>& configs,
                             const propagation_options& options);

/// The verdict from the measured quantities (see the criterion above).
std::string propagation_verdict(const propagation_case& c);

}  // namespace verinit::verify
