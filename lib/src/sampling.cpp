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
#include <limits>

namespace verinit::detail {
namespace {

// ---- Philox ---------------------------------------------------------------------------------

// Lanes per vector step. The loops below are written lane-wise so the compiler turns the
// 32x32->64 multiplies into vpmuludq; target_clones picks the widest ISA at load time. Integer
// arithmetic only, so every clone returns the same bits.
constexpr std::size_t lanes = 16;

[[gnu::target_clones("avx512f", "avx2", "default")]] void philox_lanes(
    philox4x32::key_type key, std::uint64_t first, std::uint32_t stream_lo, std::uint32_t stream_hi,
    std::uint32_t* out, std::size_t groups) noexcept {
  constexpr std::uint64_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
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
        const std::uint64_t p0 = m0 * x0[l];
        const std::uint64_t p1 = m1 * x2[l];
        const auto y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1[l] ^ k0;
        const auto y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3[l] ^ k1;
        x1[l] = static_cast<std::uint32_t>(p1);
        x3[l] = static_cast<std::uint32_t>(p0);
        x0[l] = y0;
        x2[l] = y2;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
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

// Fast ziggurat pass over a chunk: one word (float) or two (double) per element, with bits
// 0-7 the layer, bit 8 the sign and the top 23 (float) or 53 (double) bits the abscissa u, at
// the midpoint of its cell: u = (m + 1/2) 2^-23 lies in (0, 1), so z is never exactly 0 (with
// u = m 2^-23, one draw in 2^23 gave z = 0, which sparse's exact zero count noticed). Writes z[i] =
// +-u*x[layer] and ok[i] = 1 where the point lies under the curve (u < x[layer+1]/x[layer]); the
// rare others (~0.7%) are finished by the caller, in order. Branch-free so it vectorises with
// gathers; the same double arithmetic on every clone.
[[gnu::target_clones("avx512f", "avx2", "default")]] void ziggurat_fast32(
    const std::uint32_t* __restrict words, std::size_t n, const double* __restrict x,
    const double* __restrict ratio, double* __restrict z, std::uint8_t* __restrict ok) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t bits = words[i];
    const std::uint32_t layer = bits & 0xff;
    const double u = (static_cast<double>(bits >> 9) + 0.5) * 0x1p-23;
    const double magnitude = u * x[layer];
    // The sign bit moved into the double's sign: a branch here would mispredict half the time.
    const std::uint64_t sign = std::uint64_t{bits & 0x100} << 55;
    z[i] = std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) ^ sign);
    ok[i] = u < ratio[layer];
  }
}

[[gnu::target_clones("avx512f", "avx2", "default")]] void ziggurat_fast64(
    const std::uint32_t* __restrict words, std::size_t n, const double* __restrict x,
    const double* __restrict ratio, double* __restrict z, std::uint8_t* __restrict ok) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t bits = std::uint64_t{words[2 * i]} | std::uint64_t{words[2 * i + 1]} << 32;
    const auto layer = static_cast<std::uint32_t>(bits & 0xff);
    const double u = (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
    const double magnitude = u * x[layer];
    // The sign bit moved into the double's sign: a branch here would mispredict half the time.
    const std::uint64_t sign = std::uint64_t{bits & 0x100} << 55;
    z[i] = std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) ^ sign);
    ok[i] = u < ratio[layer];
  }
}

// Rounds n doubles to a 16-bit dtype: the one rounding of the 16-bit kernels, in vector
// registers (its 64-bit integer compares need AVX2 to vectorise). Integer arithmetic and exact
// double operations only, so every clone returns the same bits.
template <class T>
[[gnu::always_inline]] inline void round_chunk_body(const double* __restrict in, std::size_t n,
                                                    T* __restrict out) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = round_to<T>(in[i]);
}
[[gnu::target_clones("avx512f", "avx2", "default")]] void round_chunk(
    const double* __restrict in, std::size_t n, bfloat16_t* __restrict out) noexcept {
  round_chunk_body(in, n, out);
}
[[gnu::target_clones("avx512f", "avx2", "default")]] void round_chunk(
    const double* __restrict in, std::size_t n, float16_t* __restrict out) noexcept {
  round_chunk_body(in, n, out);
}

