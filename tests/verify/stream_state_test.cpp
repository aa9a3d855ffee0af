// The i.i.d. stream state: its sums against plain loops, the same bits on any thread count,
// merges in any grouping equal to one pass (and so their bytes), the byte form's round trip
// and its refusals, the bins' bracket of KS and A^2.
#include "verinit/verify/stream_state.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "verinit/fill.hpp"
#include "verinit/verify/distributions/truncated_normal.hpp"
#include "verinit/verify/goodness_of_fit.hpp"

namespace {

using namespace verinit::verify;

template <class T = float>
std::vector<T> draw(const char* spec, std::int64_t n, std::uint64_t seed = 1) {
  verinit::fill_options options;
  options.seed = seed;
  return verinit::sample<T>(verinit::tensor_shape{n}, verinit::parse_scheme(spec), options);
}

template <class T>
iid_context context_of(const any_law& law, const verinit::tensor_shape& shape,
                       verinit::layout layout = verinit::layout::torch) {
  return {law, verinit::dtype_of<T>, sample_grouping::of(shape, layout)};
}

template <class T>
stream_state state_of(const std::vector<T>& x, const iid_context& context,
                      stream_state::options options = {}, int threads = 2) {
  stream_state state(context, options);
  state.add(std::span<const T>(x), threads);
  return state;
}

// Against plain loops written here: counts and the largest distance exactly; the sums within
// the recursive-summation bound, (n - 1) eps times the sum of the terms' magnitudes (Higham,
// Accuracy and Stability of Numerical Algorithms, 2002, eq. 4.4), of a long-double reference.
// A missing or wrong term would be off by ~1/n of that magnitude, far more.
template <class T>
void expect_equals_reference(const std::vector<T>& x, const any_law& law) {
  const iid_sums s = state_of(x, context_of<T>(law, {static_cast<std::int64_t>(x.size())})).sums();
  const double mean = law.moments().mean, variance = law.moments().variance;
  const double low = verinit::round_down<T>(law.support().first);
  const double high = verinit::round_up<T>(law.support().second);
  const bool excluded = law.upper_bound_excluded();
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0;
  long double s1 = 0, s2 = 0, s3 = 0, s4 = 0, lagged = 0, squares_lagged = 0;
  double a1 = 0, a2 = 0, a3 = 0, a4 = 0, largest = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = static_cast<double>(x[i]);
    if (!std::isfinite(v)) {
      ++non_finite;
    } else if (v < low || v > high) {
      ++outside;
    } else if (excluded && v == high) {
      ++at_excluded;
    }
    const double d = v - mean;
    s1 += d;
    s2 += static_cast<long double>(d) * d;
    s3 += static_cast<long double>(d) * d * d;
    s4 += static_cast<long double>(d) * d * d * d;
    a1 += std::abs(d);
    a2 += d * d;
    a3 += std::abs(d * d * d);
    a4 += d * d * d * d;
    largest = std::isnan(d) ? INFINITY : std::max(largest, std::abs(d));
    if (i + 1 < x.size()) {
      const double next = static_cast<double>(x[i + 1]) - mean;
      lagged += static_cast<long double>(d) * next;
      squares_lagged += static_cast<long double>(d * d - variance) * (next * next - variance);
    }
  }
  EXPECT_EQ(s.outside, outside) << law.description();
  EXPECT_EQ(s.at_excluded, at_excluded) << law.description();
  EXPECT_EQ(s.non_finite, non_finite) << law.description();
  EXPECT_EQ(s.largest, largest) << law.description();
  EXPECT_EQ(s.n, static_cast<std::int64_t>(x.size()));
  if (!std::isfinite(a4)) return;  // non-finite samples: the sums are not compared
  const double eps = static_cast<double>(x.size()) * std::numeric_limits<double>::epsilon();
  EXPECT_NEAR(s.s1.value(), static_cast<double>(s1), eps * a1);
  EXPECT_NEAR(s.s2.value(), static_cast<double>(s2), eps * a2);
  EXPECT_NEAR(s.s3.value(), static_cast<double>(s3), eps * a3);
  EXPECT_NEAR(s.s4.value(), static_cast<double>(s4), eps * a4);
  EXPECT_NEAR(s.lagged.value(), static_cast<double>(lagged), eps * a2);  // |d_i d_i+1| <= a2
  EXPECT_NEAR(s.squares_lagged.value(), static_cast<double>(squares_lagged),
              2 * eps * (a4 + x.size() * variance * variance));
}

