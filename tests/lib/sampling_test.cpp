// Statistical checks of the sampling kernels against their exact laws.
//
// Each check is a one-sample Kolmogorov-Smirnov test at a fixed seed with the asymptotic
// critical value for alpha = 1e-6 (sqrt(ln(2/alpha)/2)/sqrt(n), accurate at these n), so its
// false-positive rate is 1e-6 per check and, the seed being fixed, the outcome deterministic.
// A 1% error in the std of a normal moves D by ~0.0024 at the mode, so at n = 10^6 (critical
// D = 0.0027) these catch errors of about 1% and more; the verifier (verify/) does the rest.
#include "sampling.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "verinit/dtype.hpp"

namespace {

using verinit::detail::flag_bytes;
using verinit::detail::flag_of;
using verinit::detail::philox_stream;

double ks_statistic(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, (static_cast<double>(i) + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return d;
}

double critical(std::size_t n) {
  return std::sqrt(std::log(2 / 1e-6) / 2) / std::sqrt(static_cast<double>(n));
}

double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

template <class T>
std::vector<double> draw_normal(std::size_t n, std::uint64_t seed, double mean, double std) {
  std::vector<T> out(n);
  philox_stream source(seed, 0);
  verinit::detail::sample_normal<T>(out, mean, std, source);
  return {out.begin(), out.end()};
}

template <class T>
std::vector<double> draw_truncated(std::size_t n, std::uint64_t seed,
                                   verinit::truncated_normal_law law) {
  std::vector<T> out(n);
  philox_stream source(seed, 0);
  verinit::detail::sample_truncated_normal<T>(out, law, source);
  return {out.begin(), out.end()};
}

std::function<double(double)> truncated_cdf(const verinit::truncated_normal_law& law) {
  // Computed through upper tails so that far-tail intervals do not cancel.
  const auto q = [](double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); };
  const double alpha = (law.a - law.mean) / law.std, beta = (law.b - law.mean) / law.std;
  return [=](double x) {
    const double z = std::clamp((x - law.mean) / law.std, alpha, beta);
    if (alpha >= 0) return (q(alpha) - q(z)) / (q(alpha) - q(beta));
    return (phi(z) - phi(alpha)) / (phi(beta) - phi(alpha));
  };
}

TEST(SamplingTest, ZigguratFloatIsStandardNormal) {
  const auto x = draw_normal<float>(1'000'000, 1, 0, 1);
  EXPECT_LT(ks_statistic(x, phi), critical(x.size()));
}

TEST(SamplingTest, ZigguratDoubleIsNormalWithItsParameters) {
  const auto x = draw_normal<double>(1'000'000, 2, 3.0, 0.5);
  EXPECT_LT(ks_statistic(x, [](double v) { return phi((v - 3.0) / 0.5); }), critical(x.size()));
}

TEST(SamplingTest, ZigguratTailBeyondRIsRight) {
  // P(|Z| > 3.6541528853610088) = 2.58e-4: 2,580 expected of 10^7 (sd 51). A wrong tail
  // sampler shows up here long before it moves the KS statistic.
  const auto x = draw_normal<float>(10'000'000, 3, 0, 1);
  const double r = 3.6541528853610088;
  const double beyond = static_cast<double>(
      std::count_if(x.begin(), x.end(), [&](double v) { return std::abs(v) > r; }));
  const double expected = 2 * 0.5 * std::erfc(r / std::sqrt(2.0)) * 1e7;
  EXPECT_LT(std::abs(beyond - expected), 5.5 * std::sqrt(expected));  // ~4e-8 two-sided
  // ...and the far tail has the right conditional law: KS on the excess over r.
  std::vector<double> tail;
  for (const double v : x)
    if (std::abs(v) > r) tail.push_back(std::abs(v));
  const double qr = 0.5 * std::erfc(r / std::sqrt(2.0));
  EXPECT_LT(
      ks_statistic(tail, [&](double v) { return 1 - 0.5 * std::erfc(v / std::sqrt(2.0)) / qr; }),
      critical(tail.size()));
}

TEST(SamplingTest, TruncatedNormalAllRegimes) {
  const verinit::truncated_normal_law laws[] = {
      {0, 1, -2, 2},        // rejection from the normal (Keras's +-2 sigma)
      {1, 2, 0, 10},        // rejection, asymmetric
      {0, 1, 2.5, 3.0},     // tail, uniform proposal
      {0, 1, 3, 40},        // tail, exponential proposal
      {0, 1, -9, -6},       // lower tail, mirrored
      {0, 1, 8, 8.01},      // far tail, narrow
      {0.1, 1, -0.2, 0.3},  // narrow interval around the mean
  };
  std::uint64_t seed = 10;
  for (const auto& law : laws) {
    const auto x = draw_truncated<double>(200'000, ++seed, law);
    EXPECT_LT(ks_statistic(x, truncated_cdf(law)), critical(x.size()))
        << "TN(" << law.mean << "," << law.std << ") on [" << law.a << "," << law.b << "]";
    const auto [low, high] = std::minmax_element(x.begin(), x.end());
    EXPECT_GE(*low, law.a);
    EXPECT_LE(*high, law.b);
  }
}

TEST(SamplingTest, UniformIsUniform) {
  std::vector<float> out(1'000'000);
  philox_stream source(5, 0);
  verinit::detail::sample_uniform<float>(out, -0.3, 0.7, source);
  const std::vector<double> x(out.begin(), out.end());
  EXPECT_LT(ks_statistic(x, [](double v) { return std::clamp(v + 0.3, 0.0, 1.0); }),
            critical(x.size()));
}

TEST(SamplingTest, BoundedIntegersAreUnbiased) {
  // Chi-square over 6 cells with 600,000 draws; 5 df, critical value at 1e-6 is 35.9.
  philox_stream source(6, 0);
  verinit::detail::word_reader reader(source);
  std::array<double, 6> counts{};
  for (int i = 0; i < 600'000; ++i) counts[reader.bounded(6)] += 1;
  double chi2 = 0;
  for (const double c : counts) chi2 += (c - 1e5) * (c - 1e5) / 1e5;
  EXPECT_LT(chi2, 35.9);
}

// ---- The 16-bit cell passes ----------------------------------------------------------------
//
// The 16-bit kernels write, from one word, the value of every 53-bit abscissa in the word's
// cell where the cell decides it, and refine the others with a second word. These tests check
// the two claims that make the output exactly the 53-bit sampler rounded once: a decided cell
// really gives that value at every abscissa in it, and the AVX-512 pass decides exactly what
// the portable loop decides (else the words consumed, and so the bits, would depend on the CPU).

struct cell_case {
  const char* name;
  verinit::detail::normal_map map;
  double min_decided;  // the share of words the one-word pass must decide
};

std::vector<std::uint32_t> test_words(std::size_t n) {
  // Random words, then crafted ones: every layer at the cell nearest 0 and the last cell, both
  // signs.
  std::vector<std::uint32_t> words(n);
  philox_stream source(99, 3);
  source.generate(words);
  for (std::uint32_t layer = 0; layer < 256; ++layer)
    for (const std::uint32_t sign : {0u, 0x100u})
      for (const std::uint32_t m : {0u, 1u, (1u << 23) - 1}) words.push_back(layer | sign | m << 9);
  return words;
}

TEST(SamplingTest, VectorZigguratPassEqualsThePortableLoop) {
  // Every length up to 40 (the vector loops' scalar tails) and a whole run of random words with
  // every layer's edge cells: the same z bits and the same accept flags.
  const std::vector<std::uint32_t> words = test_words(1 << 16);
  for (std::size_t n = 0; n <= 40; ++n) {
    for (const std::size_t n_run : {n, words.size()}) {
      std::vector<double> loop_z(n_run);
      std::vector<std::uint8_t> loop_ok(flag_bytes(n_run));
      verinit::detail::ziggurat_fast_pass(words.data(), n_run, loop_z.data(), loop_ok.data(),
                                          false);
      // The pass this CPU takes, and the AVX2 one (taken only where AVX-512 is missing).
      for (const bool avx2 : {false, true}) {
        std::vector<double> vec_z(n_run);
        std::vector<std::uint8_t> vec_ok(flag_bytes(n_run));
        if (!avx2)
          verinit::detail::ziggurat_fast_pass(words.data(), n_run, vec_z.data(), vec_ok.data(),
                                              true);
        else if (!verinit::detail::ziggurat_fast_pass_avx2(words.data(), n_run, vec_z.data(),
                                                           vec_ok.data()))
          continue;
        for (std::size_t i = 0; i < n_run; ++i) {
          ASSERT_EQ(std::bit_cast<std::uint64_t>(vec_z[i]), std::bit_cast<std::uint64_t>(loop_z[i]))
              << "word " << words[i] << (avx2 ? " (AVX2)" : "");
          ASSERT_EQ(flag_of(vec_ok.data(), i), flag_of(loop_ok.data(), i))
              << "word " << words[i] << (avx2 ? " (AVX2)" : "");
        }
        // The last byte's bits past n are 0.
        if (n_run % 8 != 0) {
          ASSERT_EQ(vec_ok.back() >> (n_run % 8), 0);
        }
      }
      if (n_run % 8 != 0) {
        ASSERT_EQ(loop_ok.back() >> (n_run % 8), 0);
      }
    }
  }
}

template <class T>
std::vector<cell_case> normal_cases() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  using verinit::to_double;
  const auto value = [](double x) { return to_double(verinit::round_to<T>(x)); };
  // In float16, normal(0, 1e-6) lies among the subnormals (below 2^-14), which the one-word
  // pass leaves to the second word: correct, at two words a sample.
  const double subnormal_share = std::is_same_v<T, verinit::float16_t> ? 0.0 : 0.97;
  return {
      {"normal(0, 1)", {0, 1, -inf, inf, -inf, inf}, 0.97},
      {"normal(0, 0.02)", {0, 0.02, -inf, inf, -inf, inf}, 0.97},
      {"normal(0, 1e-6): float16's subnormals", {0, 1e-6, -inf, inf, -inf, inf}, subnormal_share},
      {"normal(0.5, 1e-3): a few values of T", {0.5, 1e-3, -inf, inf, -inf, inf}, 0.97},
      {"normal(-3, 0.7): across zero", {-3, 0.7, -inf, inf, -inf, inf}, 0.97},
      {"truncated_normal(0, 1, -2, 2)", {0, 1, -2, 2, value(-2), value(2)}, 0.92},
      {"truncated_normal(0, 0.02, -0.04, 0.05)",
       {0, 0.02, -2, 2.5, value(-0.04), value(0.05)},
       0.92},
  };
}

// The uniform cell passes' maps: across zero, positive, negative, a few values of T, ends
// that overflow float16 (60000 to 70000, and float16's whole range: the capped pass) or both
// 16-bit types (bfloat16's largest is ~3.4e38), a width too small for the ordered pass, and
// one about bfloat16's smallest normal (1.2e-38), its cells finer than its subnormals; 3e38 to
// 4e38 passes 2^128, where bfloat16's rounded bits would run past infinity's without the cap.
std::vector<std::pair<double, double>> uniform_maps() {
  return {{-1.0, 1.0},         {0.0, 1e-4},     {-3e-5, 2e-5},
          {0.25, 0.2500001},   {-2.0, -1.0},    {60000, 70000},
          {-65504.0, 65504.0}, {-3e38, 3.4e38}, {1.0, 1.0 + 0x1p-1000},
          {-2e-38, 1e-38},     {3e38, 4e38}};
}

// `words` and, for the uniform map [a, b) in T, the words whose cells hold or touch 0, T's
// smallest normal or its negative, or where rounding to T overflows: where the one-sign, normal
// and cap tests decide.
template <class T>
std::vector<std::uint32_t> with_edge_words(std::vector<std::uint32_t> words, double a, double b) {
  using F = typename T::format;
  const double smallest = F::power_of_two(F::min_exponent);
  const double overflow = F::power_of_two(F::bias) * (2 - F::power_of_two(-F::fraction_bits - 1));
  std::vector<std::uint32_t> edges;
  for (const double edge : {0.0, smallest, -smallest, overflow, -overflow}) {
    const double w = std::floor((edge - a) / (b - a) * 0x1p32);
    for (double d = -2; d <= 2; ++d)
      if (w + d >= 0 && w + d < 0x1p32) edges.push_back(static_cast<std::uint32_t>(w + d));
  }
  // Each edge word in a block of 16, after a whole number of blocks: the vector passes (8 or 16
  // words a step) take it in every lane, not their scalar tails.
  words.resize(words.size() / 16 * 16);
  for (const std::uint32_t e : edges) words.insert(words.end(), 16, e);
  return words;
}

template <class T>
class CellPassTest : public ::testing::Test {};
using CellTypes = ::testing::Types<verinit::float16_t, verinit::bfloat16_t>;
TYPED_TEST_SUITE(CellPassTest, CellTypes);

TYPED_TEST(CellPassTest, VectorCellPassesEqualThePortableLoops) {
  if (!verinit::detail::has_avx512()) GTEST_SKIP() << "no AVX-512: only the portable loops run";
  const auto words = test_words(100'000);
  const auto table = verinit::detail::ziggurat_layer_table();
  for (const auto& c : normal_cases<TypeParam>()) {
    // Whole runs and a short one (the vector pass's scalar tail).
    for (const std::size_t n : {words.size(), std::size_t{13}}) {
      std::vector<TypeParam> vec_out(n), loop_out(n);
      std::vector<std::uint8_t> vec_ok(flag_bytes(n)), loop_ok(flag_bytes(n));
      verinit::detail::ziggurat_cells(words.data(), n, table.x.data(), table.ratio.data(), c.map,
                                      vec_out.data(), vec_ok.data(), true);
      verinit::detail::ziggurat_cells(words.data(), n, table.x.data(), table.ratio.data(), c.map,
                                      loop_out.data(), loop_ok.data(), false);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(flag_of(vec_ok.data(), i), flag_of(loop_ok.data(), i))
            << c.name << " word " << words[i];
        if (flag_of(loop_ok.data(), i)) {
          ASSERT_EQ(vec_out[i], loop_out[i]) << c.name << " word " << words[i];
        }
      }
    }
  }
  for (const auto& [a, b] : uniform_maps()) {
    const verinit::detail::uniform_map map{a, b - a};
    const auto words = with_edge_words<TypeParam>(test_words(100'000), a, b);
    const std::size_t n = words.size();
    std::vector<TypeParam> vec_out(n), loop_out(n);
    std::vector<std::uint8_t> vec_ok(flag_bytes(n)), loop_ok(flag_bytes(n));
    verinit::detail::uniform_cells(words.data(), n, map, vec_out.data(), vec_ok.data(), true);
    verinit::detail::uniform_cells(words.data(), n, map, loop_out.data(), loop_ok.data(), false);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(flag_of(vec_ok.data(), i), flag_of(loop_ok.data(), i))
          << "uniform " << a << " " << b << " word " << words[i];
      if (flag_of(loop_ok.data(), i)) {
        ASSERT_EQ(vec_out[i], loop_out[i]) << "uniform word " << words[i];
      }
    }
  }
}

TYPED_TEST(CellPassTest, ADecidedZigguratCellGivesItsValueAtEveryAbscissa) {
  // For each decided word, abscissae u = (m 2^30 + r + 1/2) 2^-53 across the cell (r = 0, 1,
  // random, 2^30 - 1) must all pass the fast test, lie within [alpha, beta] and round to the
  // value written. Also: undecided cells are rare where T's grid is finer than the cells.
  const auto words = test_words(200'000);
  const auto table = verinit::detail::ziggurat_layer_table();
  philox_stream source(5, 5);
  verinit::detail::word_reader reader(source);
  for (const auto& c : normal_cases<TypeParam>()) {
    std::vector<TypeParam> out(words.size());
    std::vector<std::uint8_t> ok(flag_bytes(words.size()));
    verinit::detail::ziggurat_cells(words.data(), words.size(), table.x.data(), table.ratio.data(),
                                    c.map, out.data(), ok.data());
    std::size_t decided = 0;
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (!flag_of(ok.data(), i)) continue;
      ++decided;
      const std::uint32_t w = words[i];
      const std::uint32_t layer = w & 0xff;
      for (const std::uint64_t r :
           {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{reader.next() >> 2},
            (std::uint64_t{1} << 30) - 1}) {
        const double u = (static_cast<double>(std::uint64_t{w >> 9} << 30 | r) + 0.5) * 0x1p-53;
        ASSERT_LT(u, table.ratio[layer]) << c.name << " word " << w;
        const double z = (w & 0x100) != 0 ? -(u * table.x[layer]) : u * table.x[layer];
        ASSERT_TRUE(z >= c.map.alpha && z <= c.map.beta) << c.name << " word " << w;
        ASSERT_EQ(verinit::round_to<TypeParam>(c.map(z)), out[i]) << c.name << " word " << w;
      }
    }
    // The fast test alone refuses ~1.2% (wedges and tail), the crafted words ~0.5% more, and
    // truncation to [-2, 2] ~4.6%.
    EXPECT_GE(static_cast<double>(decided) / static_cast<double>(words.size()), c.min_decided)
        << c.name;
  }
}

TYPED_TEST(CellPassTest, ADecidedUniformCellGivesItsValueAtEveryAbscissa) {
  philox_stream source(6, 6);
  verinit::detail::word_reader reader(source);
  for (const auto& [a, b] : uniform_maps()) {
    const verinit::detail::uniform_map map{a, b - a};
    const auto words = with_edge_words<TypeParam>(test_words(200'000), a, b);
    std::vector<TypeParam> out(words.size());
    std::vector<std::uint8_t> ok(flag_bytes(words.size()));
    verinit::detail::uniform_cells(words.data(), words.size(), map, out.data(), ok.data());
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (!flag_of(ok.data(), i)) continue;
      for (const std::uint64_t r :
           {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{reader.next() >> 11},
            (std::uint64_t{1} << 21) - 1}) {
        const double u = static_cast<double>(std::uint64_t{words[i]} << 21 | r) * 0x1p-53;
        ASSERT_EQ(verinit::round_to<TypeParam>(map.a + map.width * u), out[i])
            << "uniform(" << a << ", " << b << ") word " << words[i];
      }
    }
  }
}

TEST(SamplingTest, CellRoundingRefusesTiesAndCellsAcrossAMidpoint) {
  // bfloat16 around 1: values 1 and 1 + 2^-7, midpoint 1 + 2^-8 (a tie, rounding to even 1).
  std::vector<std::uint32_t> words{0};
  const auto decide = [&](double a, double b) {
    // Word 0's cell is [a, a + width 2^-32]: a width of 2^32 (b - a) makes it [a, b].
    const verinit::detail::uniform_map map{a, (b - a) * 0x1p32};
    verinit::bfloat16_t out;
    std::uint8_t ok = 0;
    verinit::detail::uniform_cells(words.data(), 1, map, &out, &ok, false);
    return ok != 0;
  };
  const double mid = 1 + 0x1p-8;
  EXPECT_TRUE(decide(1.0, std::nextafter(mid, 0.0)));
  EXPECT_FALSE(decide(1.0, mid));                                            // ends on the tie
  EXPECT_FALSE(decide(mid, std::nextafter(mid, 2.0)));                       // starts on it
  EXPECT_FALSE(decide(std::nextafter(mid, 0.0), std::nextafter(mid, 2.0)));  // across it
  EXPECT_TRUE(decide(std::nextafter(mid, 2.0), 1 + 0x1p-7));
  EXPECT_FALSE(decide(-0x1p-130, 0x1p-130));  // across zero
  EXPECT_FALSE(decide(0x1p-130, 0x1p-129));   // below the smallest normal
}

}  // namespace
