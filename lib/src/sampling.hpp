// Internal: the sampling kernels shared by the parallel and the serial fill.
//
// Every kernel draws its words from a word_source in a fixed order, so its output is a pure
// function of the word stream. Fast paths take one word (float) or two (double) per element
// from a chunk fetched up front; the rare slow paths (ziggurat wedges and tail, rejections)
// draw further words from the same source after that chunk.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

#include "verinit/dtype.hpp"
#include "verinit/engine.hpp"
#include "verinit/law.hpp"
#include "verinit/philox.hpp"

namespace verinit::detail {

/// Elements per chunk: part of the determinism contract (it fixes where slow-path words sit).
inline constexpr std::size_t chunk_size = 256;

/// 32-bit words a kernel's fast path takes per sample of T: one carries float32's 24
/// significant bits, two carry float64's 53. The 16-bit dtypes take one too, but are sampled
/// at float64's resolution and rounded once: where the word's cell of 53-bit values does not
/// decide the rounded value (24 bits alias with their grid near zero: float16's subnormal cells
/// are 2^-24 wide), a second word from the slow-path reader refines it (sampling.cpp).
template <class T>
inline constexpr std::size_t words_per_sample = std::is_same_v<T, double> ? 2 : 1;

/// The Philox4x32-10 stream (seed, stream) as a word_source, generated many counters at a time.
class philox_stream final : public word_source {
 public:
  philox_stream(std::uint64_t seed, std::uint64_t stream) noexcept;
  void generate(std::span<std::uint32_t> words) override;

 private:
  philox4x32::key_type key_;
  std::uint32_t stream_lo_, stream_hi_;
  std::uint64_t position_ = 0;  // next counter (group of 4 words)
  std::array<std::uint32_t, 4> spare_{};
  unsigned spare_count_ = 0;
};

/// Writes the outputs of counters {first + j, stream_lo, stream_hi} for j < groups
/// (4 words each). Vectorised; `first` must not wrap within the call.
/// `vector` selects the AVX-512 or AVX2 kernel where the CPU has it; false forces the portable loop
/// (the same words: tests compare the two).
void philox_groups(philox4x32::key_type key, std::uint64_t first, std::uint32_t stream_lo,
                   std::uint32_t stream_hi, std::uint32_t* out, std::size_t groups,
                   bool vector = true) noexcept;
/// Whether the CPU runs the AVX-512 kernels (the `vector` versions above and below).
bool has_avx512() noexcept;

/// The value map of the 16-bit normal kernels: a standard normal z within [alpha, beta] gives
/// mean + std z, clamped to [low, high] (T's values of the truncation bounds; +-inf for none).
struct normal_map {
  double mean, std, alpha, beta, low, high;
  [[gnu::always_inline]] double operator()(double z) const noexcept {
    return std::clamp(mean + std * z, low, high);
  }
};

/// The 16-bit uniform's value a + width u, for u = k 2^-53 (k < 2^53).
struct uniform_map {
  double a, width;
};

/// The passes' per-sample flags, one bit a sample: sample i's is bit i % 8 of byte i / 8, so an
/// AVX-512 pass stores its 8 lanes' mask as one byte and the caller finds the rare unset flags
/// 64 at a time. flag_bytes(n) bytes hold n flags; the bits past n in the last byte are 0.
constexpr std::size_t flag_bytes(std::size_t n) noexcept { return (n + 7) / 8; }
constexpr bool flag_of(const std::uint8_t* flags, std::size_t i) noexcept {
  return ((flags[i / 8] >> (i % 8)) & 1) != 0;
}

/// The one-word passes of the 16-bit kernels (sampling.cpp): for each word, T's bits of the
/// value at the low end of the word's cell of 53-bit abscissae, and its flag in ok (flag_bytes)
/// set where every abscissa of the cell gives that value (and, for the ziggurat, is accepted by
/// the fast test and lies in [alpha, beta]). The ziggurat's cells take x and ratio, its layer
/// table. `vector` selects the AVX-512 version where the CPU has it; false forces the portable loop
/// (the same bits: tests compare the two).
template <class T>
void ziggurat_cells(const std::uint32_t* words, std::size_t n, const double* x, const double* ratio,
                    const normal_map& map, T* out, std::uint8_t* ok, bool vector = true) noexcept;
template <class T>
void uniform_cells(const std::uint32_t* words, std::size_t n, uniform_map map, T* out,
                   std::uint8_t* ok, bool vector = true) noexcept;

/// The ziggurat's fast pass over one word per sample (the float32 normal's): z[i] = +-u x[layer]
/// at the midpoint u of the word's abscissa cell, and i's flag in ok (flag_bytes) set where the
/// fast test accepts it; the others are the caller's to finish. `vector` selects the AVX2 or
/// AVX-512 version; false forces the portable loop (the same bits: tests compare the two).
void ziggurat_fast_pass(const std::uint32_t* words, std::size_t n, double* z, std::uint8_t* ok,
                        bool vector = true) noexcept;
/// The AVX2 version of that pass alone, for the tests (on an AVX-512 CPU ziggurat_fast_pass takes
/// the AVX-512 one): false, and nothing written, where the CPU lacks AVX2.
bool ziggurat_fast_pass_avx2(const std::uint32_t* words, std::size_t n, double* z,
                             std::uint8_t* ok) noexcept;

/// The ziggurat's layer table (256 layers): x[0..256] the layers' abscissae, ratio[0..255]
/// x[i+1]/x[i], below which a point of layer i is under the curve. For the cell passes' tests.
struct ziggurat_layers {
  std::span<const double> x, ratio;
};
ziggurat_layers ziggurat_layer_table() noexcept;

/// Buffered single-word reads from a word_source (for slow paths).
class word_reader {
 public:
  explicit word_reader(word_source& source) noexcept : source_(&source) {}
  std::uint32_t next() {
    if (position_ == buffer_.size()) {
      source_->generate(buffer_);
      position_ = 0;
    }
    return buffer_[position_++];
  }
  std::uint64_t next64() {
    const std::uint64_t low = next();
    return low | std::uint64_t{next()} << 32;
  }
  /// Uniform on (0, 1], 53 bits.
  double uniform_open0() { return static_cast<double>((next64() >> 11) + 1) * 0x1p-53; }
  /// Uniform on [0, 1), 53 bits.
  double uniform() { return static_cast<double>(next64() >> 11) * 0x1p-53; }
  /// Uniform integer in [0, range), range >= 1 (Lemire 2019, unbiased).
  std::uint64_t bounded(std::uint64_t range);
  /// Standard normal by the ziggurat (one sample, any path).
  double standard_normal();

 private:
  word_source* source_;
  std::array<std::uint32_t, chunk_size> buffer_{};
  std::size_t position_ = chunk_size;
};

/// float32/float64: U[T(a), T(b)), requires T(a) < T(b) and T(b) - T(a) finite. The 16-bit
/// dtypes: U[a, b) at 53 bits, computed in double and rounded once to nearest even, so T(b)
/// can occur (the law of a correct 16-bit weight, see fill.hpp).
template <class T>
void sample_uniform(std::span<T> out, double a, double b, word_source& source);
/// N(mean, std^2) by a 256-layer ziggurat (Marsaglia & Tsang 2000).
template <class T>
void sample_normal(std::span<T> out, double mean, double std, word_source& source);
/// N(mean, std^2) on [a, b], by exact rejection, clamped to [T(a), T(b)] after rounding.
template <class T>
void sample_truncated_normal(std::span<T> out, const truncated_normal_law& law,
                             word_source& source);

}  // namespace verinit::detail
