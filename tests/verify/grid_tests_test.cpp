// 16-bit samples: the rounded law exactly, its tests' calibration, their power on the bugs
// low-precision samplers really have, and determinism across thread counts.
#include "verinit/verify/grid_tests.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "verinit/fill.hpp"
#include "verinit/verify/theory.hpp"

namespace {

using verinit::bfloat16_t;
using verinit::dtype;
using verinit::float16_t;
using verinit::tensor_shape;
namespace verify = verinit::verify;

verify::any_law law_of(const char* spec, tensor_shape shape = {1000, 1000}) {
  return *verify::theory_for(verinit::parse_scheme(spec), shape, verinit::layout::torch).law;
}

template <class T>
std::vector<T> sample(const char* spec, std::int64_t n, std::uint64_t seed = 0,
                      tensor_shape shape = {1000, 1000}) {
  verinit::fill_options options;
  options.seed = seed;
  options.explicit_fans = verinit::compute_fans(shape, verinit::layout::torch);
  return verinit::sample<T>(tensor_shape{n}, verinit::parse_scheme(spec), options);
}

template <class T>
verinit::tensor_view view(const std::vector<T>& x) {
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  return verinit::view_of(std::span<const T>(x), std::span<const std::int64_t>(&n, 1));
}

std::map<std::string, verify::test_result> by_name(const std::vector<verify::test_result>& tests) {
  std::map<std::string, verify::test_result> out;
  for (const auto& t : tests) out[t.name] = t;
  return out;
}

// The smallest p-value of the statistical tests, 0 if an exact check failed.
double worst(const std::vector<verify::test_result>& tests) {
  double p = 1;
  for (const auto& t : tests) p = std::min(p, t.exact ? (t.passed ? 1.0 : 0.0) : t.p_value);
  return p;
}

TEST(RoundedLawTest, AtomsAreTheLawsMassBetweenMidpoints) {
  // U[-1, 1) in bfloat16: 1 takes [1 - 2^-9, 1), a mass 2^-9 / 2; -1 takes [-1, -1 + 2^-9),
  // the same; 0.5 takes [0.5 - 2^-10, 0.5 + 2^-9), (2^-10 + 2^-9) / 2.
  const verify::rounded_law law(law_of("uniform(a=-1,b=1)"), dtype::bfloat16);
  const auto p = [&](double v) { return law.probability(bfloat16_t::round_from(v).bits); };
  EXPECT_NEAR(p(1.0), 0x1p-10, 1e-16);
  EXPECT_NEAR(p(-1.0), 0x1p-10, 1e-16);
  EXPECT_NEAR(p(0.5), (0x1p-10 + 0x1p-9) / 2, 1e-16);
  EXPECT_EQ(law.probability(0x8000), 0.0);  // -0's mass is +0's
  EXPECT_GT(law.probability(0x0000), 0.0);
  EXPECT_EQ(p(1.0078125), 0.0);  // beyond round(b)
  double total = 0;
  for (const auto b : law.order()) total += law.probability(b);
  EXPECT_NEAR(total, 1.0, 1e-12);  // 2^16 terms of a normalised law
  // The smallest atoms (near 0: widths down to 2^-133) have pdf x width, not 0.
  EXPECT_NEAR(law.probability(0x0001) / (0x1p-133 / 2), 1.0, 1e-12);
  // The exact moments are the atoms', not the continuous law's 1/3: rounding moves mass.
  EXPECT_NEAR(law.mean(), 0.0, 1e-14);
  EXPECT_NEAR(law.variance(), 1.0 / 3, 1e-4);
  EXPECT_NE(law.variance(), 1.0 / 3);
}

TEST(RoundedLawTest, SubnormalsHaveTheirMass) {
  // N(0, (1e-6)^2) in float16: P(0) = P(|X| < 2^-25) = erf(2^-25 / (sqrt 2 1e-6)).
  const verify::rounded_law law(law_of("normal(std=1e-6)"), dtype::float16);
  EXPECT_NEAR(law.probability(0), std::erf(0x1p-25 / (std::sqrt(2.0) * 1e-6)), 1e-12);
  EXPECT_NEAR(law.probability(1), law.probability(0x8001), 1e-15);
  EXPECT_GT(law.probability(1), 0.02);
  EXPECT_THROW(verify::rounded_law(law_of("normal"), dtype::float32), std::invalid_argument);
}

template <class T>
class GridTestsTest : public ::testing::Test {};
using GridTypes = ::testing::Types<float16_t, bfloat16_t>;
TYPED_TEST_SUITE(GridTestsTest, GridTypes);

TYPED_TEST(GridTestsTest, CorrectWeightsPassAtTenMillion) {
  const dtype type = verinit::dtype_of<TypeParam>;
  for (const char* spec : {"he_normal", "xavier_uniform", "truncated_normal(std=0.02)",
                           "uniform(a=-1,b=1)", "kaiming_uniform(a=2.23606797749979)"}) {
    const auto x = sample<TypeParam>(spec, 10'000'000, 7);
    const verify::rounded_law law(law_of(spec), type);
    const auto tests = verify::grid_tests(view(x), law, 0);
    EXPECT_EQ(tests.size(), law.unbounded() ? 8u : 7u) << spec;  // extreme for unbounded laws
    EXPECT_GT(worst(tests), 1e-4) << spec;
  }
}

TYPED_TEST(GridTestsTest, SameBitsOnOneTwoThreeAndSevenThreads) {
  const dtype type = verinit::dtype_of<TypeParam>;
  const auto x = sample<TypeParam>("he_normal", 3'000'001, 2);
  const verify::rounded_law law(law_of("he_normal"), type);
  const auto one = verify::grid_tests(view(x), law, 1);
  for (const int threads : {2, 3, 7}) {
    const auto other = verify::grid_tests(view(x), law, threads);
    ASSERT_EQ(one.size(), other.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
      EXPECT_EQ(std::memcmp(&one[i].statistic, &other[i].statistic, sizeof(double)), 0)
          << one[i].name << " on " << threads;
      EXPECT_EQ(std::memcmp(&one[i].p_value, &other[i].p_value, sizeof(double)), 0);
    }
  }
}

// Calibration: 200 seeds of correct weights at n = 10^5 per dtype. Each test's p < 0.01 at
// most 8 times (P(Binomial(200, 0.01) > 8) ~ 2e-4; the seeds are fixed, so this is
// deterministic), and KS can only be conservative: it rejects no more than the others.
TYPED_TEST(GridTestsTest, FalseAlarmsAtTheirRateOverTwoHundredSeeds) {
  const dtype type = verinit::dtype_of<TypeParam>;
  const verify::rounded_law law(law_of("he_normal"), type);
  std::map<std::string, int> rejections;
  std::map<std::string, double> mean_p;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto x = sample<TypeParam>("he_normal", 100'000, 1000 + seed);
    for (const auto& t : verify::grid_tests(view(x), law, 1)) {
      if (t.exact) {
        EXPECT_TRUE(t.passed) << t.name;
        continue;
      }
      rejections[t.name] += t.p_value < 0.01;
      mean_p[t.name] += t.p_value / 200;
    }
  }
  for (const auto& [name, count] : rejections) {
    EXPECT_LE(count, 8) << name;
    // Uniform p-values average 1/2 (sd 0.02 over 200); KS's conservative ones more.
    EXPECT_GT(mean_p[name], 0.43) << name;
    if (name != "ks") {
      EXPECT_LT(mean_p[name], 0.57) << name;
    }
  }
}

// ---- power: the bugs of low-precision samplers -------------------------------------------------

// bfloat16 made by dropping float32's low 16 bits (a common hand-written conversion).
std::vector<bfloat16_t> truncated_to_bfloat16(const std::vector<float>& x) {
  std::vector<bfloat16_t> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &x[i], 4);
    out[i] = bfloat16_t::from_bits(static_cast<std::uint16_t>(bits >> 16));
  }
  return out;
}

