// A 64-bit digest of a tensor's bytes, to find equal tensors (or shards) without moving them:
// two tensors drawn independently from a continuous law are never bitwise equal, so equal
// digests name a reused random stream (every rank seeded alike, one tensor copied into another)
// and unequal digests of replicas that should be equal name a divergence.
//
// Not a cryptographic hash: it separates honest tensors (distinct byte strings collide with
// probability ~2^-64 each pair), not adversarial ones. The same bits on any thread count: the
// bytes are hashed in blocks of 1 MiB in parallel, the blocks' hashes combined in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace verinit::verify {

/// The digest of `bytes` on `threads` threads (0: OpenMP's default).
std::uint64_t content_digest(std::span<const std::byte> bytes, int threads = 0);

}  // namespace verinit::verify
