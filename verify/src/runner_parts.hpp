// Internal: run() in the steps a distributed run (distributed.cpp) also takes, so that both
// compute every number the same way. run() is: begin_run, plan_cases, a case_result per case
// (run_case; a streamed case's pieces reduced by reduce_pieces and finished by finish_stream),
// then finish_run.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "rounded_laws.hpp"
#include "verinit/verify/grid_tests.hpp"
#include "verinit/verify/runner.hpp"
#include "verinit/verify/stream_state.hpp"
#include "verinit/verify/summary.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify::detail {

/// How a case is verified: its expectation, its options (threads scaled to its size), and for a
/// sampled case beyond the memory budget the pieces it streams.
struct case_work {
  expectation e;
  run_options options;
  std::int64_t tensors = 0;    ///< sampled: whole tensors per replication
  std::int64_t per_piece = 0;  ///< streamed (sampled, one replication or more): tensors a piece
  double bytes = 0;            ///< the samples' bytes over all replications: the work's size

  bool streamed() const noexcept { return per_piece > 0; }
  std::int64_t pieces() const noexcept {
    return streamed() ? (tensors + per_piece - 1) / per_piece : 0;
  }
};

/// The run before its cases: options checked and threads resolved, the request's lists copied.
run_result begin_run(const run_request& request);

/// Every case's work, checked before any work (a model's error names its tensor and rule).
/// `resolved` has its threads resolved.
std::vector<case_work> plan_cases(const run_request& request, const run_options& resolved);

/// A streamed case's pieces [begin, end) of the replication whose tensors start at `first`,
/// sampled and reduced in stream order.
struct stream_share {
  std::optional<stream_state> state;               ///< continuous laws
  std::optional<grid_histogram> counts;            ///< 16-bit: the pieces' summed histogram
  std::vector<grid_stream::piece_record> records;  ///< 16-bit: each piece's record
  /// Continuous, with summaries: the pieces' summaries merged (merge_into), and each piece's
  /// floating-point sums (sums n, s1..s4, expected_distinct), which the fold adds again in stream
  /// order: a state of a size independent of the pieces, and the bits of one process.
  std::optional<sample_summary> summary;
  std::vector<std::array<double, 6>> summary_sums;
  double sample_seconds = 0, test_seconds = 0;
};
stream_share reduce_pieces(const case_request& request, const case_work& work, std::int64_t first,
                           std::int64_t begin, std::int64_t end, rounded_laws& laws);

/// A streamed replication's result from the shares of all its pieces, in stream order.
case_result finish_stream(const case_request& request, const case_work& work,
                          std::span<const stream_share> shares, rounded_laws& laws);

/// What a case's result takes from its request (names, tolerance), and the tolerance applied.
void complete_case(case_result& result, const case_request& request);

/// The bound on a run's pool of freed sample buffers (buffer_pool_scope): a quarter of its
/// memory budget, at most 256 MiB.
std::size_t pool_bound(const run_options& options) noexcept;

/// A case's result, every replication of it (undecided; complete_case applied).
case_result run_case(const case_request& request, const case_work& work, rounded_laws& laws);

/// A case held in parts (case_request::parts; distributed.cpp).
case_result verify_parts(const case_request& request, const case_work& work, rounded_laws& laws);

/// What run() does after its cases (run.cases, index for index with request.cases): signal
/// propagation if asked, the pooled tests, the decision.
void finish_run(run_result& run, const run_request& request, rounded_laws& laws);

}  // namespace verinit::verify::detail