// Box-Muller with every operation rounded to bfloat16 (pytorch/pytorch#166853: the transform
// runs in the tensor's dtype, so no value passes ~3.3 sigma and the variance is 1.5% low).
std::vector<bfloat16_t> box_muller_in_bfloat16(std::int64_t n, double std) {
  const auto u = sample<float>("uniform(a=0,b=1)", 2 * n, 99);
  const auto r = [](double v) { return static_cast<double>(bfloat16_t::round_from(v)); };
  std::vector<bfloat16_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    // The uniforms themselves in bfloat16: k / 256 (8 significant bits on [0.5, 1)), so
    // 1 - u >= 2^-8 and no radius exceeds sqrt(-2 ln 2^-8) = 3.33.
    const double u1 = 1 - std::floor(u[static_cast<std::size_t>(2 * i)] * 256) / 256;  // (0, 1]
    const double u2 = std::floor(u[static_cast<std::size_t>(2 * i + 1)] * 256) / 256;
    const double radius = r(std::sqrt(r(-2 * r(std::log(u1)))));
    out[static_cast<std::size_t>(i)] =
        bfloat16_t::round_from(r(std * r(radius * r(std::cos(r(2 * M_PI * u2))))));
  }
  return out;
}

TEST(GridPowerTest, TheBugsFailAndTheirCorrectCounterpartsPass) {
  constexpr std::int64_t n = 10'000'000;
  const char* he = "he_normal";
  const verify::rounded_law bf16(law_of(he), dtype::bfloat16);
  const verify::rounded_law fp16(law_of(he), dtype::float16);
  const double sigma = std::sqrt(2.0 / 1000);

  // Correct: float32 samples rounded once (what PyTorch's .to(bfloat16) does).
  const auto f32 = sample<float>(he, n, 3);
  std::vector<bfloat16_t> rounded(f32.size());
  for (std::size_t i = 0; i < f32.size(); ++i) rounded[i] = bfloat16_t::round_from(f32[i]);
  EXPECT_GT(worst(verify::grid_tests(view(rounded), bf16, 0)), 1e-4);
  // Truncated instead of rounded: every value pulled toward zero.
  const auto truncated = verify::grid_tests(view(truncated_to_bfloat16(f32)), bf16, 0);
  EXPECT_LT(worst(truncated), 1e-12);
  EXPECT_LT(by_name(truncated)["anderson_darling"].p_value, 1e-9);  // 6.6e-11
  EXPECT_GT(by_name(verify::grid_tests(view(rounded), bf16, 0))["anderson_darling"].p_value, 1e-3);

  // Box-Muller computed in bfloat16.
  const auto bm = verify::grid_tests(view(box_muller_in_bfloat16(n, sigma)), bf16, 0);
  EXPECT_LT(by_name(bm)["chi_square"].p_value, 1e-12);
  // No value beyond 3.33 sigma, where 10^7 correct ones reach ~5.3 sigma: the maximum alone
  // has P(M <= 3.33 sigma) = (1 - 8.7e-4)^n ~ e^-8700.
  EXPECT_LT(by_name(bm)["extreme"].statistic, 3.34 * sigma);
  EXPECT_LT(by_name(bm)["extreme"].p_value, 1e-300);
  EXPECT_GT(by_name(verify::grid_tests(view(rounded), bf16, 0))["extreme"].p_value, 1e-3);

  // trunc_normal_(std=0.02) in bfloat16 with 0.39% of the values stuck at the bounds +-2.
  const char* tn = "truncated_normal(std=0.02,a=-2,b=2)";
  auto stuck = sample<bfloat16_t>(tn, n, 4);
  const verify::rounded_law tn_law(law_of(tn), dtype::bfloat16);
  EXPECT_GT(worst(verify::grid_tests(view(stuck), tn_law, 0)), 1e-4);
  for (std::size_t i = 0; i < stuck.size(); i += 256)
    stuck[i] = bfloat16_t::round_from(i % 512 == 0 ? 2.0 : -2.0);
  const auto stuck_tests = by_name(verify::grid_tests(view(stuck), tn_law, 0));
  EXPECT_LT(stuck_tests.at("chi_square").p_value, 1e-12);
  EXPECT_LT(stuck_tests.at("variance").p_value, 1e-12);

  // float16 with subnormals flushed to zero (he_normal's sigma = 0.045: 0.1% of its mass).
  auto flushed = sample<float16_t>(he, n, 5);
  EXPECT_GT(worst(verify::grid_tests(view(flushed), fp16, 0)), 1e-4);
  for (auto& v : flushed)
    if ((v.bits & 0x7c00) == 0) v = float16_t::from_bits(0);
  EXPECT_LT(by_name(verify::grid_tests(view(flushed), fp16, 0))["chi_square"].p_value, 1e-12);

  // A 256-value lattice uniform (bfloat16 uniform_ in PyTorch): U[-1, 1) on k/128 - 1.
  const char* u = "uniform(a=-1,b=1)";
  const verify::rounded_law u_law(law_of(u), dtype::bfloat16);
  const auto uf = sample<float>("uniform(a=0,b=1)", n, 6);
  std::vector<bfloat16_t> lattice(uf.size());
  for (std::size_t i = 0; i < uf.size(); ++i)
    lattice[i] = bfloat16_t::round_from(std::floor(uf[i] * 256) / 128 - 1);
  EXPECT_LT(by_name(verify::grid_tests(view(lattice), u_law, 0))["chi_square"].p_value, 1e-12);
}

