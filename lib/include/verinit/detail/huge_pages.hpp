// Internal: advice that memory about to be filled be backed by transparent huge pages (madvise
// mode, Debian's default), shared by verify's sample buffers and the reports' large texts. On
// this project's VM a 4 KiB page fault costs ~5-11 us; a 2 MiB page is one fault for 512 pages.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace verinit::detail {

inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

/// Advises the whole huge pages inside [begin, begin + bytes). Advice only: nothing happens
/// where the kernel lacks it or refuses, and the memory is unchanged.
inline void advise_huge_pages(void* begin, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
  const auto start = reinterpret_cast<std::uintptr_t>(begin);
  const std::uintptr_t first = (start + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  const std::uintptr_t last = (start + bytes) / huge_page_bytes * huge_page_bytes;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)begin;
  (void)bytes;
#endif
}

}  // namespace verinit::detail
