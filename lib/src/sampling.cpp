// Sampling kernels: uniform, ziggurat normal, truncated normal.
//
// References:
// - Marsaglia & Tsang, "The ziggurat method for generating random variables", J. Stat. Softw.
//   5(8), 2000: the layered rejection sampler; Marsaglia 1964 for the tail beyond r.
//   Index, sign and abscissa come from disjoint bits of one word, which avoids the correlation
//   Doornik ("An improved ziggurat method", 2005) found in the original's reuse of bits.
// - Robert, "Simulation of truncated normal variables", Stat. Comput. 5, 1995: exponential
//   and uniform proposals for tails and narrow intervals.
// - Lemire, "Fast random integer generation in an interval", ACM TOMACS 29(1), 2019.
#include "sampling.hpp"

#include <algorithm>
#include <bit>
#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <cstring>
// GCC 12's AVX-512 intrinsics read a self-initialised `_mm512_undefined_epi32()` and warn about
// it at their own lines (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#include <limits>

// Function multiversioning (target_clones: an ifunc whose resolver the dynamic loader runs).
// ThreadSanitizer instruments the resolvers, which then run before its runtime is up and
// crash: under it (the tsan preset) every function is built for the baseline alone, the same
// bits. Clang does not multiversion templates at all (VERINIT_AVX2_TEMPLATE_CLONES).
#if defined(__SANITIZE_THREAD__)
#define VERINIT_NO_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VERINIT_NO_CLONES
#endif
#endif
#if defined(VERINIT_NO_CLONES)
#define VERINIT_CLONES(...)
#else
#define VERINIT_CLONES(...) [[gnu::target_clones(__VA_ARGS__)]]
#endif

namespace verinit::detail {
namespace {

// ---- Philox ---------------------------------------------------------------------------------

// Lanes per vector step. The portable loop is written lane-wise so the compiler turns the
// 32x32->64 multiplies into vpmuludq (target_clones: AVX2 where the CPU has it); AVX-512 CPUs
// run the intrinsics version below. Integer arithmetic only, so every version returns the
// same bits.
constexpr std::size_t lanes = 16;
constexpr std::uint32_t philox_m0 = philox4x32::multiplier0, philox_m1 = philox4x32::multiplier1;
constexpr std::uint32_t philox_w0 = philox4x32::key_step0, philox_w1 = philox4x32::key_step1;

VERINIT_CLONES("avx2", "default")
void philox_lanes_portable(philox4x32::key_type key, std::uint64_t first, std::uint32_t stream_lo,
                           std::uint32_t stream_hi, std::uint32_t* out,
                           std::size_t groups) noexcept {
  for (std::size_t base = 0; base < groups; base += lanes) {
    std::uint32_t x0[lanes], x1[lanes], x2[lanes], x3[lanes];
    const auto position_hi = static_cast<std::uint32_t>((first + base) >> 32);
    for (std::size_t l = 0; l < lanes; ++l) {
      x0[l] = static_cast<std::uint32_t>(first + base + l);
      x1[l] = position_hi;
      x2[l] = stream_lo;
      x3[l] = stream_hi;
    }
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      for (std::size_t l = 0; l < lanes; ++l) {
        const std::uint64_t p0 = std::uint64_t{philox_m0} * x0[l];
        const std::uint64_t p1 = std::uint64_t{philox_m1} * x2[l];
        const auto y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1[l] ^ k0;
        const auto y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3[l] ^ k1;
        x1[l] = static_cast<std::uint32_t>(p1);
        x3[l] = static_cast<std::uint32_t>(p0);
        x0[l] = y0;
        x2[l] = y2;
      }
      k0 += philox_w0;
      k1 += philox_w1;
    }
    const std::size_t count = std::min(lanes, groups - base);
    for (std::size_t l = 0; l < count; ++l) {
      std::uint32_t* group = out + 4 * (base + l);
      group[0] = x0[l];
      group[1] = x1[l];
      group[2] = x2[l];
      group[3] = x3[l];
    }
  }
}

// The same 16 lanes written with AVX-512 intrinsics: GCC builds the lane-wise loop's 32x32->64
// products as full 64x64 multiplies (three vpmuludq each) and spends as much again moving
// halves; here each product is two vpmuludq (even and odd lanes) and two blends, the three-way
// xors are one vpternlogd, and the 4x16 words are transposed into counter order in registers.
// Measured on the fill of 10^7 float32 normals (fill_bench BM_Fill_Normal/1): see the README.
// (p >> 32, p mod 2^32) of the 32x32->64 products x[l] * m, lane by lane.
[[gnu::target("avx512f"), gnu::always_inline]] inline void multiply_lanes(__m512i x, __m512i m,
                                                                          __m512i& high,
                                                                          __m512i& low) noexcept {
  constexpr __mmask16 odd = 0xAAAA;
  const __m512i even = _mm512_mul_epu32(x, m);
  const __m512i odds = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
  high = _mm512_mask_blend_epi32(odd, _mm512_srli_epi64(even, 32), odds);
  low = _mm512_mask_blend_epi32(odd, even, _mm512_slli_epi64(odds, 32));
}

[[gnu::target("avx512f")]] void philox_lanes_avx512(philox4x32::key_type key, std::uint64_t first,
                                                    std::uint32_t stream_lo,
                                                    std::uint32_t stream_hi, std::uint32_t* out,
                                                    std::size_t groups) noexcept {
  const __m512i m0 = _mm512_set1_epi64(philox_m0);
  const __m512i m1 = _mm512_set1_epi64(philox_m1);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (std::size_t base = 0; base < groups; base += lanes) {
    __m512i x0 = _mm512_add_epi32(
        _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first + base))), iota);
    __m512i x1 =
        _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>((first + base) >> 32)));
    __m512i x2 = _mm512_set1_epi32(static_cast<int>(stream_lo));
    __m512i x3 = _mm512_set1_epi32(static_cast<int>(stream_hi));
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      __m512i high0, low0, high1, low1;
      multiply_lanes(x0, m0, high0, low0);
      multiply_lanes(x2, m1, high1, low1);
      // 0x96: a ^ b ^ c.
      x0 = _mm512_ternarylogic_epi32(high1, x1, _mm512_set1_epi32(static_cast<int>(k0)), 0x96);
      x2 = _mm512_ternarylogic_epi32(high0, x3, _mm512_set1_epi32(static_cast<int>(k1)), 0x96);
      x1 = low1;
      x3 = low0;
      k0 += philox_w0;
      k1 += philox_w1;
    }
    // Transpose: within each 128-bit lane k, u_j holds group 4k + j; then regroup the lanes.
    const __m512i t0 = _mm512_unpacklo_epi32(x0, x1), t1 = _mm512_unpackhi_epi32(x0, x1);
    const __m512i t2 = _mm512_unpacklo_epi32(x2, x3), t3 = _mm512_unpackhi_epi32(x2, x3);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    const __m512i a = _mm512_shuffle_i32x4(u0, u1, 0x88);  // groups 0, 8, 1, 9
    const __m512i b = _mm512_shuffle_i32x4(u0, u1, 0xDD);  // 4, 12, 5, 13
    const __m512i c = _mm512_shuffle_i32x4(u2, u3, 0x88);  // 2, 10, 3, 11
    const __m512i d = _mm512_shuffle_i32x4(u2, u3, 0xDD);  // 6, 14, 7, 15
    const __m512i ordered[4] = {_mm512_shuffle_i32x4(a, c, 0x88), _mm512_shuffle_i32x4(b, d, 0x88),
                                _mm512_shuffle_i32x4(a, c, 0xDD), _mm512_shuffle_i32x4(b, d, 0xDD)};
    const std::size_t count = std::min(lanes, groups - base);
    std::uint32_t* dst = out + 4 * base;
    if (count == lanes) {
      for (int v = 0; v < 4; ++v) _mm512_storeu_si512(dst + 16 * v, ordered[v]);
    } else {
      alignas(64) std::uint32_t words[4 * lanes];
      for (int v = 0; v < 4; ++v) _mm512_store_si512(words + 16 * v, ordered[v]);
      std::copy_n(words, 4 * count, dst);
    }
  }
}

