// A run split over processes: each computes its share of a request's work and writes it as
// bytes; one process reads every share back and decides. Any engine that moves bytes carries
// the shares (the CLI's MPI, torch.distributed, mpi4py); this library needs none.
//
// The work is cut into units: a case whole (given samples, a case held in memory, every
// replication of a replicated one), or a contiguous range of the pieces of a streamed case (the
// pieces run() cuts: whole tensors, a quarter of the memory budget each, each from its own
// Philox seeds, so a range is drawn where it is tested and nothing else is shared). Units are
// dealt by their bytes, largest first, each to the share with the fewest bytes so far. A share
// holds each unit's undecided case result, or its pieces' reduction: the stream state (exact
// sums, bin counts: mergeable in any grouping), the 16-bit histogram and each piece's lag-1
// record, the pieces' summaries.
//
// The process that folds the shares does what needs the whole run: the streams merged in stream
// order, signal propagation, the pooled tests of a model's rules (they read the request's
// samples: the folding process must be able to read the checkpoint too), the decision.
// run_from_shares(request, {run_share(request, k, R) for k < R}) is bitwise run(request) for any
// R and thread counts, timings aside (tested).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "verinit/verify/parts.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::verify {

/// One unit of a distributed run's work.
struct work_unit {
  std::size_t case_index = 0;  ///< in request.cases
  /// A streamed case's pieces [begin, end); begin == end == 0: the case whole.
  std::int64_t begin = 0, end = 0;
  double bytes = 0;  ///< the samples it reads or draws
  int share = 0;     ///< the share that runs it
};

/// How `request`'s work is cut and dealt to `shares` shares. Throws std::invalid_argument like
/// run() for bad options or cases, and for shares outside [1, 2^20].
std::vector<work_unit> plan_shares(const run_request& request, int shares);

/// Share `share` of `shares` of `request`'s work, computed and written as bytes. Throws like
/// plan_shares, and for `share` outside [0, shares).
std::vector<std::byte> run_share(const run_request& request, int share, int shares);

/// The run from every share's bytes, shares[k] from run_share(request, k, shares.size()) for
/// the same request: the shares folded, propagation and the pooled tests run, decided. Throws
/// std::invalid_argument naming the share for bytes that are not that share of this request (a
/// share carries a fingerprint of its request's options and cases: their specs, sample counts,
/// dtypes, tensors and rules, not the samples' bytes).
run_result run_from_shares(const run_request& request,
                           std::span<const std::vector<std::byte>> shares);

// ---- tensors held in parts ---------------------------------------------------------------
//
// A model initialised sharded (FSDP, tensor parallel, ZeRO-3, expert parallel) never holds a
// tensor whole: each process holds parts of it, and replicas of some. Each process reduces its
// parts where they are (reduce_part: the law from the whole tensor's shape, the samples reduced
// to a stream state or a 16-bit histogram, a digest and a non-finite count); the bytes go to one
// process, which makes one case per tensor of them (cases_of_parts) and runs them as any cases
// (run()): the statistical tests of the parts merged in the order of their offsets, and exact
// checks of the parts themselves.

/// The bytes of `request`'s part (request.samples: the part's elements; request.spec: the law on
/// the whole tensor's shape) at `place`, reduced on `threads` threads. Throws
/// std::invalid_argument for a case that cannot be verified, or a place that does not fit it.
std::vector<std::byte> reduce_part(const case_request& request, const part_place& place,
                                   int threads);

/// The cases of the parts gathered from every process, in any order: one per tensor (in the
/// order of the tensors' first parts), its parts sorted by offset, replicas last; a tensor
/// whose law needs it whole (orthogonal, eye, dirac, sparse) is skipped with a note. Throws
/// std::invalid_argument naming the tensor and both places for parts of one tensor that
/// disagree on its law, shape, dtype, rule or piece shape, and for bytes that are not a part.
struct parts_plan {
  std::vector<case_request> cases;
  std::vector<std::string> skipped, notes;
};
parts_plan cases_of_parts(std::span<const std::vector<std::byte>> parts);

}  // namespace verinit::verify
