// A small but complete run for the report tests: passing i.i.d., sparse, exact and orthogonal
// cases, a failing --input-style case (unit-normal samples claimed to be he_normal), and a
// small signal-propagation experiment.
#pragma once

#include <vector>

#include "verinit/fill.hpp"
#include "verinit/scheme.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::test {

inline verify::run_result sample_run() {
  verify::run_request request;
  request.options.summaries = true;
  request.options.threads = 2;
  const auto torch = layout::torch;
  for (auto& spec : std::vector<verify::case_spec>{
           verify::case_spec::of("he_normal", {256, 512}, torch, dtype::float32, 200'000),
           verify::case_spec::of("truncated_normal(mean=0.2,std=0.5,a=0.5,b=3)", {100, 100}, torch,
                                 dtype::float64, 100'000),
           verify::case_spec::of("sparse(sparsity=0.1)", {100, 50}, torch, dtype::float32, 50'000),
           verify::case_spec::of("eye", {30, 20}, torch, dtype::float32, 0),
           verify::case_spec::of("orthogonal", {8, 8}, torch, dtype::float32, 100 * 64)})
    request.cases.push_back({std::move(spec), std::nullopt, "verinit"});
  static std::vector<float> wrong(100'000);  // the request views it: it must outlive run()
  fill_options fill;
  fill.seed = 5;
  verinit::fill(std::span<float>(wrong), tensor_shape{100, 1000}, parse_scheme("normal"), fill);
  const tensor_shape shape{100, 1000};
  request.cases.push_back({verify::case_spec::of("he_normal", shape),
                           view_of(std::span<const float>(wrong), shape), "wrong.npy"});
  verify::propagation_options small;
  small.depth = 20;
  small.width = 64;
  small.batch = 32;
  small.seeds = 1;  // too small to be reliable: the reports need not care whether it passes
  request.propagation = small;
  return verify::run(request);
}

}  // namespace verinit::test