// Stores n values computed in double as T: rounded once (to nearest even).
template <class T>
void store(const double* values, std::size_t n, T* out) noexcept {
  if constexpr (std::is_floating_point_v<T>) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(values[i]);
  } else {
    round_chunk(values, n, out);
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
    ziggurat_fast32(words, n, t.x.data(), t.ratio.data(), z, ok);
  else
    ziggurat_fast64(words, n, t.x.data(), t.ratio.data(), z, ok);
  for (std::size_t i = 0; i < n; ++i) {
    if (ok[i]) continue;
    // Recover (layer, u) from the word: the slow path continues that same point.
    std::uint64_t bits = words[words_per * i];
    if constexpr (words_per == 2) bits |= std::uint64_t{words[2 * i + 1]} << 32;
    const int layer = static_cast<int>(bits & 0xff);
    const double u = words_per == 1 ? (static_cast<double>(bits >> 9) + 0.5) * 0x1p-23
                                    : (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
    const double magnitude = ziggurat_slow(layer, u, extra);
    z[i] = (bits & 0x100) != 0 ? -magnitude : magnitude;
  }
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
                   std::uint32_t stream_hi, std::uint32_t* out, std::size_t groups) noexcept {
  philox_lanes(key, first, stream_lo, stream_hi, out, groups);
}

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

// The 16-bit dtypes' uniform: U[a, b) at 53 bits, computed in double, rounded once.
template <class T>
void sample_uniform_rounded(std::span<T> out, double a, double b, word_source& source) {
  const double width = b - a;
  std::uint32_t words[2 * chunk_size];
  double values[chunk_size];
  for (std::size_t start = 0; start < out.size(); start += chunk_size) {
    const std::size_t n = std::min(chunk_size, out.size() - start);
    source.generate(std::span(words, 2 * n));
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t bits = std::uint64_t{words[2 * i]} | std::uint64_t{words[2 * i + 1]}
                                                                   << 32;
      values[i] = a + width * (static_cast<double>(bits >> 11) * 0x1p-53);
    }
    store(values, n, out.data() + start);
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
      T* dst = out.data() + start;
      for (std::size_t i = 0; i < n; ++i) {
        double u;
        if constexpr (words_per == 1) {
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
  }
}

template <class T>
void sample_normal(std::span<T> out, double mean, double std, word_source& source) {
  word_reader extra(source);
  double z[chunk_size];
  std::uint8_t ok[chunk_size];
  for (std::size_t start = 0; start < out.size(); start += chunk_size) {
    const std::size_t n = std::min(chunk_size, out.size() - start);
    standard_normal_chunk<T>(n, source, extra, z, ok);
    T* dst = out.data() + start;
    if constexpr (std::is_floating_point_v<T>) {
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(mean + std * z[i]);
    } else {
      for (std::size_t i = 0; i < n; ++i) z[i] = mean + std * z[i];
      store(z, n, dst);
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
    double z[chunk_size];
    std::uint8_t ok[chunk_size];
    for (std::size_t start = 0; start < out.size(); start += chunk_size) {
      const std::size_t n = std::min(chunk_size, out.size() - start);
      standard_normal_chunk<T>(n, source, extra, z, ok);
      for (std::size_t i = 0; i < n; ++i)
        while (z[i] < alpha || z[i] > beta) z[i] = extra.standard_normal();
      T* dst = out.data() + start;
      if constexpr (std::is_floating_point_v<T>) {
        for (std::size_t i = 0; i < n; ++i)
          dst[i] = clamp_to<T>(law.mean + law.std * z[i], low, high);
      } else {
        // Rounding is monotone: clamping in double to the bounds' values of T, then rounding,
        // is rounding then clamping.
        const double low_value = to_double(low), high_value = to_double(high);
        for (std::size_t i = 0; i < n; ++i)
          z[i] = std::clamp(law.mean + law.std * z[i], low_value, high_value);
        store(z, n, dst);
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
