// Serial independence: lag-1 autocorrelation and repeated runs.
#include "verinit/verify/independence.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "sums_about.hpp"
#include "vector_clones.hpp"

namespace verinit::verify {
namespace {

template <class T>
test_result autocorrelation_impl(std::span<const T> samples, double mu) {
  constexpr T infinity = std::numeric_limits<T>::infinity();
  const single_pass_sums pass = detail::sums_about(samples, mu, -infinity, infinity, false);
  return autocorrelation_from_sums(pass.lagged, pass.sums.s2,
                                   static_cast<std::int64_t>(samples.size()));
}

}  // namespace

test_result autocorrelation_from_sums(double lagged, double squares, std::int64_t n) {
  test_result r;
  r.name = "autocorrelation";
  const double correlation = squares > 0 ? lagged / squares : 0;
  r.statistic = correlation * std::sqrt(static_cast<double>(n));
  r.p_value = std::isnan(r.statistic) ? 0 : std::erfc(std::abs(r.statistic) / std::sqrt(2.0));
  r.values = {{"lag1_correlation", correlation}};
  r.note = "z = r1 sqrt(n); Ljung-Box with one lag is z^2";
  return r;
}

namespace {

// A 64-bit mix (the finaliser of MurmurHash3, public domain) of a word.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

template <class T>
std::uint64_t bits_of(T value) {
  if constexpr (sizeof(T) == 4)
    return std::bit_cast<std::uint32_t>(value);
  else
    return std::bit_cast<std::uint64_t>(value);
}

}  // namespace

double poisson_upper_tail(double k, double mean) {
  if (k <= 0) return 1;
  if (!(mean > 0)) return 0;
  // Far in the tail gamma_p overflows internally; there P(N >= k) is the first term
  // mean^k e^-mean / k! times at most 1 / (1 - mean / (k + 1)).
  if (k > 2 * mean + 10) {
    const double log_first = k * std::log(mean) - mean - std::lgamma(k + 1);
    if (log_first < -700) return 0;
  }
  return boost::math::gamma_p(k, mean);
}

namespace {

// A window's hash: each sample's bit pattern mixed once, the four combined by rotations (so
// order matters) and mixed again. Inside a piece the per-sample mixes roll along, 2 mixes a
// window instead of 4.
inline std::uint64_t sample_mix(std::uint64_t bits) { return mix(bits ^ 0x9e3779b97f4a7c15ULL); }
inline std::uint64_t combine(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  return mix(a ^ std::rotl(b, 16) ^ std::rotl(c, 32) ^ std::rotl(d, 48));
}
inline std::uint64_t window_hash(const std::uint64_t* w) {
  return combine(sample_mix(w[0]), sample_mix(w[1]), sample_mix(w[2]), sample_mix(w[3]));
}

// Kept hashes are stored in blocks of 4,096 values, each block twice the one before up to 2^18
// (2 MiB, one huge page): a few kept hashes take a few pages, many take whole huge pages.
constexpr std::size_t first_block = std::size_t{1} << 12, largest_block = std::size_t{1} << 18;

// Appends `count` values to a list of blocks, filling its last block first. `expected`, the
// number of values the list will likely hold, sizes its first block.
template <class Block>
void append(std::vector<Block>& blocks, const std::uint64_t* values, std::size_t count,
            std::size_t expected = 0) {
  while (count > 0) {
    if (blocks.empty() || blocks.back().size == blocks.back().capacity) {
      Block fresh;
      fresh.capacity = blocks.empty()
                           ? std::clamp(std::bit_ceil(expected), first_block, largest_block)
                           : std::min(largest_block, 2 * blocks.back().capacity);
      fresh.data = {detail::allocate_buffer<std::uint64_t>(fresh.capacity).release(), std::free};
      blocks.push_back(std::move(fresh));
    }
    Block& last = blocks.back();
    const std::size_t n = std::min(count, last.capacity - last.size);
    std::copy(values, values + n, last.data.get() + last.size);
    last.size += n;
    values += n;
    count -= n;
  }
}

// The hashes of the `count` windows starting at x[0], x[1], ...: the per-sample mixes of a
// block first, then the windows, both in vector lanes; the same values as window_hash.
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

}  // namespace

test_result autocorrelation_test(std::span<const float> samples, double mu) {
  return autocorrelation_impl(samples, mu);
}
test_result autocorrelation_test(std::span<const double> samples, double mu) {
  return autocorrelation_impl(samples, mu);
}
test_result repeated_runs_test(std::span<const float> samples) {
  repeated_runs_accumulator accumulator;
  accumulator.add(samples);
  return accumulator.finish();
}
test_result repeated_runs_test(std::span<const double> samples) {
  repeated_runs_accumulator accumulator;
  accumulator.add(samples);
  return accumulator.finish();
}

repeated_runs_accumulator::repeated_runs_accumulator(int distinguished_bits)
    : bits_(distinguished_bits) {
  if (distinguished_bits < 0 || distinguished_bits > 24)
    throw std::invalid_argument("repeated_runs_accumulator: distinguished_bits must be in [0, 24]");
}

void repeated_runs_accumulator::add(std::span<const float> samples) { add_impl(samples); }
void repeated_runs_accumulator::add(std::span<const double> samples) { add_impl(samples); }

template <class T>
void repeated_runs_accumulator::add_impl(std::span<const T> x) {
  const std::uint64_t mask = (std::uint64_t{1} << bits_) - 1;
  const auto n = static_cast<std::int64_t>(x.size());
  // Windows that start in the carried samples and end in this piece.
  {
    std::uint64_t w[7];
    int count = 0;
    for (int k = 0; k < carried_; ++k) w[count++] = last_[3 - carried_ + k];
    for (std::int64_t i = 0; i < std::min<std::int64_t>(3, n); ++i) w[count++] = bits_of(x[i]);
    for (int start = 0; start + 4 <= count && start < carried_; ++start) {
      const std::uint64_t h = window_hash(w + start);
      ++windows_;
      if ((h & mask) == 0) {
        const std::uint64_t value = h >> bits_;
        append(kept_, &value, 1);
      }
    }
  }
  // Windows inside the piece, in parallel; each thread keeps its own, appended in order.
  const std::int64_t inside = n - 3;
  if (inside > 0) {
    std::vector<std::vector<block>> found(static_cast<std::size_t>(omp_get_max_threads()));
#pragma omp parallel
    {
      const int t = omp_get_thread_num(), team = omp_get_num_threads();
      const std::int64_t begin = inside * t / team, end = inside * (t + 1) / team;
      auto& mine = found[static_cast<std::size_t>(t)];
      const auto expected = static_cast<std::size_t>((end - begin) >> bits_);
      std::uint64_t hashes[window_block], kept[window_block];
      for (std::int64_t i = begin; i < end; i += window_block) {
        const auto count = static_cast<std::int32_t>(std::min<std::int64_t>(window_block, end - i));
        window_hashes(x.data() + i, count, hashes);
        // Kept without a branch (one window in 2^bits, at random: a branch would mispredict).
        std::int32_t found_here = 0;
        for (std::int32_t k = 0; k < count; ++k) {
          kept[found_here] = hashes[k] >> bits_;
          found_here += static_cast<std::int32_t>((hashes[k] & mask) == 0);
        }
        append(mine, kept, static_cast<std::size_t>(found_here), expected);
      }
    }
    // Full blocks are moved in, before the list's partly filled last block if it has one; a
    // thread's partly filled block is copied into that last block. So a stream of many pieces
    // holds at most one partly filled block.
    for (auto& part : found) {
      for (auto& b : part) {
        if (b.size < b.capacity)
          append(kept_, b.data.get(), b.size);
        else if (!kept_.empty() && kept_.back().size < kept_.back().capacity)
          kept_.insert(kept_.end() - 1, std::move(b));
        else
          kept_.push_back(std::move(b));
      }
    }
    windows_ += inside;
  }
  // Carry the stream's last 3 samples.
  for (std::int64_t i = std::max<std::int64_t>(0, n - 3); i < n; ++i) {
    last_[0] = last_[1];
    last_[1] = last_[2];
    last_[2] = bits_of(x[i]);
    carried_ = std::min(3, carried_ + 1);
  }
}

test_result repeated_runs_accumulator::finish() {
  test_result r;
  r.name = "repeated_runs";
  if (windows_ < 2) {
    r.note = "too few samples";
    return r;
  }
  // Counting sort by the top bits of the 64 - bits hash bits (about 4 hashes a bucket, at most
  // 2^16 buckets), in parallel (each thread counts and then moves the hashes of its own
  // blocks), then each bucket sorted (O(1) values under the null). The order inside a bucket
  // depends on the thread count, the sorted bucket not.
  std::size_t size = 0;
  for (const block& part : kept_) size += part.size;
  const int top = std::clamp(static_cast<int>(std::bit_width(size)) - 2, 1, 16);
  const std::int64_t buckets = std::int64_t{1} << top;
  const int shift = 64 - bits_ - top;
  // From huge pages from 512 KiB (see buffer.hpp): faulted in 4 KiB pages the counts would
  // cost more than the counting itself.
  const int threads = omp_get_max_threads();
  const auto position = detail::allocate_buffer<std::int64_t>(static_cast<std::size_t>(threads) *
                                                              static_cast<std::size_t>(buckets));
  const auto start = detail::allocate_buffer<std::int64_t>(static_cast<std::size_t>(buckets) + 1);
  // Uninitialized: the scatter writes every element.
  const auto grouped = detail::allocate_buffer<std::uint64_t>(size);
  const auto parts = static_cast<std::int64_t>(kept_.size());
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const std::int64_t first = parts * t / team, last = parts * (t + 1) / team;
    std::int64_t* const mine = position.get() + std::int64_t{t} * buckets;
    std::fill(mine, mine + buckets, 0);
    for (std::int64_t p = first; p < last; ++p) {
      const block& part = kept_[static_cast<std::size_t>(p)];
      for (std::size_t k = 0; k < part.size; ++k) ++mine[part.data[k] >> shift];
    }
#pragma omp barrier
#pragma omp single
    {
      std::int64_t running = 0;
      for (std::int64_t b = 0; b < buckets; ++b) {
        start[b] = running;
        for (int u = 0; u < team; ++u) {
          std::int64_t& slot = position[std::int64_t{u} * buckets + b];
          const std::int64_t count = slot;
          slot = running;  // now thread u's next write position in bucket b
          running += count;
        }
      }
      start[buckets] = running;
    }
    for (std::int64_t p = first; p < last; ++p) {
      const block& part = kept_[static_cast<std::size_t>(p)];
      for (std::size_t k = 0; k < part.size; ++k)
        grouped[mine[part.data[k] >> shift]++] = part.data[k];
    }
  }
  const double kept = static_cast<double>(size);
  std::vector<block>().swap(kept_);
  std::int64_t repeats = 0;
#pragma omp parallel for schedule(static) reduction(+ : repeats)
  for (std::int64_t b = 0; b < buckets; ++b) {
    std::uint64_t* const first = grouped.get() + start[b];
    std::uint64_t* const last = grouped.get() + start[b + 1];
    std::sort(first, last);
    for (auto i = first + (first != last); i < last; ++i) repeats += *i == *(i - 1);
  }
  const double expected = kept * (kept - 1) / 2 * std::ldexp(1.0, -(64 - bits_));
  r.statistic = static_cast<double>(repeats);
  r.p_value = poisson_upper_tail(static_cast<double>(repeats), expected);
  r.values = {
      {"windows", static_cast<double>(windows_)}, {"kept", kept}, {"null_mean_bound", expected}};
  r.note = "4-sample windows seen before (1 in " + std::to_string(1 << bits_) +
           " kept by hash); Poisson null, mean <= C(kept,2) 2^-" + std::to_string(64 - bits_);
  return r;
}

}  // namespace verinit::verify