// The same 16 lanes on AVX2, as two 8-lane halves whose rounds interleave (two independent
// chains of multiplies): each product is two vpmuludq and two blends, as above; the three-way
// xors are two vpxor. On a 2-core AMD EPYC without AVX-512 the portable loop's clone gave
// 279 M uniform floats/s on one thread with 55 % of the time in it (perf, fill_bench
// BM_Fill_Uniform/1); see the README for this kernel's figures.
[[gnu::target("avx2"), gnu::always_inline]] inline void multiply_lanes(__m256i x, __m256i m,
                                                                       __m256i& high,
                                                                       __m256i& low) noexcept {
  const __m256i even = _mm256_mul_epu32(x, m);
  const __m256i odds = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
  high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odds, 0xAA);
  low = _mm256_blend_epi32(even, _mm256_slli_epi64(odds, 32), 0xAA);
}

[[gnu::target("avx2")]] void philox_lanes_avx2(philox4x32::key_type key, std::uint64_t first,
                                               std::uint32_t stream_lo, std::uint32_t stream_hi,
                                               std::uint32_t* out, std::size_t groups) noexcept {
  constexpr int halves = 2;
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(philox_m0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(philox_m1));
  const __m256i iota[halves] = {_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)};
  for (std::size_t base = 0; base < groups; base += lanes) {
    // As the other kernels: the low counter word is (first + base) mod 2^32 plus the lane,
    // the high word that of first + base for all 16 lanes.
    const __m256i low_word =
        _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first + base)));
    __m256i x0[halves], x1[halves], x2[halves], x3[halves];
    for (int h = 0; h < halves; ++h) {
      x0[h] = _mm256_add_epi32(low_word, iota[h]);
      x1[h] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>((first + base) >> 32)));
      x2[h] = _mm256_set1_epi32(static_cast<int>(stream_lo));
      x3[h] = _mm256_set1_epi32(static_cast<int>(stream_hi));
    }
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0));
      const __m256i key1 = _mm256_set1_epi32(static_cast<int>(k1));
      for (int h = 0; h < halves; ++h) {
        __m256i high0, low0, high1, low1;
        multiply_lanes(x0[h], m0, high0, low0);
        multiply_lanes(x2[h], m1, high1, low1);
        x0[h] = _mm256_xor_si256(_mm256_xor_si256(high1, x1[h]), key0);
        x2[h] = _mm256_xor_si256(_mm256_xor_si256(high0, x3[h]), key1);
        x1[h] = low1;
        x3[h] = low0;
      }
      k0 += philox_w0;
      k1 += philox_w1;
    }
    const std::size_t count = std::min(lanes, groups - base);
    alignas(32) std::uint32_t words[4 * lanes];
    std::uint32_t* dst = count == lanes ? out + 4 * base : words;
    for (int h = 0; h < halves; ++h) {
      // Transpose: within each 128-bit lane k, u_j holds group 4k + j of this half.
      const __m256i t0 = _mm256_unpacklo_epi32(x0[h], x1[h]);
      const __m256i t1 = _mm256_unpackhi_epi32(x0[h], x1[h]);
      const __m256i t2 = _mm256_unpacklo_epi32(x2[h], x3[h]);
      const __m256i t3 = _mm256_unpackhi_epi32(x2[h], x3[h]);
      const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
      const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
      auto* half = reinterpret_cast<__m256i*>(dst + 32 * h);
      _mm256_storeu_si256(half + 0, _mm256_permute2x128_si256(u0, u1, 0x20));  // groups 0, 1
      _mm256_storeu_si256(half + 1, _mm256_permute2x128_si256(u2, u3, 0x20));  // 2, 3
      _mm256_storeu_si256(half + 2, _mm256_permute2x128_si256(u0, u1, 0x31));  // 4, 5
      _mm256_storeu_si256(half + 3, _mm256_permute2x128_si256(u2, u3, 0x31));  // 6, 7
    }
    if (count != lanes) std::copy_n(words, 4 * count, out + 4 * base);
  }
}

bool has_avx512f() noexcept {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

bool has_avx512bw() noexcept {
  static const bool yes = has_avx512f() && __builtin_cpu_supports("avx512bw");
  return yes;
}

bool has_avx2() noexcept {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

void philox_lanes(philox4x32::key_type key, std::uint64_t first, std::uint32_t stream_lo,
                  std::uint32_t stream_hi, std::uint32_t* out, std::size_t groups) noexcept {
  if (has_avx512f())
    philox_lanes_avx512(key, first, stream_lo, stream_hi, out, groups);
  else if (has_avx2())
    philox_lanes_avx2(key, first, stream_lo, stream_hi, out, groups);
  else
    philox_lanes_portable(key, first, stream_lo, stream_hi, out, groups);
}

// ---- Ziggurat tables ------------------------------------------------------------------------

constexpr int layers = 256;

struct ziggurat_table {
  std::array<double, layers + 1> x{};  // x[0] = v/f(r) (base strip), x[1] = r, x[256] = 0
  std::array<double, layers + 1> f{};  // f(x[i]) = exp(-x[i]^2/2)
  std::array<double, layers> ratio{};  // x[i+1]/x[i]: below it, a point is under the curve
  double r = 0;
};

double gauss(double x) { return std::exp(-0.5 * x * x); }

// Layer areas all equal v(r) = r f(r) + integral_r^inf f. Builds the layers up from r and
// returns how far the last one overshoots f = 1 (zero at the r we want).
double build_layers(double r, ziggurat_table& t) {
  const double v = r * gauss(r) + std::sqrt(M_PI / 2) * std::erfc(r / std::sqrt(2.0));
  t.r = r;
  t.x[0] = v / gauss(r);
  t.x[1] = r;
  for (int i = 1; i < layers - 1; ++i) {
    const double height = gauss(t.x[i]) + v / t.x[i];
    if (height >= 1) return 1;  // r too small: the layers reach the top early
    t.x[i + 1] = std::sqrt(-2 * std::log(height));
  }
  return gauss(t.x[layers - 1]) + v / t.x[layers - 1] - 1;
}

ziggurat_table make_table() {
  // Solve for r by bisection to double precision rather than trusting a published constant
  // (Marsaglia & Tsang give r = 3.6541528853610088 for 256 layers; this reproduces it). The
  // upper end of the final bracket is the r of the golden values in sampling_test.cpp.
  ziggurat_table t;
  std::uintmax_t iterations = 200;
  const auto bracket = boost::math::tools::bisect(
      [&](double r) { return build_layers(r, t); }, 3.0, 4.0,
      [](double low, double high) { return high - low <= 1e-15; }, iterations);
  build_layers(bracket.second, t);
  t.x[layers] = 0;
  for (int i = 0; i <= layers; ++i) t.f[i] = gauss(t.x[i]);
  for (int i = 0; i < layers; ++i) t.ratio[i] = t.x[i + 1] / t.x[i];
  return t;
}

const ziggurat_table& table() {
  static const ziggurat_table t = make_table();
  return t;
}

// Magnitude of a standard normal after the fast test failed for (layer, u).
double ziggurat_slow(int layer, double u, word_reader& extra) {
  const ziggurat_table& t = table();
  while (true) {
    if (layer == 0) {  // the tail beyond r (Marsaglia 1964)
      while (true) {
        const double a = -std::log(extra.uniform_open0()) / t.r;
        const double b = -std::log(extra.uniform_open0());
        if (2 * b > a * a) return t.r + a;
      }
    }
    const double z = u * t.x[layer];
    if (t.f[layer] + extra.uniform() * (t.f[layer + 1] - t.f[layer]) < gauss(z)) return z;
    const std::uint64_t bits = extra.next64();
    layer = static_cast<int>(bits & 0xff);
    u = (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
    if (u < t.ratio[layer]) return u * t.x[layer];
  }
}

// Stores flag(i) for i < n as bits (flag_bytes), 64 at a time: a block's flags are collected as
// bytes first, so a loop body the compiler vectorises stays vectorised, then packed 8 to a byte.
// With each byte k of x 0 or 1, x 0x0102040810204080 carries byte k's bit to bit 56 + k; the
// partial products land at distinct bits (8k - 7j is distinct for j, k < 8), so none carries.
template <class F>
[[gnu::always_inline]] inline void store_flag_bits(std::size_t n, std::uint8_t* __restrict flags,
                                                   F&& flag) {
  for (std::size_t base = 0; base < n; base += 64) {
    const std::size_t m = std::min<std::size_t>(64, n - base);
    std::uint8_t bytes[64] = {};
    for (std::size_t j = 0; j < m; ++j) bytes[j] = flag(base + j) ? 1 : 0;
    for (std::size_t g = 0; g < flag_bytes(m); ++g) {
      std::uint64_t x = 0;
      for (int k = 7; k >= 0; --k) x = x << 8 | bytes[8 * g + k];
      flags[base / 8 + g] = static_cast<std::uint8_t>((x * 0x0102040810204080u) >> 56);
    }
  }
}

// Fast ziggurat pass over a chunk: one word (float) or two (double) per element, with bits
// 0-7 the layer, bit 8 the sign and the top 23 (float) or 53 (double) bits the abscissa u, at
// the midpoint of its cell: u = (m + 1/2) 2^-23 lies in (0, 1), so z is never exactly 0 (with
// u = m 2^-23, one draw in 2^23 gave z = 0, which sparse's exact zero count noticed). Writes z[i] =
// +-u*x[layer] and i's flag set where the point lies under the curve (u < x[layer+1]/x[layer]); the
// rare others (~0.7%) are finished by the caller, in order. Branch-free so it vectorises with
// gathers; the same double arithmetic on every clone.
[[gnu::always_inline]] inline void ziggurat_fast32_loop(const std::uint32_t* __restrict words,
                                                        std::size_t n, const double* __restrict x,
                                                        const double* __restrict ratio,
                                                        double* __restrict z,
                                                        std::uint8_t* __restrict ok) noexcept {
  store_flag_bits(n, ok, [&](std::size_t i) {
    const std::uint32_t bits = words[i];
    const std::uint32_t layer = bits & 0xff;
    const double u = (static_cast<double>(bits >> 9) + 0.5) * 0x1p-23;
    const double magnitude = u * x[layer];
    // The sign bit moved into the double's sign: a branch here would mispredict half the time.
    const std::uint64_t sign = std::uint64_t{bits & 0x100} << 55;
    z[i] = std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) ^ sign);
    return u < ratio[layer];
  });
}

// (No AVX-512 clone: AVX-512 CPUs run ziggurat_fast32_avx512.)
VERINIT_CLONES("avx2", "default")
void ziggurat_fast32(const std::uint32_t* __restrict words, std::size_t n,
                     const double* __restrict x, const double* __restrict ratio,
                     double* __restrict z, std::uint8_t* __restrict ok) noexcept {
  ziggurat_fast32_loop(words, n, x, ratio, z, ok);
}

// The portable loop alone (the tests' reference for the vector passes).
void ziggurat_fast32_default(const std::uint32_t* __restrict words, std::size_t n,
                             const double* __restrict x, const double* __restrict ratio,
                             double* __restrict z, std::uint8_t* __restrict ok) noexcept {
  ziggurat_fast32_loop(words, n, x, ratio, z, ok);
}

// ziggurat_fast32 on AVX2 with the table read by scalar loads (the same arithmetic, 4 lanes):
// words[0..4)'s z and their flags, the low 4 bits of the result.
[[gnu::target("avx2"), gnu::always_inline]] inline int ziggurat_fast32_avx2_four(
    const std::uint32_t* __restrict words, const double* __restrict x,
    const double* __restrict ratio, double* __restrict z) noexcept {
  const __m256d cell = _mm256_set1_pd(0x1p-23), half = _mm256_set1_pd(0.5);
  const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(words));
  const __m256d x_layer = _mm256_setr_pd(x[words[0] & 0xff], x[words[1] & 0xff], x[words[2] & 0xff],
                                         x[words[3] & 0xff]);
  const __m256d ratio_layer = _mm256_setr_pd(ratio[words[0] & 0xff], ratio[words[1] & 0xff],
                                             ratio[words[2] & 0xff], ratio[words[3] & 0xff]);
  const __m256d u =
      _mm256_mul_pd(_mm256_add_pd(_mm256_cvtepi32_pd(_mm_srli_epi32(w, 9)), half), cell);
  const __m256i sign =
      _mm256_slli_epi64(_mm256_cvtepu32_epi64(_mm_and_si128(w, _mm_set1_epi32(0x100))), 55);
  _mm256_storeu_pd(z, _mm256_castsi256_pd(
                          _mm256_xor_si256(_mm256_castpd_si256(_mm256_mul_pd(u, x_layer)), sign)));
  return _mm256_movemask_pd(_mm256_cmp_pd(u, ratio_layer, _CMP_LT_OQ));
}

