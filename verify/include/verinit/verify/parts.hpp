// A part of a tensor held in parts by several processes, as the process that verifies the
// tensor sees it (distributed.hpp makes them; case_request::parts holds them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "verinit/dtype.hpp"
#include "verinit/shape.hpp"
#include "verinit/verify/result.hpp"

namespace verinit::verify {

/// Where a part lies: a label for messages ("rank 2"), its offset in the whole tensor (one per
/// dim), and the shape of the parts the tensor was cut into (the first part's: the homogeneity
/// groups; a smaller part must come last). A replica holds a copy of another process's part
/// (DDP, HSDP): only its digest is compared.
struct part_place {
  std::string where;
  std::vector<std::int64_t> offset;
  tensor_shape piece_shape;
  bool replica = false;
  /// The elements the parts make up together; 0: the tensor's. (A tensor's rows apart from its
  /// zero_rows are a case of fewer elements than its shape's, which gives the fans.)
  std::int64_t whole = 0;
};

/// A part's row in a result (case_result::parts): where it lies and what it holds, without its
/// samples' reduction.
struct part_digest {
  part_place place;
  std::int64_t n = 0, non_finite = 0;
  std::uint64_t digest = 0;
};

/// What a case verified by parts holds of one part (case_request::parts).
struct tensor_part {
  part_place place;
  std::int64_t n = 0, non_finite = 0;
  std::uint64_t digest = 0;  ///< content_digest of its bytes (digest.hpp)
  /// 0: an i.i.d. law's reduction in `state`; 1: a constant's check in `check`; 2: a law that
  /// needs the whole tensor (orthogonal, eye, dirac, sparse): `check.note` says so; 3: a replica.
  int kind = 0;
  /// A float part whose values all lie on a 16-bit grid (weights drawn in bfloat16, then
  /// .float()): that grid; its state is of the values converted to it, tested against the law
  /// rounded to it, as a whole tensor's would be.
  std::optional<dtype> grid;
  std::vector<std::byte> state;
  /// With a grid: the part reduced as values of its own dtype too, for a tensor whose other
  /// parts are not all on that grid (zeros on some ranks are on every grid).
  std::vector<std::byte> plain_state;
  test_result check;
};

}  // namespace verinit::verify
