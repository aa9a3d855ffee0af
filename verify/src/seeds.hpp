// Seeds derived from a run's seed (internal to verify/src).
#pragma once

#include <cstdint>

namespace verinit::verify::detail {

/// The k-th output of SplitMix64 started at `seed` (S. Vigna's finalizer of seed + k * golden
/// ratio): well-mixed, distinct seeds for the k-th tensor or network of a run.
inline std::uint64_t derived_seed(std::uint64_t seed, std::uint64_t k) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * k;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace verinit::verify::detail
