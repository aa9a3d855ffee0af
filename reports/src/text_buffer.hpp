// Internal: room for a large output text (a model's report page or results document, several
// MB) reserved up front, so that appending neither copies it at each doubling nor faults every
// 4 KiB page in: the interior of the reservation is advised onto transparent huge pages (madvise
// mode, Debian's default), as verify's sample buffers are. On this project's VM a 4 KiB page
// fault costs ~5 us; efficientnet_v2_s's 7 MB page, grown by doubling, took ~4,000 of them.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace verinit::reports::detail {

inline void reserve_text(std::string& text, std::size_t bytes) {
  text.reserve(bytes);
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(text.data());
  const std::uintptr_t first = (begin + huge - 1) / huge * huge;
  const std::uintptr_t last = (begin + text.capacity()) / huge * huge;
  // Advice only: failure, or memory the kernel will not back with huge pages, is harmless.
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
}

}  // namespace verinit::reports::detail
