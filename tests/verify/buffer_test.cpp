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
  // Allocated within a run and freed after its end: freed too.
  verinit::verify::detail::buffer<std::byte> late;
  {
    const buffer_pool_scope run(256 * mib);
    late = allocate_buffer<std::byte>(4 * mib);
  }
  late.reset();
  EXPECT_EQ(pooled_bytes(), 0u);
}

TEST(BufferTest, ABufferFromBeforeARunFreedWithinItIsKeptUntilItsEnd) {
  auto early = allocate_buffer<std::byte>(6 * mib);
  {
    const buffer_pool_scope run(256 * mib);
    early.reset();
    EXPECT_EQ(pooled_bytes(), 6 * mib);
  }
  EXPECT_EQ(pooled_bytes(), 0u);
}

TEST(BufferTest, ThePoolKeepsAtMostItsBound) {
  const buffer_pool_scope run(10 * mib);
  {
    auto a = allocate_buffer<std::byte>(8 * mib);
    auto b = allocate_buffer<std::byte>(4 * mib);
  }  // b (4 MiB) is freed first and kept; a would make 12 MiB: freed
  EXPECT_EQ(pooled_bytes(), 4 * mib);
}

TEST(BufferTest, ThreadsShareThePoolSafely) {
  // Run under the tsan preset too: allocations and frees from several threads at once.
  const buffer_pool_scope run(64 * mib);
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 64; ++i) {
    auto b = allocate_buffer<std::uint32_t>(static_cast<std::size_t>(1 + i % 3) * mib / 4);
    b[0] = static_cast<std::uint32_t>(i);
    EXPECT_EQ(b[0], static_cast<std::uint32_t>(i));
  }
  EXPECT_LE(pooled_bytes(), 64 * mib);
  EXPECT_GT(pooled_bytes(), 0u);
}

TEST(BufferTest, WithinARunTheSmallestKeptBlockThatFitsIsReused) {
  const buffer_pool_scope run(256 * mib);
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
  const buffer_pool_scope run(256 * mib);
  { auto small = allocate_buffer<std::byte>(100'000); }
  { auto empty = allocate_buffer<double>(0); }
  EXPECT_EQ(pooled_bytes(), 0u);
}

TEST(BufferTest, ThePoolEndsWithTheLastScopeAndKeepsAtMostTheSmallestBound) {
  {
    const buffer_pool_scope outer(256 * mib);
    {
      const buffer_pool_scope inner(512 * mib);
      // 20 blocks of 16 MiB (virtual memory, never touched): only 16 fit in 256 MiB.
      std::vector<verinit::verify::detail::buffer<std::byte>> blocks;
      for (int i = 0; i < 20; ++i) blocks.push_back(allocate_buffer<std::byte>(16 * mib));
    }
    // The outer scope's bound (256 MiB) holds while both live; the inner's end keeps them.
    EXPECT_EQ(pooled_bytes(), 256 * mib);
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