TEST(StreamStateTest, SumsEqualPlainLoops) {
  // Sizes around the vector width and the block size, a correlated stream, bounded laws.
  for (std::int64_t n : {1, 2, 3, 7, 8, 9, 17, 1000, 16384, 16385, 100003}) {
    expect_equals_reference(draw("normal(std=0.5)", n),
                            any_law(boost::math::normal_distribution<>(0.0, 0.5)));
    expect_equals_reference(draw("uniform(a=-1,b=1)", n),
                            any_law(boost::math::uniform_distribution<>(-1.0, 1.0)));
  }
  auto x = draw("normal", 50000);
  for (std::size_t i = 1; i < x.size(); ++i) x[i] = 0.9f * x[i - 1] + 0.1f * x[i];
  expect_equals_reference(x, any_law(boost::math::normal_distribution<>(0.0, 1.0)));
  expect_equals_reference(std::vector<double>(x.begin(), x.end()),
                          any_law(boost::math::normal_distribution<>(0.0, 1.0)));
}

TEST(StreamStateTest, CountsWhatTheSupportCheckCounts) {
  // Outside either bound, on the excluded upper bound of U[-1, 1), infinities and NaN.
  std::vector<float> x = draw("uniform(a=-1,b=1)", 1001);
  x[3] = 1.0f;
  x[4] = 1.5f;
  x[5] = -1.0000001f;
  x[6] = std::numeric_limits<float>::infinity();
  x[7] = -std::numeric_limits<float>::infinity();
  x[8] = std::numeric_limits<float>::quiet_NaN();
  x[999] = 1.0f;
  const any_law law = boost::math::uniform_distribution<>(-1.0, 1.0);
  const iid_sums s = state_of(x, context_of<float>(law, {1001})).sums();
  EXPECT_EQ(s.outside, 2);
  EXPECT_EQ(s.at_excluded, 2);
  EXPECT_EQ(s.non_finite, 3);
  EXPECT_EQ(s.nan, 1);
  EXPECT_EQ(s.largest, INFINITY);  // a NaN sample
  expect_equals_reference(x, law);
  // A truncated normal's closed bounds are inside the support.
  const std::vector<double> y = {-2.0, 2.0, 0.5, 2.0000001};
  const iid_sums closed =
      state_of(y, context_of<double>(truncated_normal_distribution<>(0, 1, -2, 2), {4})).sums();
  EXPECT_EQ(closed.outside, 1);
  EXPECT_EQ(closed.at_excluded, 0);
  EXPECT_EQ(closed.largest, 2.0000001);
}

TEST(StreamStateTest, SameBitsOnEveryThreadCount) {
  const auto x = draw("normal", 1 << 20);
  std::vector<float> reused = x;  // with repeated windows, so the hashes matter too
  std::copy(reused.begin(), reused.begin() + 100'000, reused.begin() + 500'000);
  const auto context =
      context_of<float>(boost::math::normal_distribution<>(0.0, 1.0), {1024, 1024});
  const stream_state::options binned{1 << 12, 4};
  const auto one = state_of(reused, context, binned, 1).to_bytes();
  for (int threads : {2, 3, 7})
    EXPECT_EQ(state_of(reused, context, binned, threads).to_bytes(), one);
}

