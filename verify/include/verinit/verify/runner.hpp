// Runs the verification of schemes: sample (through lib/ or from a file), test against the
// theory, decide the whole run at a family-wise alpha.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "verinit/shape.hpp"
#include "verinit/verify/propagation.hpp"
#include "verinit/verify/result.hpp"
#include "verinit/verify/summary.hpp"

namespace verinit::verify {

enum class dtype { float32, float64 };
dtype parse_dtype(std::string_view text);
std::string_view to_string(dtype value) noexcept;

/// One case: a scheme on a tensor shape, and how many weights to draw (whole tensors, with
/// seeds derived from the run's seed; 0 means one tensor).
struct case_spec {
  std::string scheme;
  tensor_shape shape;
  layout tensor_layout = layout::torch;
  dtype type = dtype::float32;
  std::int64_t samples = 0;
  /// > 1: that many independent replications of `samples`, one in memory at a time, decided
  /// by two-level tests (each test's p-values across replications against U(0, 1) by KS, as
  /// TestU01 does; exact checks and repeat counts are summed).
  std::int64_t replications = 1;
};

struct case_result {
  case_spec spec;
  std::string canonical;           ///< the scheme's canonical spec
  std::string formula;             ///< the theory's law, with its numbers
  std::string source = "verinit";  ///< "verinit", or the input file
  std::int64_t n = 0;              ///< samples tested
  std::vector<test_result> tests;
  bool passed = true;
  double sample_seconds = 0, test_seconds = 0;
  /// What this run could detect with 99% power at its n and alpha (NaN where not applicable):
  /// a relative variance error and a mean shift in standard deviations.
  double detectable_variance_error = NAN, detectable_mean_shift = NAN;
  /// For reports (run_options::summaries): the samples against the law (the non-zeros of a
  /// sparse scheme, the entries of orthogonal matrices); none for exact schemes.
  std::optional<sample_summary> summary;
};

struct run_options {
  std::uint64_t seed = 20'261'122;
  int threads = 0;         ///< 0: OpenMP's default
  double alpha = 1e-6;     ///< family-wise error rate of the whole run
  bool summaries = false;  ///< compute each case's sample_summary (for reports)
  /// Memory for a case's samples (and the one working copy the in-memory tests need). An
  /// i.i.d. case beyond it is verified streaming (streaming.hpp): sampled in pieces of a
  /// quarter of it, never held whole; other schemes beyond it are an input error.
  std::int64_t memory_bytes = std::int64_t{2} << 30;
};

struct run_result {
  run_options options;
  int threads_used = 0;
  bool passed = true;
  std::size_t family_size = 0;
  std::vector<case_result> cases;
  /// The signal-propagation experiment, where the run includes it; its verdict counts.
  std::optional<propagation_result> propagation;
};

/// The cases of a named battery: "smoke" (CI gate, >= 10^6 per scheme), "standard" (the
/// README's main job, >= 10^7 per scheme), "large" (10^9 per scheme streaming, and two-level
/// replications). Throws
/// std::invalid_argument for another name.
std::vector<case_spec> battery(std::string_view name);
/// Whether the named battery also runs standard_propagation_configs() (standard does).
bool battery_includes_propagation(std::string_view name) noexcept;

/// Samples `spec` with verinit's library and runs every test its theory calls for.
case_result run_case(const case_spec& spec, const run_options& options);

/// Tests samples made by anything else against scheme `scheme_spec` on `shape`.
case_result check_samples(std::span<const float> samples, std::span<const std::int64_t> shape,
                          layout layout, const std::string& scheme_spec, const std::string& source,
                          bool summarize = false);
case_result check_samples(std::span<const double> samples, std::span<const std::int64_t> shape,
                          layout layout, const std::string& scheme_spec, const std::string& source,
                          bool summarize = false);

/// Decides every test of the run (Holm-Bonferroni over all statistical tests at
/// options.alpha, exact checks by themselves), sets each case's verdict, power statement and
/// summary's KS band, and the run's.
void decide(run_result& run);

}  // namespace verinit::verify