TEST(GridTestsTest, NonFiniteValuesFailTheSupport) {
  auto x = sample<bfloat16_t>("he_normal", 100'000);
  x[17] = bfloat16_t::round_from(INFINITY);
  x[99] = bfloat16_t::from_bits(0x7fc0);  // NaN
  const auto tests = by_name(
      verify::grid_tests(view(x), verify::rounded_law(law_of("he_normal"), dtype::bfloat16), 1));
  EXPECT_FALSE(tests.at("support").passed);
  EXPECT_EQ(tests.at("support").statistic, 2.0);
}

TEST(GridTestsTest, AllEqualValuesFailTheSupportWhereTheLawMakesThemImpossible) {
  // 26 bfloat16 zeros under U(+-1/sqrt(768)): bfloat16 has ~2^13 atoms in the range, the
  // largest ~1e-3 (near 0, where the grid is finest, far less), so P(all equal) ~1e-75.
  const verify::rounded_law law(law_of("uniform(a=-0.036,b=0.036)"), dtype::bfloat16);
  const std::vector<bfloat16_t> zeros(26, bfloat16_t::from_bits(0));
  auto tests = by_name(verify::grid_tests(view(zeros), law, 1));
  EXPECT_FALSE(tests.at("support").passed);
  EXPECT_NE(tests.at("support").note.find("all 26 values equal"), std::string::npos);
  // Two equal values are possible (P ~ the sum of squared atoms): passes.
  tests = by_name(
      verify::grid_tests(view(std::vector<bfloat16_t>(2, bfloat16_t::round_from(0.01))), law, 1));
  EXPECT_TRUE(tests.at("support").passed);
}

TEST(GridTestsTest, FindsFloat32DataOnACoarserGrid) {
  // Weights rounded to bfloat16 and saved as float32 (.float() before saving).
  const auto b = sample<bfloat16_t>("he_normal", 10'000);
  std::vector<float> as_float(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) as_float[i] = static_cast<float>(b[i]);
  EXPECT_EQ(verify::coarser_grid_of(view(as_float), 4096, 2), dtype::bfloat16);
  const auto h = sample<float16_t>("he_normal", 10'000);
  for (std::size_t i = 0; i < h.size(); ++i) as_float[i] = static_cast<float>(h[i]);
  EXPECT_EQ(verify::coarser_grid_of(view(as_float), 4096, 2), dtype::float16);
  const auto converted = verify::convert_to_grid(view(as_float), dtype::float16);
  EXPECT_EQ(std::memcmp(converted.bytes.data(), h.data(), 2 * h.size()), 0);
  // bfloat16 values mostly lie on float16's grid too: still bfloat16, seed after seed, at
  // the smallest n taken (with float16 tried first, 60-70% of these were taken for float16).
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto small = sample<bfloat16_t>("he_normal", 4096, seed);
    std::vector<float> f(small.size());
    for (std::size_t i = 0; i < small.size(); ++i) f[i] = static_cast<float>(small[i]);
    EXPECT_EQ(verify::coarser_grid_of(view(f), 4096, 1), dtype::bfloat16) << seed;
  }
  // Continuous float32 samples are not; nor are too few.
  EXPECT_EQ(verify::coarser_grid_of(view(sample<float>("he_normal", 10'000)), 4096, 2),
            std::nullopt);
  EXPECT_EQ(verify::coarser_grid_of(view(as_float), 20'000, 2), std::nullopt);
}

}  // namespace

// What PyTorch 1.13 really produces (tests/data/make_lowp_reference.py: histograms of 10^7 draws
// on Debian's CPU build), against the law it should follow. The samples are expanded from the
// histogram in bit order, so only the marginal tests apply (the sequence's autocorrelation is
// that of sorted data and is not asserted).
namespace torch_reference {

struct reference {
  std::string law;
  std::vector<bfloat16_t> samples;
};

reference load(const std::string& name) {
  const std::string path = std::string(VERINIT_DATA_DIR) + "/torch_lowp/" + name + ".csv";
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) throw std::runtime_error("cannot open " + path);
  reference out;
  char line[512];
  if (std::fgets(line, sizeof line, file) != nullptr) {
    const std::string comment(line);
    const auto at = comment.find("law: ");
    if (at != std::string::npos) out.law = comment.substr(at + 5, comment.find('\n') - at - 5);
  }
  std::fgets(line, sizeof line, file);  // "bits,count"
  unsigned bits = 0;
  long long count = 0;
  while (std::fscanf(file, "%u,%lld", &bits, &count) == 2)
    out.samples.insert(out.samples.end(), static_cast<std::size_t>(count),
                       bfloat16_t::from_bits(static_cast<std::uint16_t>(bits)));
  std::fclose(file);
  return out;
}

std::map<std::string, verify::test_result> marginal_tests(const reference& r) {
  auto tests = by_name(verify::grid_tests(
      view(r.samples), verify::rounded_law(law_of(r.law.c_str()), dtype::bfloat16), 2));
  tests.erase("autocorrelation");
  return tests;
}

TEST(TorchReferenceTest, RoundedFloat32NormalPasses) {
  const reference r = load("f32_normal_to_bf16");
  ASSERT_EQ(r.samples.size(), 10'000'000u);
  for (const auto& [name, t] : marginal_tests(r)) {
    EXPECT_TRUE(t.exact ? t.passed : t.p_value > 1e-4) << name << " p=" << t.p_value;
  }
}

TEST(TorchReferenceTest, BoxMullerInBfloat16Fails) {
  // torch.empty(n, dtype=torch.bfloat16).normal_(): variance 0.985, no value beyond ~3.3 sd.
  const auto t = marginal_tests(load("bf16_normal"));
  EXPECT_LT(t.at("variance").p_value, 1e-100);
  EXPECT_LT(t.at("ks").p_value, 1e-100);
  EXPECT_LT(t.at("chi_square").p_value, 1e-100);
  EXPECT_NEAR(t.at("variance").values[0].second, 0.985, 0.002);  // the estimate
  // The clipped tail by itself: max |x| ~3.3 where 10^7 N(0, 1) values reach ~5.3.
  EXPECT_LT(t.at("extreme").statistic, 3.4);
  EXPECT_LT(t.at("extreme").p_value, 1e-100);
}

TEST(TorchReferenceTest, TruncNormalAndUniformInBfloat16Fail) {
  // trunc_normal_(std=0.02) on a bfloat16 tensor and bfloat16 uniform_: 256 values each.
  for (const char* name : {"bf16_trunc_normal", "bf16_uniform"}) {
    const auto t = marginal_tests(load(name));
    EXPECT_LT(t.at("chi_square").p_value, 1e-100) << name;
    EXPECT_LT(t.at("ks").p_value, 1e-100) << name;
    EXPECT_EQ(t.at("support").values[1].second, 256.0) << name;  // distinct values
  }
}

TEST(RoundedLawTest, WithoutZeroIsTheLawConditionedOnANonZeroValue) {
  // N(0, 1e-6) in float16: 0 takes P(|x| <= 2^-25) ~ 2.4% of the mass.
  const verify::rounded_law law(boost::math::normal_distribution<>(0.0, 1e-6), dtype::float16);
  const verify::rounded_law off = law.without_zero();
  const double p0 = law.probability(0);
  EXPECT_GT(p0, 0.02);
  EXPECT_LT(p0, 0.03);
  EXPECT_EQ(off.probability(0), 0.0);
  double total = 0;
  for (const std::uint16_t b : off.order()) {
    total += off.probability(b);
    if (b != 0) {
      EXPECT_NEAR(off.probability(b), law.probability(b) / (1 - p0), 1e-15);
    }
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(off.atoms(), law.atoms() - 1);
  EXPECT_NEAR(off.variance(), law.variance() / (1 - p0), 1e-9 * law.variance());
  const verify::rounded_law point(boost::math::normal_distribution<>(0.0, 1e-12), dtype::float16);
  EXPECT_THROW((void)point.without_zero(), std::invalid_argument);  // all its mass is on 0
}

}  // namespace torch_reference
