// The element-wise law a scheme samples from on a given tensor: what lib/ computes from the
// scheme's formula and the tensor's fans. (The verifier keeps its own, independent theory.)
#pragma once

#include <variant>

#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"

namespace verinit {

/// Every element equals `value`.
struct constant_law {
  double value;
};
/// Uniform on [a, b).
struct uniform_law {
  double a, b;
};
/// Normal(mean, std^2).
struct normal_law {
  double mean, std;
};
/// Normal(mean, std^2) conditioned on [a, b] (absolute bounds, like torch.nn.init.trunc_normal_).
struct truncated_normal_law {
  double mean, std, a, b;
};

using element_law = std::variant<constant_law, uniform_law, normal_law, truncated_normal_law>;

/// The standard deviation of N(0, 1) conditioned on [-2, 2]: Keras's VarianceScaling divides
/// sigma by it so that the truncated law's variance is scale/fan (keras/initializers).
inline constexpr double truncated_normal_2sigma_std = 0.87962566103423978;

/// True for the schemes whose elements are i.i.d. (or constant); false for eye, dirac, sparse
/// and orthogonal, whose elements depend on their position or on each other.
bool is_elementwise(scheme_kind kind) noexcept;

/// The law of every element of a tensor with fans `f`. Fans are ignored by schemes that do not
/// use them. Throws std::invalid_argument for a scheme that is not elementwise, or when a
/// fan the scheme divides by is 0.
element_law resolve_law(const scheme& s, const fans& f);

}  // namespace verinit
