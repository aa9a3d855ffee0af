// Large uninitialized buffers for samples, backed by transparent huge pages where the kernel
// offers them on request (madvise mode, Debian's default). Touching 40 MB of fresh 4 KiB pages
// costs ~10,000 page faults, measured at 14% of the KS/A^2 pass's time on this project's VM;
// with 2 MiB pages, ~20. Elements are left uninitialized: callers write each one before reading.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "verinit/detail/huge_pages.hpp"

namespace verinit::verify::detail {

struct free_deleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

template <class T>
using buffer = std::unique_ptr<T[], free_deleter>;

/// Throws std::bad_alloc when out of memory.
template <class T>
buffer<T> allocate_buffer(std::size_t count) {
  constexpr std::size_t huge = verinit::detail::huge_page_bytes;
  const std::size_t bytes = count * sizeof(T);
  const std::size_t rounded = (bytes + huge - 1) / huge * huge;
  // From a quarter of a huge page up: a whole huge page costs one fault (and zeroing 2 MiB,
  // ~0.1 ms) where 128 or more 4 KiB pages cost 128 faults, ~11 us each on this project's VM.
  const bool use_huge = bytes >= huge / 4;
  void* p = use_huge ? std::aligned_alloc(huge, rounded) : std::malloc(bytes > 0 ? bytes : 1);
  if (p == nullptr) throw std::bad_alloc();
  if (use_huge) verinit::detail::advise_huge_pages(p, rounded);
  return buffer<T>(static_cast<T*>(p));
}

}  // namespace verinit::verify::detail
