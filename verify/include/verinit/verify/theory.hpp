// The verifier's own theory: what each scheme's weights must look like, from the literature.
//
// Written from the papers and the frameworks' documented semantics, never by calling lib/'s
// formula code (fans, gains, laws are all recomputed here), so that a formula bug in lib/
// makes the verifier fail instead of agreeing with it. Only the spec parser is shared.
//   Glorot & Bengio 2010, eq. 16: Var = 2/(fan_in + fan_out), uniform bound sqrt(3 Var).
//   He et al. 2015, eq. 10 and 14: Var = 2/((1 + a^2) fan) for (leaky) ReLU.
//   LeCun et al. 1998, "Efficient BackProp", sec. 4.6: Var = 1/fan_in.
//   Saxe et al. 2014 and Mezzadri 2007: orthogonal = gain * Haar.
//   Martens 2010 and torch.nn.init.sparse_: ceil(sparsity * rows) zeros per column.
//   PyTorch torch.nn.init: gains (tanh 5/3, selu 3/4), trunc_normal_'s absolute bounds.
//   Keras VarianceScaling: Var = scale/fan; truncated_normal cut at +-2 sigma with sigma
//   chosen so that the truncated variance is scale/fan.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"
#include "verinit/verify/law.hpp"

namespace verinit::verify {

enum class expectation_kind {
  continuous,  ///< i.i.d. from `law`
  constant,    ///< every element == value
  eye,         ///< identity
  dirac,       ///< conv identity with `groups`
  sparse,      ///< exactly `zeros_per_input` zeros per input unit, the rest i.i.d. from `law`
  orthogonal,  ///< gain * Haar-random orthogonal (rows x cols flattened)
};

struct expectation {
  expectation_kind kind = expectation_kind::continuous;
  std::optional<any_law> law;        ///< continuous, sparse (its non-zeros)
  double value = 0;                  ///< constant
  double gain = 1;                   ///< orthogonal
  std::int64_t groups = 1;           ///< dirac
  std::int64_t zeros_per_input = 0;  ///< sparse
  std::int64_t rows = 0, cols = 0;   ///< orthogonal: the flattened matrix
  std::string formula;  ///< the law with its numbers, e.g. "N(0, 2/fan_in), fan_in = 512"
};

/// Fans as the verifier computes them (torch: [out, in, *k]; keras: [*k, in, out]).
struct theory_fans {
  double fan_in, fan_out;
};
theory_fans fans_from_shape(std::span<const std::int64_t> shape, layout layout);

/// The expectation for scheme `s` on a tensor of `shape` in `layout`. Throws
/// std::invalid_argument when the scheme cannot apply to the shape.
expectation theory_for(const scheme& s, std::span<const std::int64_t> shape, layout layout);

}  // namespace verinit::verify