[[gnu::target("avx2")]] void ziggurat_fast32_avx2(const std::uint32_t* __restrict words,
                                                  std::size_t n, const double* __restrict x,
                                                  const double* __restrict ratio,
                                                  double* __restrict z,
                                                  std::uint8_t* __restrict ok) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    ok[i / 8] = static_cast<std::uint8_t>(
        ziggurat_fast32_avx2_four(words + i, x, ratio, z + i) |
        ziggurat_fast32_avx2_four(words + i + 4, x, ratio, z + i + 4) << 4);
  ziggurat_fast32_default(words + i, n - i, x, ratio, z + i, ok + i / 8);
}

// The AVX-512 passes' shared steps. The layer table of 8 words (their low bytes) read by eight
// scalar loads: a 512-bit gather is microcoded on AMD's Zen 4, and with two of them the 16-bit
// cell pass ran at 2/3 of the speed (bfloat16 normal fill, 1 thread: 395 M/s with gathers, 609
// without).
struct layer_lanes {
  __m512d x, ratio;
};
[[gnu::target("avx512f"), gnu::always_inline]] inline layer_lanes layers_of(
    const std::uint32_t* words, const double* x, const double* ratio) noexcept {
  alignas(64) double x_of[8], ratio_of[8];
  for (int k = 0; k < 8; ++k) {
    const std::uint32_t layer = words[k] & 0xff;
    x_of[k] = x[layer];
    ratio_of[k] = ratio[layer];
  }
  return {_mm512_load_pd(x_of), _mm512_load_pd(ratio_of)};
}

// ziggurat_fast32 on AVX-512, 8 lanes a step, the table read by scalar loads: GCC's clone of
// the loop gathers (vgatherdpd, microcoded on AMD's Zen 4), and this loop ran the float32
// normal fill faster (fill_bench BM_Fill_Normal/1: 476 -> 605 M/s, README *Sampling*). The same
// arithmetic as the loop: (m + 1/2) 2^-23 and one product, exact conversions, no FMA.
[[gnu::target("avx512f")]] void ziggurat_fast32_avx512(const std::uint32_t* __restrict words,
                                                       std::size_t n, const double* __restrict x,
                                                       const double* __restrict ratio,
                                                       double* __restrict z,
                                                       std::uint8_t* __restrict ok) noexcept {
  const __m512d cell = _mm512_set1_pd(0x1p-23), half = _mm512_set1_pd(0.5);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i));
    const layer_lanes layer = layers_of(words + i, x, ratio);
    const __m512d u =
        _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi32_pd(_mm256_srli_epi32(w, 9)), half), cell);
    const __m512i sign =
        _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_and_si256(w, _mm256_set1_epi32(0x100))), 55);
    _mm512_storeu_pd(z + i, _mm512_castsi512_pd(_mm512_xor_si512(
                                _mm512_castpd_si512(_mm512_mul_pd(u, layer.x)), sign)));
    ok[i / 8] = _mm512_cmp_pd_mask(u, layer.ratio, _CMP_LT_OQ);
  }
  ziggurat_fast32_default(words + i, n - i, x, ratio, z + i, ok + i / 8);
}

VERINIT_CLONES("avx512f", "avx2", "default")
void ziggurat_fast64(const std::uint32_t* __restrict words, std::size_t n,
                     const double* __restrict x, const double* __restrict ratio,
                     double* __restrict z, std::uint8_t* __restrict ok) noexcept {
  store_flag_bits(n, ok, [&](std::size_t i) {
    const std::uint64_t bits = std::uint64_t{words[2 * i]} | std::uint64_t{words[2 * i + 1]} << 32;
    const auto layer = static_cast<std::uint32_t>(bits & 0xff);
    const double u = (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
    const double magnitude = u * x[layer];
    // The sign bit moved into the double's sign: a branch here would mispredict half the time.
    const std::uint64_t sign = std::uint64_t{bits & 0x100} << 55;
    z[i] = std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) ^ sign);
    return u < ratio[layer];
  });
}

// ---- 16-bit kernels: one word per sample, a second where the first does not decide ---------
//
// A 16-bit sample is a value computed in double at 53 bits, rounded once to nearest even (the
// law of issue 11: F rounded to T). The fast passes below take one word per sample: its bits
// name a cell of 53-bit abscissae (the top 23 bits of the ziggurat's u, the top 32 of the
// uniform's), and where every abscissa of the cell gives the same rounded value (and, for the
// ziggurat, is accepted by the fast test and lies within the truncation) that value is the
// sample of all of them, so it is written at once. The other cells -- those across a rounding
// boundary of T or ending on one (a few in 10^4 for a normal), those below T's smallest normal
// or across zero, across the acceptance edge, in a wedge or the tail (~1%), or across a
// truncation bound -- draw a second word for the abscissa's low bits, in index order, and are
// finished at 53 bits. The output's law is therefore exactly that of the 53-bit sampler, at
// about half its words.

