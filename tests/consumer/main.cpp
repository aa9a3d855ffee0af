// Samples He-normal weights through the installed package, checks their std, verifies them
// with the installed verifier, writes the results document with the installed reports and an
// .npy file with the installed I/O unit.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <verinit/io/npy.hpp>
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

  verinit::verify::run_request request;
  request.cases.push_back({verinit::verify::case_spec::of("he_normal", shape),
                           verinit::view_of(std::span<const float>(weights), shape), "consumer"});
  const verinit::verify::run_result run = verinit::verify::run(request);
  // verinit::io writes the weights as .npy and reads them back.
  const auto path = std::filesystem::temp_directory_path() / "verinit_consumer.npy";
  verinit::io::write_npy(path, verinit::view_of(std::span<const float>(weights), shape));
  const verinit::tensor_buffer back = verinit::io::read_npy(path);
  std::filesystem::remove(path);
  if (back.view().elements<float>()[7] != weights[7]) return 1;
  std::printf("verinit %s\n", std::string(verinit::version).c_str());
  const std::string json = verinit::reports::to_json(run);
  std::printf("verified: %s, %zu bytes of JSON\n", run.passed ? "pass" : "FAIL", json.size());
  return run.passed && verinit::reports::from_json(json).cases.size() == 1 ? 0 : 1;
}
