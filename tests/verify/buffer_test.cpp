// The sample buffers' pool (verify/src/buffer.hpp): within a run, freed huge-page buffers are
// handed to the next request they fit, so a model's tensors reuse pages already touched.
#include "buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <new>
#include <vector>

namespace {

using verinit::verify::detail::allocate_buffer;
using verinit::verify::detail::buffer_pool_scope;
using verinit::verify::detail::pooled_bytes;

constexpr std::size_t mib = std::size_t{1} << 20;

TEST(BufferTest, OutsideARunFreedBuffersAreFreed) {
  { auto b = allocate_buffer<std::byte>(4 * mib); }
  EXPECT_EQ(pooled_bytes(), 0u);
}

TEST(BufferTest, WithinARunTheSmallestKeptBlockThatFitsIsReused) {
  const buffer_pool_scope run;
  const void *four = nullptr, *eight = nullptr;
  {
    auto a = allocate_buffer<std::byte>(4 * mib);
    auto b = allocate_buffer<std::byte>(8 * mib);
    four = a.get();
    eight = b.get();
  }
  EXPECT_EQ(pooled_bytes(), 12 * mib);
  // 3 MiB fits both: the 4 MiB block is the smaller. 5 MiB fits only the 8 MiB one.
  auto c = allocate_buffer<std::uint32_t>(3 * mib / 4);
  EXPECT_EQ(static_cast<const void*>(c.get()), four);
  auto d = allocate_buffer<std::byte>(5 * mib);
  EXPECT_EQ(static_cast<const void*>(d.get()), eight);
  EXPECT_EQ(pooled_bytes(), 0u);
  // Nothing kept fits 16 MiB: fresh memory, 2 MiB-aligned.
  auto e = allocate_buffer<std::byte>(16 * mib);
  EXPECT_NE(static_cast<const void*>(e.get()), four);
  EXPECT_NE(static_cast<const void*>(e.get()), eight);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(e.get()) % (2 * mib), 0u);
}

TEST(BufferTest, SmallBuffersAreNotKept) {
  const buffer_pool_scope run;
  { auto small = allocate_buffer<std::byte>(100'000); }
  { auto empty = allocate_buffer<double>(0); }
  EXPECT_EQ(pooled_bytes(), 0u);
}

TEST(BufferTest, ThePoolEndsWithTheLastScopeAndKeepsAtMost256MiB) {
  {
    const buffer_pool_scope outer;
    {
      const buffer_pool_scope inner;
      // 20 blocks of 16 MiB (virtual memory, never touched): only 16 fit in 256 MiB.
      std::vector<verinit::verify::detail::buffer<std::byte>> blocks;
      for (int i = 0; i < 20; ++i) blocks.push_back(allocate_buffer<std::byte>(16 * mib));
    }
    EXPECT_EQ(pooled_bytes(), 256 * mib);  // the inner scope's end keeps them for the outer
  }
  EXPECT_EQ(pooled_bytes(), 0u);
}

TEST(BufferTest, ACountWhoseBytesOverflowIsRefused) {
  EXPECT_THROW(allocate_buffer<std::uint64_t>(std::numeric_limits<std::size_t>::max() / 4),
               std::bad_alloc);
  EXPECT_THROW(allocate_buffer<std::byte>(std::numeric_limits<std::size_t>::max() - 1),
               std::bad_alloc);
}

}  // namespace
