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
  verify::run_result run;
  run.options.summaries = true;
  run.threads_used = 2;
  const auto torch = layout::torch;
  for (const verify::case_spec& spec : std::vector<verify::case_spec>{
           {"he_normal", {256, 512}, torch, verify::dtype::float32, 200'000},
           {"truncated_normal(mean=0.2,std=0.5,a=0.5,b=3)",
            {100, 100},
            torch,
            verify::dtype::float64,
            100'000},
           {"sparse(sparsity=0.1)", {100, 50}, torch, verify::dtype::float32, 50'000},
           {"eye", {30, 20}, torch, verify::dtype::float32, 0},
           {"orthogonal", {8, 8}, torch, verify::dtype::float32, 100 * 64}})
    run.cases.push_back(verify::run_case(spec, run.options));
  std::vector<float> wrong(100'000);
  fill_options fill;
  fill.seed = 5;
  verinit::fill(std::span<float>(wrong), tensor_shape{100, 1000}, parse_scheme("normal"), fill);
  const std::vector<std::int64_t> shape{100, 1000};
  run.cases.push_back(verify::check_samples(std::span<const float>(wrong), shape, torch,
                                            "he_normal", "wrong.npy", true));
  verify::propagation_options small;
  small.depth = 20;
  small.width = 64;
  small.batch = 32;
  small.seeds = 1;  // too small to be reliable: the reports need not care whether it passes
  run.propagation = verify::propagate(verify::standard_propagation_configs(), small);
  verify::decide(run);
  return run;
}

}  // namespace verinit::test
