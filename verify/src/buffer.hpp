// Large uninitialized buffers for samples, backed by transparent huge pages where the kernel
// offers them on request (madvise mode, Debian's default). Touching 40 MB of fresh 4 KiB pages
// costs ~10,000 page faults, measured at 14% of the KS/A^2 pass's time on this project's VM;
// with 2 MiB pages, ~20. Elements are left uninitialized: callers write each one before reading.
//
// Within a run (a buffer_pool_scope), freed huge-page buffers are kept and handed to the next
// request they fit, so a model's 782 tensors touch fresh memory for their largest working set
// only, not for each tensor: on this project's VM memory the kernel has not touched for a few
// seconds (handed back to the host) costs ~0.75 ms a MiB to touch again, and a resnet50 run
// touched 180 MiB of fresh huge pages without the pool, 34 MiB with it.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace verinit::verify::detail {

/// Frees a buffer, or keeps it for the next request while a buffer_pool_scope lives.
struct buffer_deleter {
  std::size_t capacity = 0;  // bytes of a huge-page block; 0 for a small one from malloc
  void operator()(void* p) const noexcept;
};

template <class T>
using buffer = std::unique_ptr<T[], buffer_deleter>;

/// Room for `bytes` (at least 1), 2 MiB-aligned on huge pages from a quarter of a huge page up:
/// a whole huge page costs one fault (and zeroing 2 MiB, ~0.1 ms) where 128 or more 4 KiB pages
/// cost 128 faults, ~11 us each on this project's VM. Sets `capacity` for the deleter. Throws
/// std::bad_alloc when out of memory.
void* allocate_block(std::size_t bytes, std::size_t& capacity);

/// Throws std::bad_alloc when out of memory (or when count elements overflow a size).
template <class T>
buffer<T> allocate_buffer(std::size_t count) {
  if (count > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
  std::size_t capacity = 0;
  void* p = allocate_block(count * sizeof(T), capacity);
  return buffer<T>(static_cast<T*>(p), buffer_deleter{capacity});
}

/// While one lives, freed huge-page buffers of up to `keep_at_most` bytes in all are kept for
/// later requests (the smallest that fits); when the last one ends they are freed. Scopes nest
/// and count across threads (the process's live runs share one pool, bounded by the smallest
/// of their bounds), so a run's memory is at most its live buffers and the pool's bound.
class buffer_pool_scope {
 public:
  explicit buffer_pool_scope(std::size_t keep_at_most) noexcept;
  ~buffer_pool_scope();
  buffer_pool_scope(const buffer_pool_scope&) = delete;
  buffer_pool_scope& operator=(const buffer_pool_scope&) = delete;
};

/// Bytes of the blocks the pool keeps now (for tests).
std::size_t pooled_bytes() noexcept;

}  // namespace verinit::verify::detail