// Whether every double between a and b (either order) rounds to one value of T, and that
// value's bits. In a double's bits, T's normal values are the multiples of 2^s (s = 52 - F) and
// the midpoints between neighbours the odd multiples of 2^(s-1), in every binade alike (and the
// midpoint above T's largest value is where rounding overflows). floor((m + 2^(s-1)) / 2^s)
// steps up at each midpoint m, so for magnitudes lo <= hi of one sign, at least T's smallest
// normal, no midpoint lies in [lo, hi] (neither inside nor at an end, where a tie rounds to
// even) exactly when it agrees for hi and for lo - 1. Every double in between then rounds to
// that number less T's exponent re-bias, capped at infinity: Format::round's result without
// its tie and subnormal cases, which an undecided cell leaves to Format::round at 53 bits.
template <class Format>
struct cell_rounding {
  static constexpr int shift = 52 - Format::fraction_bits;
  static constexpr std::uint64_t half = std::uint64_t{1} << (shift - 1);
  static constexpr std::uint64_t magnitude_mask = ~(std::uint64_t{1} << 63);
  static constexpr std::uint64_t smallest_normal = std::uint64_t{1023 + Format::min_exponent} << 52;
  static constexpr std::uint64_t rebias = std::uint64_t{1023 - Format::bias}
                                          << Format::fraction_bits;

  [[gnu::always_inline]] static bool decide(double a, double b, std::uint16_t& bits) noexcept {
    const std::uint64_t ba = std::bit_cast<std::uint64_t>(a), bb = std::bit_cast<std::uint64_t>(b);
    const std::uint64_t lo = std::min(ba & magnitude_mask, bb & magnitude_mask);
    const std::uint64_t hi = std::max(ba & magnitude_mask, bb & magnitude_mask);
    const std::uint64_t k_lo = (lo + half - 1) >> shift, k_hi = (hi + half) >> shift;
    bits = static_cast<std::uint16_t>(
        ((ba >> 48) & 0x8000) | std::min<std::uint64_t>(k_hi - rebias, Format::infinity_bits));
    return ((ba ^ bb) >> 63 == 0) & (lo >= smallest_normal) & (k_lo == k_hi);
  }
};

// Bounded: the map clamps and truncates. Without bounds (alpha, beta, low, high infinite) the
// clamp and the range test change nothing for finite values and are left out.
template <class T, bool Bounded>
void ziggurat_cells_loop(const std::uint32_t* __restrict words, std::size_t n,
                         const double* __restrict x, const double* __restrict ratio,
                         const normal_map& map, T* __restrict out,
                         std::uint8_t* __restrict ok) noexcept {
  store_flag_bits(n, ok, [&](std::size_t i) {
    const std::uint32_t bits = words[i];
    const std::uint32_t layer = bits & 0xff;
    const double u_low = static_cast<double>(bits >> 9) * 0x1p-23;
    const double u_high = u_low + 0x1p-23;
    const double sign = (bits & 0x100) != 0 ? -1.0 : 1.0;
    // The cell's ends, in either order (by the sign).
    const double z_low = sign * (u_low * x[layer]), z_high = sign * (u_high * x[layer]);
    bool decided;
    if constexpr (Bounded) {
      const bool inside =
          z_low >= map.alpha && z_low <= map.beta && z_high >= map.alpha && z_high <= map.beta;
      decided =
          cell_rounding<typename T::format>::decide(map(z_low), map(z_high), out[i].bits) && inside;
    } else {
      decided = cell_rounding<typename T::format>::decide(map.mean + map.std * z_low,
                                                          map.mean + map.std * z_high, out[i].bits);
    }
    return u_high < ratio[layer] && decided;
  });
}

template <class T>
void uniform_cells_loop(const std::uint32_t* __restrict words, std::size_t n, uniform_map map,
                        T* __restrict out, std::uint8_t* __restrict ok) noexcept {
  store_flag_bits(n, ok, [&](std::size_t i) {
    const double u_low = static_cast<double>(words[i]) * 0x1p-32;
    return cell_rounding<typename T::format>::decide(
        map.a + map.width * u_low, map.a + map.width * (u_low + 0x1p-32), out[i].bits);
  });
}

// The cell passes in AVX-512, 8 samples a step: GCC 12 does not vectorise the loops above (the
// mix of double and 64-bit integer lanes defeats it: -fopt-info-vec), so these do the same
// operations lane by lane, without fused multiply-adds: the same bits and flags as the loops
// (SamplingTest.VectorCellPassesEqualThePortableLoops compares them).

// cell_rounding::decide on 8 lanes: T's bits as 64-bit integers, and the decided lanes.
template <class Format>
[[gnu::target("avx512f"), gnu::always_inline]] inline __mmask8 decide_lanes(
    __m512d a, __m512d b, __m512i& bits) noexcept {
  using c = cell_rounding<Format>;
  const __m512i ba = _mm512_castpd_si512(a), bb = _mm512_castpd_si512(b);
  const __m512i magnitude_mask = _mm512_set1_epi64(static_cast<long long>(c::magnitude_mask));
  const __m512i ma = _mm512_and_si512(ba, magnitude_mask);
  const __m512i mb = _mm512_and_si512(bb, magnitude_mask);
  const __m512i lo = _mm512_min_epu64(ma, mb), hi = _mm512_max_epu64(ma, mb);
  const __m512i k_lo =
      _mm512_srli_epi64(_mm512_add_epi64(lo, _mm512_set1_epi64(c::half - 1)), c::shift);
  const __m512i k_hi =
      _mm512_srli_epi64(_mm512_add_epi64(hi, _mm512_set1_epi64(c::half)), c::shift);
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi64(ba, 48), _mm512_set1_epi64(0x8000));
  bits =
      _mm512_or_si512(sign, _mm512_min_epu64(_mm512_sub_epi64(k_hi, _mm512_set1_epi64(c::rebias)),
                                             _mm512_set1_epi64(Format::infinity_bits)));
  // One sign: the xor's sign bit clear, a signed xor >= 0.
  return _mm512_cmpge_epi64_mask(_mm512_xor_si512(ba, bb), _mm512_setzero_si512()) &
         _mm512_cmpge_epu64_mask(lo, _mm512_set1_epi64(c::smallest_normal)) &
         _mm512_cmpeq_epi64_mask(k_lo, k_hi);
}

// Stores 8 lanes' bits of T and their flags (one byte).
[[gnu::target("avx512f"), gnu::always_inline]] inline void store_lanes(__m512i bits, __mmask8 good,
                                                                       void* out,
                                                                       std::uint8_t* ok) noexcept {
  _mm_storeu_si128(static_cast<__m128i*>(out), _mm512_cvtepi64_epi16(bits));
  *ok = good;
}

// normal_map on 8 lanes: min then max is the clamp for a value that is not NaN.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512d map_lanes(const normal_map& map,
                                                                        __m512d z) noexcept {
  const __m512d v =
      _mm512_add_pd(_mm512_set1_pd(map.mean), _mm512_mul_pd(_mm512_set1_pd(map.std), z));
  return _mm512_max_pd(_mm512_min_pd(v, _mm512_set1_pd(map.high)), _mm512_set1_pd(map.low));
}

