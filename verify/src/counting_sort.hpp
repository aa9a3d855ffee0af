// Per-thread bucket counts turned into write positions (internal to verify/src): the prefix
// sum of a parallel counting sort, shared by the KS/A^2 scatter and the repeated windows.
#pragma once

#include <algorithm>
#include <cstdint>

#include "buffer.hpp"

namespace verinit::verify::detail {

/// counts_of(t)[b] is thread t's count for bucket b; to_positions() turns every count into the
/// thread's first write position in its bucket, threads in order within each bucket, buckets
/// in order; start(b) is then where bucket b begins (start(buckets) = the total).
class thread_bucket_offsets {
 public:
  // From huge pages where large (buffer.hpp): 2^16 buckets on 2 threads are 1 MB, and faulted
  // in 4 KiB pages they would cost more than the counting itself.
  thread_bucket_offsets(int threads, std::int64_t buckets)
      : buckets_(buckets),
        counts_(allocate_buffer<std::int64_t>(static_cast<std::size_t>(threads * buckets))),
        start_(allocate_buffer<std::int64_t>(static_cast<std::size_t>(buckets) + 1)) {
    std::fill(counts_.get(), counts_.get() + threads * buckets, 0);
  }

  std::int64_t* counts_of(int thread) noexcept {
    return counts_.get() + static_cast<std::int64_t>(thread) * buckets_;
  }
  /// Over the first `team` threads' counts.
  void to_positions(int team) noexcept {
    std::int64_t running = 0;
    for (std::int64_t b = 0; b < buckets_; ++b) {
      start_[static_cast<std::size_t>(b)] = running;
      for (int t = 0; t < team; ++t) {
        std::int64_t& slot = counts_[static_cast<std::size_t>(t * buckets_ + b)];
        const std::int64_t count = slot;
        slot = running;
        running += count;
      }
    }
    start_[static_cast<std::size_t>(buckets_)] = running;
  }
  std::int64_t start(std::int64_t bucket) const noexcept {
    return start_[static_cast<std::size_t>(bucket)];
  }

 private:
  std::int64_t buckets_;
  buffer<std::int64_t> counts_, start_;
};

}  // namespace verinit::verify::detail
