// Which scheme do these weights follow? Candidate schemes from the catalogue, each verified
// against the samples like any case, ranked by fit: what `verinit identify` prints and what a
// failed tensor's diagnosis adds ("they fit ...").
#pragma once

#include <string>
#include <vector>

#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::verify {

struct candidate {
  std::string scheme;  ///< the spec as tried ("kaiming_normal(mode=fan_out)")
  layout tensor_layout = layout::torch;
  std::string law;        ///< the theory's law with its numbers
  double statistic;       ///< the KS distance D of the samples to the law (0 or 1 for an exact law)
  double p_value;         ///< KS's p-value (1 or 0 for an exact law)
  double variance_ratio;  ///< sample variance / the law's; NaN without a variance test
  bool passed;            ///< every test of the case passed, at the options' alpha
};

/// The specs identify() tries on `shape`: with fans (2 or more dims), every fan scheme in
/// PyTorch's and Keras's spelling — xavier/glorot uniform and normal, kaiming uniform and
/// normal (fan_in, fan_out; gain sqrt(2); and gain 1 with fan_out, torch's spelling of
/// U(+-sqrt(3/fan_out))), lecun uniform and normal, torch_linear (torch's Linear/Conv default),
/// Keras's truncated variance_scaling (he_normal, glorot_normal, lecun_normal), orthogonal;
/// and for any shape N(0, s^2) for s = 0.02, 0.01, 0.001, 0.1 (the same law as torch's
/// trunc_normal_(std=s) cut at +-2, to double precision), timm's +-2 sd cut at 0.02, N(0, 1) (torch's Embedding), U(+-0.05) (Keras's
/// Embedding), U(+-1/sqrt(shape[0])) (a classifier's 1/sqrt(out_features)), zeros and ones.
std::vector<std::string> identify_specs(const tensor_shape& shape);

/// Verifies `samples` (whole tensors of `shape`, or any count for the i.i.d. specs) against
/// each of identify_specs(shape), in torch's layout and then, where it gives other fans,
/// Keras's; a spec that does not fit the shape is left out, and of candidates with the same
/// law (the same distribution and numbers) only the first is kept. Best first: those that pass,
/// then by KS distance. Each candidate is its own run at options.alpha (its own Holm family).
/// Throws std::invalid_argument for bad options.
std::vector<candidate> identify(const tensor_view& samples, const tensor_shape& shape,
                                const run_options& options);

/// For each failed case of `run` with samples in `request` (same order), the best candidate
/// on the tensor's first 2^14 values (fans from its whole shape) other than the case's own
/// law, appended to its diagnosis ("; the samples fit normal(std=0.02) on its first 16384
/// values"), or that none does: about one verification of 2^19 values per failed case,
/// whatever its size. Cases that passed or were sampled by verinit are left alone.
void add_identification(run_result& run, const run_request& request);

}  // namespace verinit::verify