template <class T, bool Bounded>
[[gnu::target("avx512f")]] void ziggurat_cells_avx512(const std::uint32_t* __restrict words,
                                                      std::size_t n, const double* __restrict x,
                                                      const double* __restrict ratio,
                                                      const normal_map& map, T* __restrict out,
                                                      std::uint8_t* __restrict ok) noexcept {
  const __m512d mean = _mm512_set1_pd(map.mean), std = _mm512_set1_pd(map.std);
  const __m512d alpha = _mm512_set1_pd(map.alpha), beta = _mm512_set1_pd(map.beta);
  const __m512d cell = _mm512_set1_pd(0x1p-23);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i));
    const auto [x_layer, ratio_layer] = layers_of(words + i, x, ratio);
    const __m512d u_low = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm256_srli_epi32(w, 9)), cell);
    const __m512d u_high = _mm512_add_pd(u_low, cell);
    // The sign bit moved into the double's: the loop's multiplication by -1 or 1, exactly.
    const __m512i sign =
        _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_and_si256(w, _mm256_set1_epi32(0x100))), 55);
    const __m512d z_low = _mm512_castsi512_pd(
        _mm512_xor_si512(_mm512_castpd_si512(_mm512_mul_pd(u_low, x_layer)), sign));
    const __m512d z_high = _mm512_castsi512_pd(
        _mm512_xor_si512(_mm512_castpd_si512(_mm512_mul_pd(u_high, x_layer)), sign));
    __m512i bits;
    __mmask8 good = _mm512_cmp_pd_mask(u_high, ratio_layer, _CMP_LT_OQ);
    if constexpr (Bounded) {
      good &=
          decide_lanes<typename T::format>(map_lanes(map, z_low), map_lanes(map, z_high), bits) &
          _mm512_cmp_pd_mask(z_low, alpha, _CMP_GE_OQ) &
          _mm512_cmp_pd_mask(z_low, beta, _CMP_LE_OQ) &
          _mm512_cmp_pd_mask(z_high, alpha, _CMP_GE_OQ) &
          _mm512_cmp_pd_mask(z_high, beta, _CMP_LE_OQ);
    } else {
      good &=
          decide_lanes<typename T::format>(_mm512_add_pd(mean, _mm512_mul_pd(std, z_low)),
                                           _mm512_add_pd(mean, _mm512_mul_pd(std, z_high)), bits);
    }
    store_lanes(bits, good, out + i, ok + i / 8);
  }
  ziggurat_cells_loop<T, Bounded>(words + i, n - i, x, ratio, map, out + i, ok + i / 8);
}

// Stores 16 lanes' bits of T from two 8-lane results whose lanes' low 16 bits hold the
// magnitudes: one word permute (vpermt2w) gathers them, a masked 16-bit add of 0x8000 gives the
// negative ones their sign (the magnitude is below it), and the two flag bytes go as one word.
// In place of two narrowing moves (vpmovqw) and the sign's shifts and or in 64-bit lanes.
[[gnu::target("avx512f,avx512bw"), gnu::always_inline]] inline void store_sixteen(
    __m512i low, __m512i high, __mmask32 negative, __mmask8 decided_low, __mmask8 decided_high,
    void* out, std::uint8_t* ok) noexcept {
  // Word 4k of each 8-lane result is lane k's low 16 bits: the first's, then the second's.
  alignas(64) static constexpr std::uint16_t low_words[32] = {0,  4,  8,  12, 16, 20, 24, 28,
                                                              32, 36, 40, 44, 48, 52, 56, 60};
  __m512i packed = _mm512_permutex2var_epi16(low, _mm512_load_si512(low_words), high);
  packed = _mm512_mask_add_epi16(packed, negative, packed, _mm512_set1_epi16(-0x8000));
  _mm256_storeu_si256(static_cast<__m256i*>(out), _mm512_castsi512_si256(packed));
  const auto flags = static_cast<std::uint16_t>(decided_low | decided_high << 8);
  std::memcpy(ok, &flags, sizeof flags);
}

// ziggurat_cells_avx512 for normal(0, std), std > 0, without bounds (He, LeCun, Glorot, most
// inits): 0 + std z is std z (but for z = -0, whose cell the general pass does not decide
// either: below the smallest normal), its magnitude std (u x) for both ends of the cell and its
// sign the word's, so cell_rounding::decide reduces to the two magnitudes in order -- no
// absolute values, minimum, maximum or sign test -- and the sign is the word's bit 8, set by
// store_sixteen. The same flags as the loop, and the same bits where the flag is set (an
// undecided lane's bits, which no caller reads, may differ: for z = -0 the loop's 0 + std z is
// +0); SamplingTest.VectorCellPassesEqualThePortableLoops runs normal(0, 1), (0, 0.02) and
// (0, 1e-6) through both.
template <class T>
struct centred_normal_lanes {
  using c = cell_rounding<typename T::format>;
  __m512d std, cell;
  __m512i round_low, round_high, rebias, cap, smallest;

  [[gnu::target("avx512f"),
    gnu::always_inline]] explicit centred_normal_lanes(double deviation) noexcept
      : std(_mm512_set1_pd(deviation)),
        cell(_mm512_set1_pd(0x1p-23)),
        round_low(_mm512_set1_epi64(c::half - 1)),
        round_high(_mm512_set1_epi64(c::half)),
        rebias(_mm512_set1_epi64(c::rebias)),
        cap(_mm512_set1_epi64(T::format::infinity_bits)),
        smallest(_mm512_set1_epi64(c::smallest_normal)) {}

  // 8 words' magnitudes in T (each lane's low 16 bits) and the lanes decided.
  [[gnu::target("avx512f"), gnu::always_inline]] __m512i operator()(
      const std::uint32_t* words, const double* x, const double* ratio,
      __mmask8& decided) const noexcept {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words));
    const auto [x_layer, ratio_layer] = layers_of(words, x, ratio);
    const __m512d u_low = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm256_srli_epi32(w, 9)), cell);
    const __m512d u_high = _mm512_add_pd(u_low, cell);
    const __m512i lo = _mm512_castpd_si512(_mm512_mul_pd(std, _mm512_mul_pd(u_low, x_layer)));
    const __m512i hi = _mm512_castpd_si512(_mm512_mul_pd(std, _mm512_mul_pd(u_high, x_layer)));
    const __m512i k_lo = _mm512_srli_epi64(_mm512_add_epi64(lo, round_low), c::shift);
    const __m512i k_hi = _mm512_srli_epi64(_mm512_add_epi64(hi, round_high), c::shift);
    decided = _mm512_cmp_pd_mask(u_high, ratio_layer, _CMP_LT_OQ) &
              _mm512_cmpeq_epi64_mask(k_lo, k_hi) & _mm512_cmpge_epu64_mask(lo, smallest);
    return _mm512_min_epu64(_mm512_sub_epi64(k_hi, rebias), cap);
  }
};

template <class T>
[[gnu::target("avx512f,avx512bw")]] void ziggurat_cells_centred_avx512(
    const std::uint32_t* __restrict words, std::size_t n, const double* __restrict x,
    const double* __restrict ratio, const normal_map& map, T* __restrict out,
    std::uint8_t* __restrict ok) noexcept {
  const centred_normal_lanes<T> lanes(map.std);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __mmask8 decided_low, decided_high;
    const __m512i low = lanes(words + i, x, ratio, decided_low);
    const __m512i high = lanes(words + i + 8, x, ratio, decided_high);
    const __mmask32 negative =
        _mm512_test_epi32_mask(_mm512_loadu_si512(words + i), _mm512_set1_epi32(0x100));
    store_sixteen(low, high, negative, decided_low, decided_high, out + i, ok + i / 8);
  }
  ziggurat_cells_loop<T, false>(words + i, n - i, x, ratio, map, out + i, ok + i / 8);
}

template <class T>
[[gnu::target("avx512f")]] void uniform_cells_avx512(const std::uint32_t* __restrict words,
                                                     std::size_t n, uniform_map map,
                                                     T* __restrict out,
                                                     std::uint8_t* __restrict ok) noexcept {
  const __m512d a = _mm512_set1_pd(map.a), width = _mm512_set1_pd(map.width);
  const __m512d cell = _mm512_set1_pd(0x1p-32);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i));
    const __m512d u_low = _mm512_mul_pd(_mm512_cvtepu32_pd(w), cell);
    __m512i bits;
    const __mmask8 decided = decide_lanes<typename T::format>(
        _mm512_add_pd(a, _mm512_mul_pd(width, u_low)),
        _mm512_add_pd(a, _mm512_mul_pd(width, _mm512_add_pd(u_low, cell))), bits);
    store_lanes(bits, decided, out + i, ok + i / 8);
  }
  uniform_cells_loop(words + i, n - i, map, out + i, ok + i / 8);
}

