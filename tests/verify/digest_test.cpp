// The content digest: equal bytes, equal digests on any thread count; any one bit flipped, or
// a byte more or less, another digest.
#include "verinit/verify/digest.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace {

using verinit::verify::content_digest;

std::vector<std::byte> bytes_of(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> out(size);
  std::uint64_t x = seed;
  for (auto& b : out) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    b = static_cast<std::byte>(x >> 56);
  }
  return out;
}

TEST(DigestTest, EqualBytesGiveEqualDigestsOnAnyThreadCount) {
  // Across the 1 MiB block boundary and the 32-byte word groups.
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{31}, std::size_t{32}, std::size_t{33},
        std::size_t{1} << 20, (std::size_t{3} << 20) + 5}) {
    const auto a = bytes_of(size, 7), b = bytes_of(size, 7);
    const std::uint64_t one = content_digest(a, 1);
    EXPECT_EQ(one, content_digest(b, 1)) << size;
    for (const int threads : {2, 3, 8}) EXPECT_EQ(one, content_digest(a, threads)) << size;
  }
}

TEST(DigestTest, EveryBitAndTheLengthCount) {
  std::set<std::uint64_t> seen;
  auto bytes = bytes_of(100, 3);
  seen.insert(content_digest(bytes, 1));
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      bytes[i] ^= static_cast<std::byte>(1 << bit);
      EXPECT_TRUE(seen.insert(content_digest(bytes, 1)).second) << i << " " << bit;
      bytes[i] ^= static_cast<std::byte>(1 << bit);
    }
  // Zero bytes appended or dropped: the length is part of the digest.
  for (std::size_t size = 0; size < 70; ++size) {
    const std::vector<std::byte> zeros(size);
    EXPECT_TRUE(seen.insert(content_digest(zeros, 1)).second) << size;
  }
  // A change in the second block of a large buffer.
  auto large = bytes_of((std::size_t{1} << 20) + 100, 5);
  const std::uint64_t before = content_digest(large, 2);
  large[(std::size_t{1} << 20) + 50] ^= std::byte{1};
  EXPECT_NE(before, content_digest(large, 2));
}

}  // namespace
