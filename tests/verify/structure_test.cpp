// Exact structural checks: the sparse zero pattern (with its allowance for draws that are
// exactly 0), the identity, the Gram tolerance.
#include "verinit/verify/structure.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <string>
#include <tuple>

#include "verinit/fill.hpp"
#include "verinit/verify/goodness_of_fit.hpp"

namespace {

using namespace verinit::verify;

template <class T>
verinit::tensor_view flat(const std::vector<T>& w) {
  return verinit::view_of(std::span<const T>(w),
                          std::vector<std::int64_t>{static_cast<std::int64_t>(w.size())});
}

TEST(StructureTest, SparsePatternAllowsRareExactZeroDrawsButNotMissingZeros) {
  const verinit::tensor_shape shape{50, 40};
  const auto e =
      theory_for(verinit::parse_scheme("sparse(sparsity=0.2)"), shape, verinit::layout::torch);
  auto w = verinit::sample<float>(shape, verinit::parse_scheme("sparse(sparsity=0.2)"), {});
  verinit::tensor_buffer nonzeros;
  EXPECT_TRUE(sparse_pattern_check(flat(w), shape, verinit::layout::torch, e, nonzeros).passed);
  EXPECT_EQ(nonzeros.view().size(), 40 * 40);
  EXPECT_EQ(nonzeros.type, verinit::dtype::float32);
  // One non-zero draw that came out exactly 0: allowed (bound 6 + ...).
  auto one_extra = w;
  *std::find_if(one_extra.begin(), one_extra.end(), [](float v) { return v != 0; }) = 0;
  EXPECT_TRUE(
      sparse_pattern_check(flat(one_extra), shape, verinit::layout::torch, e, nonzeros).passed);
  // A whole extra row of zeros (40 extra): a bug.
  auto extra_row = w;
  for (int c = 0; c < 40; ++c) extra_row[c] = 0;
  EXPECT_FALSE(
      sparse_pattern_check(flat(extra_row), shape, verinit::layout::torch, e, nonzeros).passed);
  // A column with one zero too few: always a bug.
  auto short_column = w;
  for (int r = 0; r < 50; ++r)
    if (short_column[r * 40] == 0) {
      short_column[r * 40] = 0.5f;
      break;
    }
  const auto r =
      sparse_pattern_check(flat(short_column), shape, verinit::layout::torch, e, nonzeros);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.values[0].second, 1.0);
}

TEST(StructureTest, IdentityAndGramChecks) {
  const verinit::tensor_shape shape{6, 4, 3, 3};
  const auto e =
      theory_for(verinit::parse_scheme("dirac(groups=2)"), shape, verinit::layout::torch);
  auto w = verinit::sample<float>(shape, verinit::parse_scheme("dirac(groups=2)"), {});
  EXPECT_TRUE(identity_check(flat(w), shape, verinit::layout::torch, e).passed);
  w[0] = 1;  // a stray one
  EXPECT_FALSE(identity_check(flat(w), shape, verinit::layout::torch, e).passed);
  auto q = verinit::sample<double>(verinit::tensor_shape{8, 12},
                                   verinit::parse_scheme("orthogonal(gain=2)"), {});
  EXPECT_TRUE(gram_check(flat(q), 1, 8, 12, 2.0).passed);
  EXPECT_FALSE(gram_check(flat(q), 1, 8, 12, 1.0).passed);  // gain dropped
}

TEST(StructureTest, ChecksWorkOnEveryDtype) {
  // A constant 0.3 in bfloat16 is bfloat16(0.3), not 0.3: the check rounds the value first.
  const std::vector<verinit::bfloat16_t> brain(100, verinit::bfloat16_t::round_from(0.3));
  EXPECT_TRUE(constant_check(flat(brain), 0.3).passed);
  EXPECT_FALSE(constant_check(flat(brain), 0.31).passed);
  const verinit::tensor_shape shape{3, 3};
  const auto e = theory_for(verinit::parse_scheme("eye"), shape, verinit::layout::torch);
  std::vector<verinit::float16_t> eye(9, verinit::float16_t::round_from(0.0));
  for (int i = 0; i < 3; ++i)
    eye[static_cast<std::size_t>(4 * i)] = verinit::float16_t::round_from(1.0);
  EXPECT_TRUE(identity_check(flat(eye), shape, verinit::layout::torch, e).passed);
}

