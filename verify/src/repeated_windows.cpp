// Repeated windows (see repeated_windows.hpp).
#include "repeated_windows.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "counting_sort.hpp"
#include "vector_clones.hpp"

namespace verinit::verify::detail {
namespace {

// A 64-bit mix (the finaliser of MurmurHash3, public domain) of a word.
inline std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Each sample's bit pattern mixed once, the four combined by rotations (so order matters) and
// mixed again. Inside a piece the per-sample mixes roll along: 2 mixes a window instead of 4.
inline std::uint64_t sample_mix(std::uint64_t bits) { return mix(bits ^ 0x9e3779b97f4a7c15ULL); }
inline std::uint64_t combine(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  return mix(a ^ std::rotl(b, 16) ^ std::rotl(c, 32) ^ std::rotl(d, 48));
}

// Kept hashes are stored in blocks of 4,096 values, each block twice the one before up to 2^18
// (2 MiB, one huge page): a few kept hashes take a few pages, many take whole huge pages.
constexpr std::size_t first_block = std::size_t{1} << 12, largest_block = std::size_t{1} << 18;

// The hashes of the `count` windows starting at x[0], x[1], ...: the per-sample mixes of a
// block first, then the windows, both in vector lanes; the same values as window_hash. Cloned
// for the widths that vectorise (float32 and float64 read directly, as 32- and 64-bit
// patterns); other dtypes go through their bit patterns widened to 64 bits first.
constexpr std::int32_t window_block = 1024;
template <class T>
[[gnu::always_inline]] inline void window_hashes_body(const T* x, std::int32_t count,
                                                      std::uint64_t* hashes) {
  std::uint64_t mixed[window_block + 3];
  for (std::int32_t k = 0; k < count + 3; ++k) mixed[k] = sample_mix(bits_of(x[k]));
  for (std::int32_t k = 0; k < count; ++k)
    hashes[k] = combine(mixed[k], mixed[k + 1], mixed[k + 2], mixed[k + 3]);
}
VERINIT_VECTOR_CLONES void window_hashes(const float* x, std::int32_t count,
                                         std::uint64_t* hashes) {
  window_hashes_body(x, count, hashes);
}
VERINIT_VECTOR_CLONES void window_hashes(const double* x, std::int32_t count,
                                         std::uint64_t* hashes) {
  window_hashes_body(x, count, hashes);
}
template <class T>
void window_hashes(const T* x, std::int32_t count, std::uint64_t* hashes) {
  window_hashes_body(x, count, hashes);
}

}  // namespace

std::uint64_t window_hash(const std::uint64_t window[4]) noexcept {
  return combine(sample_mix(window[0]), sample_mix(window[1]), sample_mix(window[2]),
                 sample_mix(window[3]));
}

void repeated_windows::append_to(std::vector<block>& blocks, const std::uint64_t* values,
                                 std::size_t count, std::size_t expected) {
  while (count > 0) {
    if (blocks.empty() || blocks.back().size == blocks.back().capacity) {
      block fresh;
      fresh.capacity = blocks.empty()
                           ? std::clamp(std::bit_ceil(expected), first_block, largest_block)
                           : std::min(largest_block, 2 * blocks.back().capacity);
      fresh.data = detail::allocate_buffer<std::uint64_t>(fresh.capacity);
      blocks.push_back(std::move(fresh));
    }
    block& last = blocks.back();
    const std::size_t n = std::min(count, last.capacity - last.size);
    std::copy(values, values + n, last.data.get() + last.size);
    last.size += n;
    values += n;
    count -= n;
  }
}

void repeated_windows::append(const std::uint64_t* values, std::size_t count,
                              std::size_t expected) {
  append_to(kept_, values, count, expected);
}

void repeated_windows::add_window(const std::uint64_t window[4]) {
  const std::uint64_t mask = (std::uint64_t{1} << bits_) - 1;
  const std::uint64_t h = window_hash(window);
  ++windows_;
  if ((h & mask) == 0) {
    const std::uint64_t value = h >> bits_;
    append(&value, 1);
  }
}

template <class T>
void add_inside_typed(std::span<const T> x, int bits, int threads,
                      std::vector<std::vector<repeated_windows_block>>& found) {
  const std::int64_t inside = static_cast<std::int64_t>(x.size()) - 3;
  const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const std::int64_t begin = inside * t / team, end = inside * (t + 1) / team;
    auto& mine = found[static_cast<std::size_t>(t)];
    const auto expected = static_cast<std::size_t>((end - begin) >> bits);
    std::uint64_t hashes[window_block], kept[window_block];
    for (std::int64_t i = begin; i < end; i += window_block) {
      const auto count = static_cast<std::int32_t>(std::min<std::int64_t>(window_block, end - i));
      window_hashes(x.data() + i, count, hashes);
      // Kept without a branch (one window in 2^bits, at random: a branch would mispredict).
      std::int32_t found_here = 0;
      for (std::int32_t k = 0; k < count; ++k) {
        kept[found_here] = hashes[k] >> bits;
        found_here += static_cast<std::int32_t>((hashes[k] & mask) == 0);
      }
      repeated_windows::append_to(mine, kept, static_cast<std::size_t>(found_here), expected);
    }
  }
}

