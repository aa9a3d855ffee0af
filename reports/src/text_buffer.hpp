// Internal: room for a large output text (a model's report page or results document, several
// MB) reserved up front, so that appending neither copies it at each doubling nor faults every
// 4 KiB page in: the interior of the reservation is advised onto transparent huge pages (madvise
// mode, Debian's default), as verify's sample buffers are. On this project's VM a 4 KiB page
// fault costs ~5 us; efficientnet_v2_s's 7 MB page, grown by doubling, took ~4,000 of them.
#pragma once

#include <cstddef>
#include <string>

#include "verinit/detail/huge_pages.hpp"

namespace verinit::reports::detail {

inline void reserve_text(std::string& text, std::size_t bytes) {
  text.reserve(bytes);
  verinit::detail::advise_huge_pages(text.data(), text.capacity());
}

}  // namespace verinit::reports::detail
