// What the i.i.d. tests read of a sample, as a monoid: a state built piece by piece from a
// stream of samples, merged with the state of the pieces that follow it, and written as bytes.
//
// One state serves every i.i.d. test (iid_tests.hpp) whether the samples are held in memory
// (one piece, and KS/A^2 computed exactly beside it by goodness_of_fit.hpp) or streamed (many
// pieces, with KS/A^2 from binned counts). It holds:
//   - support counts in the sample type, and NaNs;
//   - power sums of d = x - mean (the law's), lag-1 sums of d and of e = d^2 - variance, and
//     max |d|;
//   - the homogeneity sums: per group of output units (sample_grouping), S_g^2 / m_g and
//     1 / m_g (S_g the group's sum of d^2, m_g its size), added up;
//   - window hashes of the repeated-runs test (1 window in 2^window_bits kept, by content);
//   - with bins > 0: counts of u = F(x) in `bins` equal-probability bins and the exact u of
//     the two outer bins (bracket(): the proven bracket of D and A^2, see the README).
// Every sum is an exact_sum of per-block partials (blocks of block_size samples from the start
// of each piece, cut only at group boundaries, never by threads), so a state has the same bits on
// any number of threads, and merging is exact: the states of consecutive pieces merged in any
// grouping are bitwise the state of one pass over the same pieces (tested), and so is their byte
// form (hashes and outer-bin values sorted). (Cut elsewhere, a stream's block partials, and so the
// last bits of its sums, differ.)
//
// Pieces are whole tensors (the homogeneity groups never straddle two pieces); only the last
// piece of a stream may end inside a tensor.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "verinit/dtype.hpp"
#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"
#include "verinit/verify/exact_sum.hpp"
#include "verinit/verify/law.hpp"

namespace verinit::verify {

/// The fewest samples a homogeneity group holds (where a tensor has as many).
inline constexpr std::int64_t min_group_size = 64;

/// How the homogeneity test groups a tensor's samples: by output unit (the samples that share
/// a fan: rows along axis 0 in the torch layout, columns along the last axis in keras), with
/// adjacent units merged until a group holds at least min_group_size samples.
struct sample_grouping {
  std::int64_t tensor_size = 1;      ///< elements of one tensor
  std::int64_t units = 1;            ///< output units per tensor
  bool strided = false;              ///< unit of element i: i % units, not i / (size / units)
  std::int64_t units_per_group = 1;  ///< adjacent units per group

  /// The grouping of tensors of `shape` (>= 1 dims) in `layout`. Throws std::invalid_argument
  /// for a dim < 1.
  static sample_grouping of(std::span<const std::int64_t> shape, layout layout);
  std::int64_t groups_per_tensor() const noexcept {
    return (units + units_per_group - 1) / units_per_group;
  }
  friend bool operator==(const sample_grouping&, const sample_grouping&) = default;
};

/// What a stream's samples are tested against.
struct iid_context {
  any_law law;
  verinit::dtype type = dtype::float32;
  sample_grouping grouping;
};

/// The sums and counts of a stream (see the file comment). Exact sums are read with value().
struct iid_sums {
  std::int64_t n = 0;
  std::int64_t nan = 0;            ///< NaN samples
  std::int64_t outside = 0;        ///< finite, outside the support rounded outward to the type
  std::int64_t at_excluded = 0;    ///< on an excluded upper bound
  std::int64_t non_finite = 0;     ///< infinite or NaN
  exact_sum s1, s2, s3, s4;        ///< sums of d^k, d = x - mean
  exact_sum lagged;                ///< sum_i d_i d_{i+1}
  exact_sum squares_lagged;        ///< sum_i e_i e_{i+1}, e = d^2 - variance
  double largest = 0;              ///< max |d|; +inf once a sample is NaN
  double lowest = INFINITY;        ///< min d over the samples that are not NaN
  double highest = -INFINITY;      ///< max d over the samples that are not NaN
  double first = NAN, last = NAN;  ///< the stream's first and last samples
  std::int64_t groups = 0;         ///< homogeneity groups
  exact_sum group_squares;         ///< sum_g S_g^2 / m_g, S_g the sum of d^2 over group g
  exact_sum inverse_group_sizes;   ///< sum_g 1 / m_g
};

/// The bracket of D_n and A^2 from binned counts (see streaming in the README).
struct fit_bracket {
  double d_low = 0, d_high = 0, a2_low = 0, a2_high = 0;
};

/// The repeated-runs count: windows seen, kept, and kept ones seen before.
struct window_repeats {
  std::int64_t windows = 0, kept = 0, repeats = 0;
  int bits = 0;  ///< 1 window in 2^bits kept
};

class stream_state {
 public:
  /// Samples a block's partial sums cover: part of the determinism contract.
  static constexpr std::int64_t block_size = std::int64_t{1} << 14;
  /// Far from the law an outer bin can hold most samples: beyond this many values its exact
  /// u are dropped and the bin is bracketed like the others (A^2's upper end is then +inf).
  static constexpr std::size_t tail_capacity = std::size_t{1} << 22;

  struct options {
    std::int64_t bins = 0;  ///< 0: no binned fit (the caller computes KS/A^2 exactly)
    int window_bits = 4;    ///< in [0, 24]
    friend bool operator==(const options&, const options&) = default;
  };
  /// Distinguished bits for a stream of `expected_samples`: ~4M kept windows at most (32 MB).
  static int window_bits_for(std::int64_t expected_samples) noexcept;

  /// An empty state. Throws std::invalid_argument for bins neither 0 nor a power of two >= 16,
  /// or window_bits outside [0, 24].
  stream_state(iid_context context, options options);
  stream_state(stream_state&&) noexcept;
  stream_state& operator=(stream_state&&) noexcept;
  stream_state(const stream_state&);
  stream_state& operator=(const stream_state&);
  ~stream_state();

  /// Adds the next piece of the stream, on `threads` threads (>= 1). Throws
  /// std::invalid_argument if its dtype is not the context's, or if the stream so far ends
  /// inside a tensor (only the last piece may).
  void add(const tensor_view& piece, int threads);
  template <element_type T>
  void add(std::span<const T> piece, int threads) {
    add(tensor_view{dtype_of<T>, {static_cast<std::int64_t>(piece.size())}, std::as_bytes(piece)},
        threads);
  }
  /// Appends the state of the samples that follow this state's: afterwards *this is the state
  /// of the concatenated stream. Throws std::invalid_argument for another context or options,
  /// or if this state ends inside a tensor and `next` is not empty.
  stream_state& operator+=(const stream_state& next);
  stream_state& operator+=(stream_state&& next);

  const iid_context& context() const noexcept;
  const options& settings() const noexcept;
  const iid_sums& sums() const noexcept;
  std::int64_t count() const noexcept { return sums().n; }
  /// KS/A^2 from the bins (bins > 0). Throws std::logic_error without bins.
  fit_bracket bracket() const;
  /// Counts repeated windows (sorting the kept hashes) on `threads` threads.
  window_repeats repeats(int threads) const;

  /// The state as bytes: the same bytes for the same pieces however they were merged or
  /// threaded. from_bytes reads them back for `context` (a law cannot be written as bytes):
  /// it throws std::invalid_argument naming the problem for bytes that are not such a state,
  /// or one of another dtype, grouping, law or options, and never allocates more than the
  /// bytes justify.
  std::vector<std::byte> to_bytes() const;
  static stream_state from_bytes(std::span<const std::byte> bytes, iid_context context);

  /// Bitwise equality of the byte forms.
  friend bool operator==(const stream_state& a, const stream_state& b);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace verinit::verify
