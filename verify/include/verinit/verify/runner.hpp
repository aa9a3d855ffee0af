// A verification run: the library's entry point. run() takes a request (cases of schemes to
// sample, or of samples to test, and the options), samples or reads each case, tests it
// against the theory, runs signal propagation if asked, and decides the whole run at a
// family-wise alpha. The command line and the Python package only fill a request and print
// the result.
//
// Determinism: every number of a run_result (timings aside) is the same bits on any thread
// count; `threads` is passed into every parallel region, never set as global OpenMP state.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verinit/dtype.hpp"
#include "verinit/scheme.hpp"
#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"
#include "verinit/verify/parts.hpp"
#include "verinit/verify/propagation.hpp"
#include "verinit/verify/result.hpp"
#include "verinit/verify/summary.hpp"
#include "verinit/verify/tolerance.hpp"

namespace verinit::verify {

/// A scheme on a tensor shape, and how many weights to draw.
struct case_spec {
  verinit::scheme scheme;  ///< what the weights must follow
  std::string spelling;    ///< the scheme as written ("glorot_normal(gain=1.5)")
  tensor_shape shape;      ///< the tensor whose fans define the law
  layout tensor_layout = layout::torch;
  dtype type = dtype::float32;  ///< of sampled weights (for given samples: theirs)
  /// Weights to draw, as whole tensors with seeds derived from the run's seed; 0: one tensor.
  std::int64_t samples = 0;
  /// > 1: that many independent replications of `samples`, one in memory at a time, decided by
  /// two-level tests (each test's p-values across replications against U(0, 1) by KS, as
  /// TestU01 does; exact checks and repeat counts are summed).
  std::int64_t replications = 1;

  /// The case of `spec` (parsed here; throws std::invalid_argument for a bad spec).
  static case_spec of(std::string_view spec, tensor_shape shape,
                      layout tensor_layout = layout::torch, dtype type = dtype::float32,
                      std::int64_t samples = 0, std::int64_t replications = 1);
};

/// One case of a request: sampled by verinit, or given samples tested against spec.scheme on
/// spec.shape (which fixes the fans; the samples may be any number of elements for an i.i.d.
/// scheme, whole tensors of spec.shape for the others).
struct case_request {
  case_spec spec;
  std::optional<tensor_view> samples;  ///< not owned: must outlive run()
  std::string source = "verinit";      ///< where the samples came from (a file name)
  std::string tensor = {};             ///< the tensor's name in a model, if any
  std::string rule = {};               ///< the rule that chose spec for it, if any
  std::string origin = {};             ///< where its law comes from (the rule's origin)
  /// Equivalence margins (tolerance.hpp); none: the exact law. Not with replications > 1.
  verify::tolerance tolerance = {};
  /// A tensor held in parts by several processes, reduced where they live (distributed.hpp):
  /// verified from these instead of samples. Their statistical tests are the parts' merged; exact
  /// checks of the parts are added: "parts_cover" (the parts hold every element once),
  /// "parts_finite" (naming parts with non-finite values), "parts_distinct" (an i.i.d.
  /// law's parts never bitwise equal: every rank seeded alike) and "parts_replicas" (each replica
  /// equals its part).
  std::vector<tensor_part> parts = {};
};

struct run_options {
  std::uint64_t seed = 20'261'122;
  int threads = 0;         ///< in [0, 4096]; 0: OpenMP's default, resolved once by run()
  double alpha = 1e-6;     ///< family-wise error rate of the whole run, in (0, 1)
  bool summaries = false;  ///< compute each case's sample_summary (for reports)
  /// Memory for a case's samples (and the one working copy the in-memory tests need). An
  /// i.i.d. case beyond it is verified streaming (stream_state.hpp): sampled in pieces of a
  /// quarter of it, never held whole; other schemes beyond it are an input error.
  std::int64_t memory_bytes = std::int64_t{2} << 30;
};

struct run_request {
  std::vector<case_request> cases;
  /// Also run standard_propagation_configs() with these options (the run's seed and threads
  /// replace theirs).
  std::optional<propagation_options> propagation;
  run_options options;
  /// Called before each case (and before propagation: then `what` is "signal propagation"),
  /// with the case's index. Small cases of given samples run side by side on one thread each
  /// (from several threads, one call at a time), and are reported in the order they start.
  std::function<void(std::size_t index, std::size_t total, std::string_view what)> progress;
  /// A model's tensors that were not verified (model.hpp's plan): carried into the result. An
  /// unmatched tensor fails the run.
  std::vector<std::string> unmatched, skipped;
  std::vector<std::pair<std::string, std::string>> tied;  ///< (tensor, the one verified for it)
  std::vector<std::string> notes;
};

struct case_result {
  case_spec spec;
  std::string formula;             ///< the theory's law, with its numbers
  std::string source = "verinit";  ///< "verinit", or the input file
  std::string tensor, rule;        ///< as in the case_request (empty when not given)
  std::string origin;              ///< as in the case_request: the call that set the law
  /// The given samples' own shape where it is not spec.shape (a model's tensor whose fans come
  /// from another tensor or the rule's fan_in/fan_out: a bias); empty otherwise.
  tensor_shape samples_shape;
  verify::tolerance tolerance;  ///< as in the case_request, applied to `tests`
  std::int64_t n = 0;           ///< samples tested
  std::vector<test_result> tests;
  bool passed = true;
  double sample_seconds = 0, test_seconds = 0;
  /// What this run could detect with 99% power at its n and alpha (NaN where not applicable):
  /// a relative variance error and a mean shift in standard deviations (beyond the tolerance,
  /// which is added).
  double detectable_variance_error = NAN, detectable_mean_shift = NAN;
  /// For reports (run_options::summaries): the samples against the law (the non-zeros of a
  /// sparse scheme, the entries of orthogonal matrices); none for exact schemes.
  std::optional<sample_summary> summary;
  /// For a failed case: what it looks like (diagnosis.hpp), set by decide(); empty otherwise.
  std::string diagnosis;
  /// A tensor verified from parts (case_request::parts): each part's row, in the order of
  /// their offsets, replicas last. Empty otherwise.
  std::vector<part_digest> parts;
  /// Given samples of an i.i.d. law, 64 or more: content_digest() of their bytes (digest.hpp),
  /// for the run's "distinct" check; 0 otherwise. Not written to the results JSON.
  std::uint64_t digest = 0;