void repeated_windows::add_inside(const tensor_view& samples, int threads) {
  const std::int64_t inside = samples.size() - 3;
  if (inside <= 0) return;
  std::vector<std::vector<block>> found(static_cast<std::size_t>(threads));
  visit_dtype(samples.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    add_inside_typed(samples.elements<T>(), bits_, threads, found);
  });
  repeated_windows part(bits_);
  for (auto& blocks : found)
    for (auto& b : blocks) part.kept_.push_back(std::move(b));
  part.windows_ = inside;
  merge(std::move(part));
}

void repeated_windows::merge(repeated_windows&& other) {
  // Full blocks are moved in, before the list's partly filled last block if it has one; a
  // partly filled block is copied into that last block. So a stream of many pieces holds at
  // most one partly filled block.
  for (auto& b : other.kept_) {
    if (b.size < b.capacity)
      append(b.data.get(), b.size);
    else if (!kept_.empty() && kept_.back().size < kept_.back().capacity)
      kept_.insert(kept_.end() - 1, std::move(b));
    else
      kept_.push_back(std::move(b));
  }
  windows_ += other.windows_;
  other.kept_.clear();
  other.windows_ = 0;
}

void repeated_windows::merge(const repeated_windows& other) {
  for (const auto& b : other.kept_) append(b.data.get(), b.size);
  windows_ += other.windows_;
}

std::int64_t repeated_windows::kept() const noexcept {
  std::size_t size = 0;
  for (const block& part : kept_) size += part.size;
  return static_cast<std::int64_t>(size);
}

window_repeats repeated_windows::count(int threads) const {
  window_repeats out;
  out.windows = windows_;
  out.kept = kept();
  out.bits = bits_;
  const auto size = static_cast<std::size_t>(out.kept);
  if (size < 2) return out;
  // Counting sort by the top bits of the 64 - bits hash bits (about 4 hashes a bucket, at most
  // 2^16 buckets), in parallel (each thread counts and then moves the hashes of its own
  // blocks), then each bucket sorted (O(1) values under the null). The order inside a bucket
  // depends on the thread count, the sorted bucket not.
  const int top = std::clamp(static_cast<int>(std::bit_width(size)) - 2, 1, 16);
  const std::int64_t buckets = std::int64_t{1} << top;
  const int shift = 64 - bits_ - top;
  const auto parts = static_cast<std::int64_t>(kept_.size());
  const auto grouped = detail::allocate_buffer<std::uint64_t>(size);
  thread_bucket_offsets offsets(threads, buckets);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const std::int64_t first = parts * t / team, last = parts * (t + 1) / team;
    std::int64_t* const mine = offsets.counts_of(t);
    for (std::int64_t p = first; p < last; ++p) {
      const block& part = kept_[static_cast<std::size_t>(p)];
      for (std::size_t k = 0; k < part.size; ++k) ++mine[part.data[k] >> shift];
    }
#pragma omp barrier
#pragma omp single
    offsets.to_positions(team);
    for (std::int64_t p = first; p < last; ++p) {
      const block& part = kept_[static_cast<std::size_t>(p)];
      for (std::size_t k = 0; k < part.size; ++k)
        grouped[mine[part.data[k] >> shift]++] = part.data[k];
    }
  }
  std::int64_t repeats = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : repeats)
  for (std::int64_t b = 0; b < buckets; ++b) {
    std::uint64_t* const first = grouped.get() + offsets.start(b);
    std::uint64_t* const last = grouped.get() + offsets.start(b + 1);
    std::sort(first, last);
    for (auto i = first + (first != last); i < last; ++i) repeats += *i == *(i - 1);
  }
  out.repeats = repeats;
  return out;
}

void repeated_windows::append_bytes(std::vector<std::byte>& out) const {
  std::vector<std::uint64_t> all;
  all.reserve(static_cast<std::size_t>(kept()));
  for (const block& b : kept_) all.insert(all.end(), b.data.get(), b.data.get() + b.size);
  std::sort(all.begin(), all.end());
  const auto put = [&](std::uint64_t v) {
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<std::byte>(v >> (8 * b)));
  };
  put(static_cast<std::uint64_t>(windows_));
  put(all.size());
  for (const std::uint64_t v : all) put(v);
}

repeated_windows repeated_windows::from_bytes(std::span<const std::byte> bytes, std::size_t& at,
                                              int bits) {
  const auto get = [&] {
    if (bytes.size() - at < 8)
      throw std::invalid_argument("stream_state: bytes end inside the window hashes");
    std::uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(bytes[at + b]) << (8 * b);
    at += 8;
    return v;
  };
  repeated_windows out(bits);
  out.windows_ = static_cast<std::int64_t>(get());
  const std::uint64_t count = get();
  if (out.windows_ < 0 || count > (bytes.size() - at) / 8 ||
      count > static_cast<std::uint64_t>(out.windows_))
    throw std::invalid_argument("stream_state: window hash count " + std::to_string(count) +
                                " exceeds what the bytes hold");
  std::vector<std::uint64_t> values(static_cast<std::size_t>(count));
  // A kept hash has its `bits` low bits shifted out: anything larger is not one.
  const std::uint64_t limit = bits == 0 ? ~std::uint64_t{0} : (std::uint64_t{1} << (64 - bits)) - 1;
  for (auto& v : values) {
    v = get();
    if (v > limit)
      throw std::invalid_argument("stream_state: a window hash is out of the range of kept hashes");
  }
  out.append(values.data(), values.size(), values.size());
  return out;
}

}  // namespace verinit::verify::detail