// uniform_cells_avx512 for a map whose cell ends come in order (width > 0) and whose step
// width 2^-32 is a normal double, in fewer operations, with the same flags and the same bits
// where the flag is set:
// - a + width (w 2^-32) and a + width ((w + 1) 2^-32) are a + W w and a + W (w + 1) with
//   W = width 2^-32 exactly (scaling by 2^-32 commutes with rounding while W is normal);
// - the ends are in order, v_low <= v_high (rounding is monotone), so one sign and both
//   smaller magnitude is v_low's where v_low >= 0 and v_high's where not (two blends on the
//   signed bits, whose sign bit rides above the magnitude's rounding sum: no carry reaches it
//   below infinity), and one sign with both magnitudes at least T's smallest normal sn is that
//   smaller one's bits, unsigned, at least sn's where v_low >= 0 (v_low >= sn) and at least
//   -sn's where not (v_high <= -sn: a positive v_high's bits are below);
// - T's bits are k_hi less the re-bias (the sign now at bit 63 - shift, moved down to bit 15),
//   capped at infinity only where |a| + width reaches T's largest value (Capped).
template <class T, bool Capped>
struct ordered_uniform_lanes {
  using c = cell_rounding<typename T::format>;
  static constexpr int sign_at = 63 - c::shift;
  __m512d a, step, one;
  __m512i smallest, smallest_negative, zero, round_low, round_high, rebias, cap, cap_negative;

  [[gnu::target("avx512f"),
    gnu::always_inline]] explicit ordered_uniform_lanes(uniform_map map) noexcept
      : a(_mm512_set1_pd(map.a)),
        step(_mm512_set1_pd(map.width * 0x1p-32)),
        one(_mm512_set1_pd(1.0)),
        smallest(_mm512_set1_epi64(c::smallest_normal)),
        smallest_negative(
            _mm512_set1_epi64(static_cast<long long>(c::smallest_normal | std::uint64_t{1} << 63))),
        zero(_mm512_setzero_si512()),
        round_low(_mm512_set1_epi64(c::half - 1)),
        round_high(_mm512_set1_epi64(c::half)),
        rebias(_mm512_set1_epi64(c::rebias)),
        cap(_mm512_set1_epi64(T::format::infinity_bits)),
        cap_negative(_mm512_set1_epi64(
            static_cast<long long>((std::uint64_t{1} << sign_at) | T::format::infinity_bits))) {}

  // 8 words' magnitudes in T (each lane's low 16 bits; the sign left to the caller), the lanes
  // whose value is negative and those decided.
  [[gnu::target("avx512f"), gnu::always_inline]] __m512i operator()(
      const std::uint32_t* words, __mmask8& negative, __mmask8& decided) const noexcept {
    const __m512d k =
        _mm512_cvtepu32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(words)));
    const __m512d v_low = _mm512_add_pd(a, _mm512_mul_pd(step, k));
    const __m512d v_high = _mm512_add_pd(a, _mm512_mul_pd(step, _mm512_add_pd(k, one)));
    const __m512i b_low = _mm512_castpd_si512(v_low), b_high = _mm512_castpd_si512(v_high);
    negative = _mm512_cmplt_epi64_mask(b_low, zero);
    const __m512i lo = _mm512_mask_blend_epi64(negative, b_low, b_high);
    const __m512i hi = _mm512_mask_blend_epi64(negative, b_high, b_low);
    const __m512i k_lo = _mm512_srli_epi64(_mm512_add_epi64(lo, round_low), c::shift);
    const __m512i k_hi = _mm512_srli_epi64(_mm512_add_epi64(hi, round_high), c::shift);
    decided = _mm512_cmpge_epu64_mask(
                  lo, _mm512_mask_blend_epi64(negative, smallest, smallest_negative)) &
              _mm512_cmpeq_epi64_mask(k_lo, k_hi);
    const __m512i bits = _mm512_sub_epi64(k_hi, rebias);
    if constexpr (Capped)
      return _mm512_min_epu64(bits, _mm512_mask_blend_epi64(negative, cap, cap_negative));
    return bits;
  }
};

// The pass, 16 words a step: two steps of 8 lanes stored by store_sixteen.
template <class T, bool Capped>
[[gnu::target("avx512f,avx512bw")]] void uniform_cells_ordered_avx512(
    const std::uint32_t* __restrict words, std::size_t n, uniform_map map, T* __restrict out,
    std::uint8_t* __restrict ok) noexcept {
  const ordered_uniform_lanes<T, Capped> lanes(map);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __mmask8 negative_low, negative_high, decided_low, decided_high;
    const __m512i low = lanes(words + i, negative_low, decided_low);
    const __m512i high = lanes(words + i + 8, negative_high, decided_high);
    store_sixteen(low, high, negative_low | static_cast<__mmask32>(negative_high) << 8, decided_low,
                  decided_high, out + i, ok + i / 8);
  }
  uniform_cells_loop(words + i, n - i, map, out + i, ok + i / 8);
}

}  // namespace

ziggurat_layers ziggurat_layer_table() noexcept {
  const auto& t = table();
  return {t.x, t.ratio};
}

void ziggurat_fast_pass(const std::uint32_t* words, std::size_t n, double* z, std::uint8_t* ok,
                        bool vector) noexcept {
  // The hand-written passes read the layer table by scalar loads, where the compiler's clone
  // gathers: fill_bench BM_Fill_Normal/1 (float32) on an AMD EPYC without AVX-512 ran at
  // 373 M/s against 312 with GCC's gathers, and on one with AVX-512 at 605 M/s against 476
  // (medians of 3, interleaved).
  static const bool avx2 = !has_avx512f() && has_avx2();
  const auto& t = table();
  if (vector && has_avx512f())
    ziggurat_fast32_avx512(words, n, t.x.data(), t.ratio.data(), z, ok);
  else if (vector && avx2)
    ziggurat_fast32_avx2(words, n, t.x.data(), t.ratio.data(), z, ok);
  else if (vector)
    ziggurat_fast32(words, n, t.x.data(), t.ratio.data(), z, ok);
  else
    ziggurat_fast32_default(words, n, t.x.data(), t.ratio.data(), z, ok);
}

bool ziggurat_fast_pass_avx2(const std::uint32_t* words, std::size_t n, double* z,
                             std::uint8_t* ok) noexcept {
  if (!has_avx2()) return false;
  const auto& t = table();
  ziggurat_fast32_avx2(words, n, t.x.data(), t.ratio.data(), z, ok);
  return true;
}

template <class T>
void ziggurat_cells(const std::uint32_t* words, std::size_t n, const double* x, const double* ratio,
                    const normal_map& map, T* out, std::uint8_t* ok, bool vector) noexcept {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const bool bounded = map.alpha != -inf || map.beta != inf || map.low != -inf || map.high != inf;
  if (vector && has_avx512f()) {
    if (!bounded && map.mean == 0 && map.std > 0 && has_avx512bw())
      ziggurat_cells_centred_avx512<T>(words, n, x, ratio, map, out, ok);
    else if (bounded)
      ziggurat_cells_avx512<T, true>(words, n, x, ratio, map, out, ok);
    else
      ziggurat_cells_avx512<T, false>(words, n, x, ratio, map, out, ok);
  } else {
    if (bounded)
      ziggurat_cells_loop<T, true>(words, n, x, ratio, map, out, ok);
    else
      ziggurat_cells_loop<T, false>(words, n, x, ratio, map, out, ok);
  }
}

template <class T>
void uniform_cells(const std::uint32_t* words, std::size_t n, uniform_map map, T* out,
                   std::uint8_t* ok, bool vector) noexcept {
  if (vector && has_avx512f()) {
    // The ordered pass wants width > 0 with width 2^-32 normal; the cap, values that may reach
    // T's largest (|a| + width at least it).
    using F = typename T::format;
    const double largest = F::power_of_two(F::bias) * (2 - F::power_of_two(-F::fraction_bits));
    if (!has_avx512bw() ||
        !(map.width >= 0x1p-990 && map.width < std::numeric_limits<double>::infinity()))
      uniform_cells_avx512(words, n, map, out, ok);
    else if (std::abs(map.a) + map.width < largest)
      uniform_cells_ordered_avx512<T, false>(words, n, map, out, ok);
    else
      uniform_cells_ordered_avx512<T, true>(words, n, map, out, ok);
  } else {
    uniform_cells_loop(words, n, map, out, ok);
  }
}

template void ziggurat_cells(const std::uint32_t*, std::size_t, const double*, const double*,
                             const normal_map&, bfloat16_t*, std::uint8_t*, bool) noexcept;
template void ziggurat_cells(const std::uint32_t*, std::size_t, const double*, const double*,
                             const normal_map&, float16_t*, std::uint8_t*, bool) noexcept;
template void uniform_cells(const std::uint32_t*, std::size_t, uniform_map, bfloat16_t*,
                            std::uint8_t*, bool) noexcept;
template void uniform_cells(const std::uint32_t*, std::size_t, uniform_map, float16_t*,
                            std::uint8_t*, bool) noexcept;