template <class T>
class SixteenBitStructureTest : public ::testing::Test {};
using SixteenBitTypes = ::testing::Types<verinit::float16_t, verinit::bfloat16_t>;
TYPED_TEST_SUITE(SixteenBitStructureTest, SixteenBitTypes);

TYPED_TEST(SixteenBitStructureTest, GramCheckHasTheRoundingBoundAndStillSeesDefects) {
  // Correct 16-bit orthogonal matrices pass within the rounding's bound; a 1% gain error and a
  // matrix that was never orthogonalised (normal entries) fail. Square and wide, several gains.
  for (const auto& [rows, cols, gain] : {std::tuple{64, 64, 1.0}, {32, 256, 2.0}, {256, 48, 0.5}}) {
    const verinit::tensor_shape shape{rows, cols};
    const std::string spec = "orthogonal(gain=" + std::to_string(gain) + ")";
    std::vector<TypeParam> q;
    for (std::uint64_t seed = 0; seed < 5; ++seed) {
      verinit::fill_options options;
      options.seed = seed;
      const auto one = verinit::sample<TypeParam>(shape, verinit::parse_scheme(spec), options);
      q.insert(q.end(), one.begin(), one.end());
    }
    const test_result good = gram_check(flat(q), 5, rows, cols, gain);
    EXPECT_TRUE(good.passed) << spec << " " << rows << "x" << cols << ": " << good.statistic
                             << " > " << good.values.front().second;
    EXPECT_FALSE(gram_check(flat(q), 5, rows, cols, gain * 1.01).passed) << spec;
    const auto normal = verinit::sample<TypeParam>(
        shape,
        verinit::parse_scheme(
            "normal(std=" + std::to_string(gain / std::sqrt(std::max(rows, cols))) + ")"),
        {});
    EXPECT_FALSE(gram_check(flat(normal), 1, rows, cols, gain).passed) << spec;
  }
}

TEST(StructureTest, HaarEntryPitIsRandomisedOverTheRoundingCell) {
  // 2 x 2 rotations in bfloat16: the corner entry is arcsine-distributed, with atoms near +-1
  // of ~1% of the mass each. KS of the continuous CDF at the atoms (the naive PIT) fails on
  // correct matrices at n = 10^5; the randomised PIT passes.
  constexpr std::int64_t count = 100'000;
  std::vector<verinit::bfloat16_t> q;
  q.reserve(4 * count);
  for (std::int64_t m = 0; m < count; ++m) {
    verinit::fill_options options;
    options.seed = static_cast<std::uint64_t>(m);
    const auto one = verinit::sample<verinit::bfloat16_t>(
        verinit::tensor_shape{2, 2}, verinit::parse_scheme("orthogonal"), options);
    q.insert(q.end(), one.begin(), one.end());
  }
  const auto tests = haar_tests(flat(q), count, 2, 2, 1.0);
  ASSERT_EQ(tests.front().name, "haar_entry");
  EXPECT_GT(tests.front().p_value, 1e-3);
  const boost::math::beta_distribution<> arcsine(0.5, 0.5);
  std::vector<double> naive;
  for (std::int64_t m = 0; m < count; ++m)
    naive.push_back(boost::math::cdf(
        arcsine,
        std::clamp((verinit::to_double(q[static_cast<std::size_t>(4 * m)]) + 1) / 2, 0.0, 1.0)));
  std::sort(naive.begin(), naive.end());
  EXPECT_LT(ks_test(naive).p_value, 1e-6);
}

TYPED_TEST(SixteenBitStructureTest, HaarEntryTestIsUniformOnTheRoundedLaw) {
  // 2,000 correct 16x16 orthogonal matrices in T: the randomised PIT of the corner entry makes
  // the KS test exact for the rounded law. The p-value must not be small (alpha 1e-3 here: a
  // fixed seed, so deterministic), and the same entries against a wrong gain fail.
  const verinit::tensor_shape shape{16, 16};
  std::vector<TypeParam> q;
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    verinit::fill_options options;
    options.seed = seed;
    const auto one =
        verinit::sample<TypeParam>(shape, verinit::parse_scheme("orthogonal"), options);
    q.insert(q.end(), one.begin(), one.end());
  }
  const auto tests = haar_tests(flat(q), 2000, 16, 16, 1.0);
  ASSERT_EQ(tests.front().name, "haar_entry");
  EXPECT_GT(tests.front().p_value, 1e-3);
  EXPECT_LT(haar_tests(flat(q), 2000, 16, 16, 1.3).front().p_value, 1e-6);
}

}  // namespace
