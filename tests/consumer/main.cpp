// Samples He-normal weights through the installed package, checks their std, verifies them
// with the installed verifier and writes the results document with the installed reports.
#include <cmath>
#include <cstdio>
#include <span>
#include <verinit/reports/json.hpp>
#include <verinit/verify/runner.hpp>
#include <verinit/verinit.hpp>

int main() {
  const verinit::tensor_shape shape{256, 512};
  const auto weights = verinit::sample<float>(shape, verinit::parse_scheme("he_normal"));
  double squares = 0;
  for (const float w : weights) squares += static_cast<double>(w) * w;
  const double std = std::sqrt(squares / static_cast<double>(weights.size()));
  std::printf("he_normal std %.5f (law 0.0625)\n", std);
  if (std::fabs(std - 0.0625) >= 0.001) return 1;  // sampling error ~ 0.0625/sqrt(2*131072)

  verinit::verify::run_result run;
  run.cases.push_back(verinit::verify::check_samples(
      std::span<const float>(weights), shape, verinit::layout::torch, "he_normal", "consumer"));
  verinit::verify::decide(run);
  const std::string json = verinit::reports::to_json(run);
  std::printf("verified: %s, %zu bytes of JSON\n", run.passed ? "pass" : "FAIL", json.size());
  return run.passed && verinit::reports::from_json(json).cases.size() == 1 ? 0 : 1;
}