namespace {

// Calls fix(i), in index order, for each i < n whose flag in ok (flag_bytes) is unset. Nearly
// every flag is set, so 64 are tested at a time (with a byte a flag, the scan of eight at a time
// was 13 % of the bfloat16 uniform fill).
template <class F>
[[gnu::always_inline]] inline void for_each_unset(const std::uint8_t* ok, std::size_t n, F&& fix) {
  for (std::size_t base = 0; base < n; base += 64) {
    const std::size_t m = std::min<std::size_t>(64, n - base);
    std::uint64_t set = 0;
    if (m == 64 && std::endian::native == std::endian::little)
      std::memcpy(&set, ok + base / 8, sizeof set);
    else
      for (std::size_t g = 0; g < flag_bytes(m); ++g)
        set |= std::uint64_t{ok[base / 8 + g]} << (8 * g);
    std::uint64_t unset = m == 64 ? ~set : ~set & ((std::uint64_t{1} << m) - 1);
    for (; unset != 0; unset &= unset - 1)
      fix(base + static_cast<std::size_t>(std::countr_zero(unset)));
  }
}

// Fills z[0..n) (n <= chunk_size) with standard normals: the fast pass, then the slow path
// for the points it could not accept, in index order, drawing from `extra`.
template <class T>
void standard_normal_chunk(std::size_t n, word_source& source, word_reader& extra, double* z,
                           std::uint8_t* ok) {
  constexpr std::size_t words_per = words_per_sample<T>;
  const ziggurat_table& t = table();
  std::uint32_t words[chunk_size * words_per];
  source.generate(std::span(words, n * words_per));
  if constexpr (words_per == 1)
    ziggurat_fast_pass(words, n, z, ok);
  else
    ziggurat_fast64(words, n, t.x.data(), t.ratio.data(), z, ok);
  for_each_unset(ok, n, [&](std::size_t i) {
    // Recover (layer, u) from the word: the slow path continues that same point.
    std::uint64_t bits = words[words_per * i];
    if constexpr (words_per == 2) bits |= std::uint64_t{words[2 * i + 1]} << 32;
    const int layer = static_cast<int>(bits & 0xff);
    const double u = words_per == 1 ? (static_cast<double>(bits >> 9) + 0.5) * 0x1p-23
                                    : (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
    const double magnitude = ziggurat_slow(layer, u, extra);
    z[i] = (bits & 0x100) != 0 ? -magnitude : magnitude;
  });
}

// Fills out[0..n) (n <= chunk_size) with 16-bit samples of map(z), z a standard normal within
// [map.alpha, map.beta]: the one-word cell pass, then the cells it could not decide, in index
// order, at 53 bits: u = (m 2^30 + r + 1/2) 2^-53 with m the word's 23-bit abscissa and r 30
// bits of the next word from `extra` (the midpoint convention of the 53-bit pass; for u >= 1/2
// the + 1/2 rounds, so u can reach the cell's upper end (m + 1) 2^-23, which is why the cell pass
// accepts only cells whose upper end is below the ratio, strictly), then the ziggurat's fast test
// or slow path, then rejection from the whole normal until z is within.
template <class T>
void rounded_normal_chunk(std::size_t n, word_source& source, word_reader& extra,
                          const normal_map& map, T* out) {
  const ziggurat_table& t = table();
  std::uint32_t words[chunk_size];
  std::uint8_t ok[flag_bytes(chunk_size)];
  source.generate(std::span(words, n));
  ziggurat_cells(words, n, t.x.data(), t.ratio.data(), map, out, ok);
  for_each_unset(ok, n, [&](std::size_t i) {
    const std::uint32_t bits = words[i];
    const int layer = static_cast<int>(bits & 0xff);
    const std::uint64_t k = std::uint64_t{bits >> 9} << 30 | extra.next() >> 2;
    const double u = (static_cast<double>(k) + 0.5) * 0x1p-53;
    const double magnitude = u < t.ratio[layer] ? u * t.x[layer] : ziggurat_slow(layer, u, extra);
    double z = (bits & 0x100) != 0 ? -magnitude : magnitude;
    while (z < map.alpha || z > map.beta) z = extra.standard_normal();
    out[i] = round_to<T>(map(z));
  });
}

// Fills `out` with 16-bit samples of map(z), chunk by chunk (rounded_normal_chunk).
template <class T>
void rounded_normal_fill(std::span<T> out, const normal_map& map, word_source& source,
                         word_reader& extra) {
  for (std::size_t start = 0; start < out.size(); start += chunk_size)
    rounded_normal_chunk(std::min(chunk_size, out.size() - start), source, extra, map,
                         out.data() + start);
}

// ---- Truncated normal -----------------------------------------------------------------------

// Upper-tail probability Q(x) = P(Z > x), accurate for large x.
double upper_tail(double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); }

enum class truncated_method { normal_rejection, tail, centre };

// One standard normal on [alpha, beta] when not rejecting from the normal: Robert 1995.
// tail: 0 <= alpha < beta. A uniform proposal on [alpha, beta] accepted with probability
// exp((alpha^2 - z^2)/2) when (beta-alpha)(beta+alpha) <= 2 (acceptance >= 1/e); otherwise
// alpha + Exp(lambda*), lambda* = (alpha + sqrt(alpha^2+4))/2, accepted with probability
// exp(-(z-lambda*)^2/2) and z <= beta (acceptance >= ~0.37 over that region).
// centre: alpha < 0 < beta with small mass, so a narrow interval: uniform proposal accepted
// with probability exp(-z^2/2).
double truncated_rejection(truncated_method method, double alpha, double beta, word_reader& extra) {
  if (method == truncated_method::centre) {
    while (true) {
      const double z = alpha + (beta - alpha) * extra.uniform();
      if (extra.uniform() < gauss(z) && z >= alpha && z <= beta) return z;
    }
  }
  if ((beta - alpha) * (beta + alpha) <= 2) {
    while (true) {
      const double z = alpha + (beta - alpha) * extra.uniform();
      if (extra.uniform() < std::exp(0.5 * (alpha - z) * (alpha + z)) && z <= beta) return z;
    }
  }
  const double lambda = (alpha + std::sqrt(alpha * alpha + 4)) / 2;
  while (true) {
    const double z = alpha - std::log(extra.uniform_open0()) / lambda;
    if (z <= beta && extra.uniform() < gauss(z - lambda)) return z;
  }
}

// x rounded to T, kept in [low, high] (bounds of T): a truncated normal's z lies in
// [alpha, beta], but mean + std z can round past a bound of T by the double arithmetic.
template <class T>
T clamp_to(double x, T low, T high) {
  const T value = round_to<T>(x);
  if (to_double(value) < to_double(low)) return low;
  if (to_double(value) > to_double(high)) return high;
  return value;
}

}  // namespace

// ---- philox_stream --------------------------------------------------------------------------

philox_stream::philox_stream(std::uint64_t seed, std::uint64_t stream) noexcept
    : key_(philox4x32::key_of(seed)),
      stream_lo_(static_cast<std::uint32_t>(stream)),
      stream_hi_(static_cast<std::uint32_t>(stream >> 32)) {}

void philox_groups(philox4x32::key_type key, std::uint64_t first, std::uint32_t stream_lo,
                   std::uint32_t stream_hi, std::uint32_t* out, std::size_t groups,
                   bool vector) noexcept {
  if (vector)
    philox_lanes(key, first, stream_lo, stream_hi, out, groups);
  else
    philox_lanes_portable(key, first, stream_lo, stream_hi, out, groups);
}

bool has_avx512() noexcept { return has_avx512f(); }

void philox_stream::generate(std::span<std::uint32_t> words) {
  std::size_t done = 0;
  while (done < words.size() && spare_count_ > 0) words[done++] = spare_[4 - spare_count_--];
  while (done < words.size()) {
    // Full groups straight into the output, never crossing a 2^32 boundary of the counter.
    const std::uint64_t to_wrap = (std::uint64_t{1} << 32) - (position_ & 0xffffffffu);
    const std::size_t groups =
        static_cast<std::size_t>(std::min<std::uint64_t>((words.size() - done) / 4, to_wrap));
    if (groups > 0) {
      philox_lanes(key_, position_, stream_lo_, stream_hi_, words.data() + done, groups);
      position_ += groups;
      done += 4 * groups;
      continue;
    }
    philox_lanes(key_, position_, stream_lo_, stream_hi_, spare_.data(), 1);
    ++position_;
    spare_count_ = 4;
    while (done < words.size() && spare_count_ > 0) words[done++] = spare_[4 - spare_count_--];
  }
}

