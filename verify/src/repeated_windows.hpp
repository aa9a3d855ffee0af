// The repeated-runs test's state (internal to verify/src): hashes of windows of 4 consecutive
// samples, 1 in 2^bits kept by content, as a mergeable part of stream_state.
//
// Every window of 4 consecutive samples (overlapping, so any period is seen) is hashed to 64
// bits from the samples' bit patterns; the windows whose hash ends in `bits` zero bits are kept
// (a choice by content, so a repeated window is kept at both places or at neither), and kept
// hashes seen before are counted. For an i.i.d. stream a repeat needs 4 coinciding values (or
// a hash collision): under the null the count is Poisson with mean at most C(kept, 2)
// 2^-(64 - bits). A stream reused with any period over L windows leaves about L 2^-bits
// repeats. A count of single repeated values would not work: real samplers quantise
// (PyTorch's uniforms sit on a 2^24 grid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "buffer.hpp"
#include "verinit/verify/stream_state.hpp"

namespace verinit::verify::detail {

/// Kept hashes in blocks (4,096 values doubling to 2^18, 2 MiB, from huge pages: see
/// buffer.hpp): never concatenated, never grown by copying.
struct repeated_windows_block {
  detail::buffer<std::uint64_t> data;
  std::size_t size = 0, capacity = 0;
};

class repeated_windows {
 public:
  using block = repeated_windows_block;

  explicit repeated_windows(int bits) : bits_(bits) {}

  /// The windows that lie inside `samples` (size - 3 of them), on `threads` threads.
  void add_inside(const tensor_view& samples, int threads);
  /// One window (of a stream cut between its samples).
  void add_window(const std::uint64_t window[4]);
  /// Appends another's kept hashes (the order of kept hashes never matters).
  void merge(repeated_windows&& other);
  void merge(const repeated_windows& other);

  int bits() const noexcept { return bits_; }
  std::int64_t windows() const noexcept { return windows_; }
  std::int64_t kept() const noexcept;
  /// Counts kept hashes seen before: a parallel counting sort, then each bucket sorted.
  window_repeats count(int threads) const;

  /// The window count and the kept hashes, sorted: the same bytes whatever the order they
  /// were kept in.
  void append_bytes(std::vector<std::byte>& out) const;
  /// Reads what append_bytes wrote from `bytes` at `at` (advanced). Throws
  /// std::invalid_argument for a count the bytes cannot hold.
  static repeated_windows from_bytes(std::span<const std::byte> bytes, std::size_t& at, int bits);

  /// Appends `count` values to a list of blocks, filling its last block first; `expected`, the
  /// number of values the list will likely hold, sizes its first block.
  static void append_to(std::vector<block>& blocks, const std::uint64_t* values, std::size_t count,
                        std::size_t expected);

 private:
  void append(const std::uint64_t* values, std::size_t count, std::size_t expected = 0);

  int bits_;
  std::vector<block> kept_;
  std::int64_t windows_ = 0;
};

/// A window's hash from its four samples' bit patterns (order matters).
std::uint64_t window_hash(const std::uint64_t window[4]) noexcept;

}  // namespace verinit::verify::detail
