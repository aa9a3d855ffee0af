// The content digest: a multiply-rotate hash of 8-byte words per 1 MiB block, SplitMix64's
// finalizer over the blocks in order.
#include "verinit/verify/digest.hpp"

#include <omp.h>

#include <bit>
#include <cstring>
#include <vector>

#include "seeds.hpp"

namespace verinit::verify {
namespace {

constexpr std::size_t block_bytes = std::size_t{1} << 20;

std::uint64_t block_hash(const std::byte* data, std::size_t size) {
  // Four lanes of words, so the multiplies overlap; the lanes and the length mixed at the end.
  std::uint64_t lane[4] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL,
                           0x082efa98ec4e6c89ULL};
  constexpr std::uint64_t k1 = 0x9e3779b97f4a7c15ULL, k2 = 0xc2b2ae3d27d4eb4fULL;
  std::size_t at = 0;
  for (; at + 32 <= size; at += 32)
    for (int l = 0; l < 4; ++l) {
      std::uint64_t w;
      std::memcpy(&w, data + at + 8 * l, 8);
      lane[l] = std::rotl(lane[l] ^ (w * k1), 29) * k2;
    }
  std::uint64_t h = size;
  for (int l = 0; l < 4; ++l) h = detail::derived_seed(h ^ lane[l], static_cast<std::uint64_t>(l));
  std::uint64_t rest[4] = {};  // the last 0-31 bytes, zero-padded (the length is in h)
  if (size > at) std::memcpy(rest, data + at, size - at);
  for (const std::uint64_t w : rest) h = detail::derived_seed(h ^ w, 4);
  return h;
}

}  // namespace

std::uint64_t content_digest(std::span<const std::byte> bytes, int threads) {
  const std::size_t blocks = (bytes.size() + block_bytes - 1) / block_bytes;
  std::vector<std::uint64_t> hashes(blocks);
  const int team = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(team) if (blocks > 1)
  for (std::ptrdiff_t b = 0; b < static_cast<std::ptrdiff_t>(blocks); ++b) {
    const std::size_t at = static_cast<std::size_t>(b) * block_bytes;
    hashes[static_cast<std::size_t>(b)] =
        block_hash(bytes.data() + at, std::min(block_bytes, bytes.size() - at));
  }
  std::uint64_t h = detail::derived_seed(bytes.size(), 0);
  for (std::size_t b = 0; b < blocks; ++b) h = detail::derived_seed(h ^ hashes[b], b + 1);
  return h;
}

}  // namespace verinit::verify