TEST(StreamStateTest, MergesInAnyGroupingEqualOnePass) {
  // 12 tensors of 128 x 64 in pieces of 1 to 5 tensors: one pass over the pieces, the pieces'
  // states merged left to right, right to left, and pairwise; bitwise the same bytes. The
  // last piece ends inside a tensor (allowed for the last).
  const verinit::tensor_shape shape{128, 64};
  const std::int64_t numel = 128 * 64;
  const auto x = draw("normal(std=0.125)", 12 * numel - 100, 3);
  const auto context = context_of<float>(boost::math::normal_distribution<>(0.0, 0.125), shape);
  const stream_state::options binned{1 << 10, 2};
  const std::int64_t cuts[] = {0, 1, 3, 4, 8, 9, 12};
  std::vector<stream_state> pieces;
  stream_state one_pass(context, binned);
  for (std::size_t k = 0; k + 1 < std::size(cuts); ++k) {
    const std::int64_t begin = cuts[k] * numel;
    const std::int64_t end =
        std::min<std::int64_t>(static_cast<std::int64_t>(x.size()), cuts[k + 1] * numel);
    const std::span<const float> piece(x.data() + begin, static_cast<std::size_t>(end - begin));
    one_pass.add(piece, 2);
    pieces.emplace_back(context, binned);
    pieces.back().add(piece, 1);
  }
  const auto expected = one_pass.to_bytes();
  stream_state left(context, binned);
  for (const auto& p : pieces) left += p;
  EXPECT_EQ(left.to_bytes(), expected);
  stream_state right = pieces.back();
  for (std::size_t k = pieces.size() - 1; k-- > 0;) {
    stream_state merged = pieces[k];
    merged += std::move(right);
    right = std::move(merged);
  }
  EXPECT_EQ(right.to_bytes(), expected);
  stream_state a = pieces[0], b = pieces[2], c = pieces[4];
  a += pieces[1];
  b += pieces[3];
  c += pieces[5];
  a += b;
  a += c;
  EXPECT_EQ(a.to_bytes(), expected);
  EXPECT_TRUE(a == one_pass);
  EXPECT_EQ(a.sums().n, static_cast<std::int64_t>(x.size()));
  EXPECT_EQ(a.repeats(2).windows, static_cast<std::int64_t>(x.size()) - 3);
  // A piece may not follow a stream that ends inside a tensor.
  EXPECT_THROW(a += pieces[0], std::invalid_argument);
}