  /// The canonical spec of the scheme (scheme.spec()).
  std::string canonical() const { return spec.scheme.spec(); }
};

/// The tensors of one rule pooled (a model run), so that many tensors together detect a common
/// error none shows alone. Each tensor's mean and variance z-tests combined, weighted by their
/// precision (z = sum(z_t / se_t) / sqrt(sum(1 / se_t^2)), N(0, 1) for independent tensors of
/// their laws): "pooled_variance" detects a relative variance error, "pooled_mean" a mean shift
/// in standard deviations, each of 1 / sqrt(sum(1 / se_t^2)) per standard error. And the
/// tensors' probability-integral transforms pooled into one sample of U(0, 1) (randomised on a
/// 16-bit grid; tensors of an i.i.d. law whose samples the request holds): "pooled_ks" and
/// "pooled_anderson_darling" detect an error of the law's shape common to them. Part of the
/// run's Holm family. Under a tolerance (the rule's: its cases'), equivalence tests of it.
struct pooled_result {
  std::string rule;
  verify::tolerance tolerance;
  std::vector<std::string> tensors;  ///< the cases pooled (those with a variance test)
  double n = 0;                      ///< their samples
  std::vector<test_result> tests;
  bool passed = true;
  /// At 99% power, as for a case.
  double detectable_variance_error = NAN, detectable_mean_shift = NAN;
  /// The KS distance (beyond the tolerance's) that pooled_ks rejects for certain: its critical
  /// value at Holm's first step alpha / m. NaN without pooled_ks.
  double detectable_ks_distance = NAN;
};

struct run_result {
  run_options options;
  int threads_used = 0;
  bool passed = true;
  std::size_t family_size = 0;
  std::vector<case_result> cases;
  /// The signal-propagation experiment, where the run includes it; its verdict counts.
  std::optional<propagation_result> propagation;
  /// As in the request: a model's tensors no rule matched (they fail the run), skipped and tied.
  std::vector<std::string> unmatched, skipped;
  std::vector<std::pair<std::string, std::string>> tied;
  std::vector<std::string> notes;
  /// Per rule with 2 or more cases that have a variance test (a model run).
  std::vector<pooled_result> pooled;
  /// A run split over processes (distributed.hpp): per share, the units it ran, the bytes it
  /// sent and its seconds of work. Empty for one process. Like the timings, not part of the
  /// results: the rest of a split run is bitwise the run of one process.
  struct share_record {
    std::size_t units = 0, bytes = 0;
    double seconds = 0;
  };
  std::vector<share_record> shares;

  /// Whether the run verified a model's named tensors (a checkpoint with rules), not schemes.
  bool is_model() const noexcept {
    return !unmatched.empty() || std::any_of(cases.begin(), cases.end(), [](const case_result& c) {
      return !c.tensor.empty();
    });
  }
};

/// The pooled tests of `cases` (undecided), by rule (pooled_result), in the order the rules
/// first appear; rules with fewer than two cases with a variance test are left out.
std::vector<pooled_result> pool_by_rule(const std::vector<case_result>& cases);

/// The cases of a named battery: "smoke" (CI gate, >= 10^6 per scheme), "standard" (the
/// README's main job, >= 10^7 per scheme), "large" (10^9 per scheme streaming, and two-level
/// replications). Throws std::invalid_argument for another name.
std::vector<case_spec> battery(std::string_view name);
/// Whether the named battery also runs standard_propagation_configs() (standard does).
bool battery_includes_propagation(std::string_view name) noexcept;
/// The request of a named battery with `options`.
run_request battery_request(std::string_view name, const run_options& options);

/// Throws std::invalid_argument naming the option for alpha outside (0, 1), threads outside
/// [0, 4096] or memory below 1 MiB.
void check_options(const run_options& options);

/// Runs a request: every case, propagation if asked, the pooled tests of a model's rules
/// (pool_by_rule), then decide(). Throws
/// std::invalid_argument for bad options or a case that cannot be verified (a scheme that does
/// not fit its shape, samples that are not whole tensors of a structured scheme, a non-i.i.d.
/// case beyond the memory budget), before any work where it can.
run_result run(const run_request& request);

/// One case, not decided (its tests carry raw p-values). `options.threads` must be resolved
/// (>= 1) or 0 for OpenMP's default.
case_result run_case(const case_request& request, const run_options& options);

/// Decides every test of the run (Holm-Bonferroni over all statistical tests at
/// options.alpha, exact checks by themselves), sets each case's verdict, power statement,
/// summary's KS band and (when it failed) diagnosis, the pooled tests' verdicts, and the run's.
void decide(run_result& run);

}  // namespace verinit::verify
