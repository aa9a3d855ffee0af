// Per-thread bucket counts turned into write positions (internal to verify/src): the prefix
// sum of a parallel counting sort, shared by the KS/A^2 scatter and the repeated windows.
#pragma once

#include <cstdint>
#include <vector>

namespace verinit::verify::detail {

/// counts_of(t)[b] is thread t's count for bucket b; to_positions() turns every count into the
/// thread's first write position in its bucket, threads in order within each bucket, buckets
/// in order; start(b) is then where bucket b begins (start(buckets) = the total).
class thread_bucket_offsets {
 public:
  thread_bucket_offsets(int threads, std::int64_t buckets)
      : buckets_(buckets),
        counts_(static_cast<std::size_t>(threads) * static_cast<std::size_t>(buckets), 0),
        start_(static_cast<std::size_t>(buckets) + 1, 0) {}

  std::int64_t* counts_of(int thread) noexcept {
    return counts_.data() + static_cast<std::int64_t>(thread) * buckets_;
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
  std::vector<std::int64_t> counts_;
  std::vector<std::int64_t> start_;
};

}  // namespace verinit::verify::detail