TEST(StreamStateTest, ByteFormRoundTripsAndRefusesOtherStates) {
  const auto x = draw("uniform(a=-1,b=1)", 40'000, 4);
  const any_law law = boost::math::uniform_distribution<>(-1.0, 1.0);
  const auto context = context_of<float>(law, {200, 200});
  const stream_state state = state_of(x, context, {1 << 8, 3});
  const auto bytes = state.to_bytes();
  const stream_state back = stream_state::from_bytes(bytes, context);
  EXPECT_TRUE(back == state);
  EXPECT_EQ(back.sums().s2.value(), state.sums().s2.value());
  EXPECT_EQ(back.bracket().d_low, state.bracket().d_low);
  // Another law, dtype or grouping; truncated, extended or corrupted bytes.
  EXPECT_THROW(
      stream_state::from_bytes(
          bytes, context_of<float>(boost::math::uniform_distribution<>(-1.0, 2.0), {200, 200})),
      std::invalid_argument);
  EXPECT_THROW(stream_state::from_bytes(bytes, context_of<double>(law, {200, 200})),
               std::invalid_argument);
  EXPECT_THROW(stream_state::from_bytes(bytes, context_of<float>(law, {100, 400})),
               std::invalid_argument);
  for (const std::size_t cut : {std::size_t{0}, std::size_t{8}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_THROW(stream_state::from_bytes(std::span(bytes).first(cut), context),
                 std::invalid_argument)
        << cut;
  auto longer = bytes;
  longer.push_back(std::byte{0});
  EXPECT_THROW(stream_state::from_bytes(longer, context), std::invalid_argument);
  auto other_magic = bytes;
  other_magic[0] = std::byte{0};
  EXPECT_THROW(stream_state::from_bytes(other_magic, context), std::invalid_argument);
  // (Lying lengths and counts: tests/fuzz/stream_state_fuzz.cpp.)
}

TEST(StreamStateTest, RejectsBadOptionsAndPieces) {
  const any_law law = boost::math::normal_distribution<>(0.0, 1.0);
  EXPECT_THROW(stream_state(context_of<float>(law, {10}), {1000, 4}), std::invalid_argument);
  EXPECT_THROW(stream_state(context_of<float>(law, {10}), {8, 4}), std::invalid_argument);
  EXPECT_THROW(stream_state(context_of<float>(law, {10}), {0, 25}), std::invalid_argument);
  stream_state state(context_of<float>(law, {10}), {});
  const std::vector<double> wrong(10);
  EXPECT_THROW(state.add(std::span<const double>(wrong), 1), std::invalid_argument);
  const std::vector<float> seven(7);
  state.add(std::span<const float>(seven), 1);  // ends inside a tensor of 10
  EXPECT_THROW(state.add(std::span<const float>(seven), 1), std::invalid_argument);
  EXPECT_THROW(state.add(std::span<const float>(seven), 0), std::invalid_argument);
  EXPECT_THROW((void)state.bracket(), std::logic_error);  // no bins
}

TEST(StreamStateTest, BracketsHoldTheExactStatisticsAndAreNarrow) {
  const any_law law = boost::math::normal_distribution<>(0.0, 1.0);
  const auto y = draw("normal", 2'000'000, 1);
  for (const std::int64_t bins : {std::int64_t{1} << 10, std::int64_t{1} << 16}) {
    const stream_state state = state_of(y, context_of<float>(law, {2000, 1000}), {bins, 4});
    const auto b = state.bracket();
    const fit_statistics exact = fit_statistics_of(
        verinit::view_of(std::span<const float>(y), std::vector<std::int64_t>{2'000'000}), law, 2);
    EXPECT_LE(b.d_low, exact.d) << bins;
    EXPECT_GE(b.d_high, exact.d) << bins;
    EXPECT_LE(b.a2_low, exact.a2 * (1 + 1e-9)) << bins;
    EXPECT_GE(b.a2_high, exact.a2 * (1 - 1e-9)) << bins;
    // D's bracket: at most 1/K + the fullest bin's share.
    EXPECT_LT(b.d_high - b.d_low, 1.0 / static_cast<double>(bins) + 4.0 / bins) << bins;
  }
}

TEST(StreamStateTest, DataFarFromTheLawOverflowsTheOuterBinWithoutHoldingIt) {
  // Every u is ~1 against N(-10, 1): all 5*10^6 samples land in the top bin, more than the
  // 2^22 exact values a tail may hold. The bin is then bracketed.
  const auto x = draw("normal(std=0.0447)", 5'000'000, 4);
  const any_law far = boost::math::normal_distribution<>(-10.0, 1.0);
  stream_state state(context_of<float>(far, {1000, 1000}), {1 << 16, 4});
  state.add(std::span<const float>(x).subspan(0, 3'000'000), 2);
  state.add(std::span<const float>(x).subspan(3'000'000), 2);
  const auto b = state.bracket();
  EXPECT_LE(b.d_low, b.d_high);
  EXPECT_GT(b.d_low, 0.99);
  EXPECT_TRUE(std::isinf(b.a2_high));
}

TEST(StreamStateTest, GroupsFollowTheLayoutsOutputUnits) {
  // torch [out, in, k]: a unit is a row of in*k samples; keras [k, in, out]: a column.
  const auto torch = sample_grouping::of(verinit::tensor_shape{64, 32, 3}, verinit::layout::torch);
  EXPECT_EQ(torch.units, 64);
  EXPECT_FALSE(torch.strided);
  EXPECT_EQ(torch.units_per_group, 1);  // 96 >= 64 samples a unit
  const auto keras =
      sample_grouping::of(verinit::tensor_shape{3, 3, 4, 128}, verinit::layout::keras);
  EXPECT_EQ(keras.units, 128);
  EXPECT_TRUE(keras.strided);
  EXPECT_EQ(keras.units_per_group, 2);  // 36 samples a unit: two units a group
  const auto bias = sample_grouping::of(verinit::tensor_shape{1000}, verinit::layout::torch);
  EXPECT_EQ(bias.units_per_group, 64);  // 1-D: blocks of 64 consecutive values
  EXPECT_EQ(bias.groups_per_tensor(), 16);
  // The groups' count and sizes, and the same sums from a plain loop over columns.
  const verinit::tensor_shape shape{5, 14, 96};
  const auto x = draw<double>("normal", 5 * 14 * 96 * 2, 5);
  const any_law law = boost::math::normal_distribution<>(0.0, 1.0);
  const iid_sums s = state_of(x, context_of<double>(law, shape, verinit::layout::keras)).sums();
  EXPECT_EQ(s.groups, 2 * 96);
  double group_squares = 0;
  for (int t = 0; t < 2; ++t)
    for (int o = 0; o < 96; ++o) {  // column o of tensor t: 70 samples
      double squares = 0;
      for (int r = 0; r < 70; ++r) {
        const double v = x[static_cast<std::size_t>(t * 6720 + r * 96 + o)];
        squares += v * v;
      }
      group_squares += squares * squares / 70;
    }
  EXPECT_NEAR(s.group_squares.value(), group_squares, 1e-12 * group_squares);
  EXPECT_NEAR(s.inverse_group_sizes.value(), 2 * 96 / 70.0, 1e-12);
}

}  // namespace