// ---- word_reader ----------------------------------------------------------------------------

std::uint64_t word_reader::bounded(std::uint64_t range) {
  __uint128_t product = static_cast<__uint128_t>(next64()) * range;
  auto low = static_cast<std::uint64_t>(product);
  if (low < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      product = static_cast<__uint128_t>(next64()) * range;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

double word_reader::standard_normal() {
  const std::uint64_t bits = next64();
  const int layer = static_cast<int>(bits & 0xff);
  const double u = (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
  const ziggurat_table& t = table();
  const double magnitude = u < t.ratio[layer] ? u * t.x[layer] : ziggurat_slow(layer, u, *this);
  return (bits & 0x100) != 0 ? -magnitude : magnitude;
}

// ---- kernels --------------------------------------------------------------------------------

// The 16-bit dtypes' uniform: U[a, b) at 53 bits, u = k 2^-53, computed in double and rounded
// once; one word (k's top 32 bits) where it decides the rounded value, the next word's top 21
// bits for k's low bits where it does not.
template <class T>
void sample_uniform_rounded(std::span<T> out, double a, double b, word_source& source) {
  const uniform_map map{a, b - a};
  word_reader extra(source);
  std::uint32_t words[chunk_size];
  std::uint8_t ok[flag_bytes(chunk_size)];
  for (std::size_t start = 0; start < out.size(); start += chunk_size) {
    const std::size_t n = std::min(chunk_size, out.size() - start);
    T* dst = out.data() + start;
    source.generate(std::span(words, n));
    uniform_cells(words, n, map, dst, ok);
    for_each_unset(ok, n, [&](std::size_t i) {
      const std::uint64_t k = std::uint64_t{words[i]} << 21 | extra.next() >> 11;
      dst[i] = round_to<T>(map.a + map.width * (static_cast<double>(k) * 0x1p-53));
    });
  }
}

// AVX2 clones of the two function templates below. Clang (the fuzz and tsan presets'
// compiler) does not multiversion templates: there they are built for the baseline alone (the
// same bits).
#if defined(__clang__)
#define VERINIT_AVX2_TEMPLATE_CLONES
#else
#define VERINIT_AVX2_TEMPLATE_CLONES VERINIT_CLONES("avx2", "default")
#endif

// U[low, high) in T from words_per_sample<T> words each: computed in double, rounded once.
// Integer-to-double, multiply, add and convert are exact or correctly rounded in every clone,
// and "avx2" does not imply FMA, so no clone contracts the multiply-add: the same bits.
template <class T>
VERINIT_AVX2_TEMPLATE_CLONES void uniform_of_words(const std::uint32_t* __restrict words,
                                                   std::size_t n, T low, T high, T below_high,
                                                   double width, T* __restrict dst) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    double u;
    if constexpr (words_per_sample<T> == 1) {
      u = static_cast<double>(words[i] >> 8) * 0x1p-24;
    } else {
      u = static_cast<double>(
              (std::uint64_t{words[2 * i]} | std::uint64_t{words[2 * i + 1]} << 32) >> 11) *
          0x1p-53;
    }
    const T x = static_cast<T>(static_cast<double>(low) + width * u);
    // Rounding to T can reach `high` when u is within half an ulp of 1.
    dst[i] = x < high ? x : below_high;
  }
}

template <class T>
void sample_uniform(std::span<T> out, double a, double b, word_source& source) {
  if constexpr (!std::is_floating_point_v<T>) {
    sample_uniform_rounded(out, a, b, source);
  } else {
    const T low = static_cast<T>(a);
    const T high = static_cast<T>(b);
    const T below_high = std::nextafter(high, low);
    const double width = static_cast<double>(high) - static_cast<double>(low);
    constexpr std::size_t words_per = words_per_sample<T>;
    std::uint32_t words[chunk_size * words_per];
    for (std::size_t start = 0; start < out.size(); start += chunk_size) {
      const std::size_t n = std::min(chunk_size, out.size() - start);
      source.generate(std::span(words, n * words_per));
      uniform_of_words(words, n, low, high, below_high, width, out.data() + start);
    }
  }
}

// dst[i] = mean + std z[i], rounded once to T (no clone contracts it: see uniform_of_words).
template <class T>
VERINIT_AVX2_TEMPLATE_CLONES void scale_normals(const double* __restrict z, std::size_t n,
                                                double mean, double std,
                                                T* __restrict dst) noexcept {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(mean + std * z[i]);
}

template <class T>
void sample_normal(std::span<T> out, double mean, double std, word_source& source) {
  word_reader extra(source);
  if constexpr (!std::is_floating_point_v<T>) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    rounded_normal_fill(out, {mean, std, -inf, inf, -inf, inf}, source, extra);
  } else {
    double z[chunk_size];
    std::uint8_t ok[flag_bytes(chunk_size)];
    for (std::size_t start = 0; start < out.size(); start += chunk_size) {
      const std::size_t n = std::min(chunk_size, out.size() - start);
      standard_normal_chunk<T>(n, source, extra, z, ok);
      scale_normals(z, n, mean, std, out.data() + start);
    }
  }
}

template <class T>
void sample_truncated_normal(std::span<T> out, const truncated_normal_law& law,
                             word_source& source) {
  const double alpha = (law.a - law.mean) / law.std;
  const double beta = (law.b - law.mean) / law.std;
  const T low = round_to<T>(law.a);
  const T high = round_to<T>(law.b);
  // Probability of [alpha, beta], computed on the side where it does not cancel.
  const double mass = alpha >= 0  ? upper_tail(alpha) - upper_tail(beta)
                      : beta <= 0 ? upper_tail(-beta) - upper_tail(-alpha)
                                  : 1 - upper_tail(beta) - upper_tail(-alpha);
  word_reader extra(source);
  if (mass >= 0.3) {  // plain rejection from the ziggurat: at most 1/0.3 normals per sample
    if constexpr (!std::is_floating_point_v<T>) {
      // Rounding is monotone: clamping in double to the bounds' values of T, then rounding,
      // is rounding then clamping.
      rounded_normal_fill(out, {law.mean, law.std, alpha, beta, to_double(low), to_double(high)},
                          source, extra);
    } else {
      double z[chunk_size];
      std::uint8_t ok[flag_bytes(chunk_size)];
      for (std::size_t start = 0; start < out.size(); start += chunk_size) {
        const std::size_t n = std::min(chunk_size, out.size() - start);
        standard_normal_chunk<T>(n, source, extra, z, ok);
        for (std::size_t i = 0; i < n; ++i)
          while (z[i] < alpha || z[i] > beta) z[i] = extra.standard_normal();
        T* dst = out.data() + start;
        for (std::size_t i = 0; i < n; ++i)
          dst[i] = clamp_to<T>(law.mean + law.std * z[i], low, high);
      }
    }
    return;
  }
  // Mirror a lower tail onto the upper one.
  const bool mirrored = beta <= 0;
  const double lo = mirrored ? -beta : alpha;
  const double hi = mirrored ? -alpha : beta;
  const truncated_method method = lo >= 0 ? truncated_method::tail : truncated_method::centre;
  for (T& value : out) {
    const double z = truncated_rejection(method, lo, hi, extra);
    value = clamp_to<T>(law.mean + law.std * (mirrored ? -z : z), low, high);
  }
}

template void sample_uniform<float>(std::span<float>, double, double, word_source&);
template void sample_uniform<double>(std::span<double>, double, double, word_source&);
template void sample_normal<float>(std::span<float>, double, double, word_source&);
template void sample_normal<double>(std::span<double>, double, double, word_source&);
template void sample_truncated_normal<float>(std::span<float>, const truncated_normal_law&,
                                             word_source&);
template void sample_truncated_normal<double>(std::span<double>, const truncated_normal_law&,
                                              word_source&);
template void sample_uniform<float16_t>(std::span<float16_t>, double, double, word_source&);
template void sample_uniform<bfloat16_t>(std::span<bfloat16_t>, double, double, word_source&);
template void sample_normal<float16_t>(std::span<float16_t>, double, double, word_source&);
template void sample_normal<bfloat16_t>(std::span<bfloat16_t>, double, double, word_source&);
template void sample_truncated_normal<float16_t>(std::span<float16_t>, const truncated_normal_law&,
                                                 word_source&);
template void sample_truncated_normal<bfloat16_t>(std::span<bfloat16_t>,
                                                  const truncated_normal_law&, word_source&);

}  // namespace verinit::detail
