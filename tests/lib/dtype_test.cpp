// The dtype layer: the traits against numpy's and ml_dtypes' finfo, rounding to nearest even
// characterized exhaustively on the 16-bit grids, exact decoding, neighbours, the dispatch.
#include "verinit/dtype.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "verinit/tensor.hpp"

namespace {

using verinit::bfloat16_t;
using verinit::dtype;
using verinit::float16_t;

// numpy 1.24: np.finfo(np.float16); ml_dtypes 0.2: ml_dtypes.finfo(ml_dtypes.bfloat16).
TEST(DtypeTest, TraitsMatchNumpyAndMlDtypesFinfo) {
  const auto& half = verinit::info(dtype::float16);
  EXPECT_EQ(half.size, 2u);
  EXPECT_EQ(half.digits, 11);
  EXPECT_EQ(half.max, 65504.0);
  EXPECT_EQ(half.smallest_normal, 6.103515625e-05);
  EXPECT_EQ(half.smallest_subnormal, 5.960464477539063e-08);
  EXPECT_EQ(half.epsilon, 0.0009765625);
  EXPECT_EQ(half.npy_descr, "<f2");
  EXPECT_EQ(half.safetensors_name, "F16");
  const auto& brain = verinit::info(dtype::bfloat16);
  EXPECT_EQ(brain.size, 2u);
  EXPECT_EQ(brain.digits, 8);
  EXPECT_EQ(brain.max, 3.3895313892515355e+38);
  EXPECT_EQ(brain.smallest_normal, 1.1754943508222875e-38);
  EXPECT_EQ(brain.smallest_subnormal, 9.183549615799121e-41);
  EXPECT_EQ(brain.epsilon, 0.0078125);
  EXPECT_TRUE(brain.npy_descr.empty());  // numpy has no bfloat16
  EXPECT_EQ(brain.safetensors_name, "BF16");
  EXPECT_EQ(verinit::info(dtype::float32).max, std::numeric_limits<float>::max());
  EXPECT_EQ(verinit::info(dtype::float32).npy_descr, "<f4");
  EXPECT_EQ(verinit::info(dtype::float64).digits, 53);
  EXPECT_EQ(verinit::info(dtype::float64).safetensors_name, "F64");
  ASSERT_EQ(verinit::dtypes().size(), 4u);
  for (const auto& d : verinit::dtypes()) EXPECT_EQ(&verinit::info(d.type), &d);
}

TEST(DtypeTest, ParsesItsNamesAndRejectsOthers) {
  for (const auto& d : verinit::dtypes()) EXPECT_EQ(verinit::parse_dtype(d.name), d.type);
  try {
    verinit::parse_dtype("int8");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'int8'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos);
  }
}

TEST(DtypeTest, VisitDispatchesToTheElementType) {
  for (const auto& d : verinit::dtypes()) {
    const auto [type, size] = verinit::visit_dtype(d.type, [](auto tag) {
      using T = typename decltype(tag)::type;
      return std::pair{verinit::dtype_of<T>, sizeof(T)};
    });
    EXPECT_EQ(type, d.type);
    EXPECT_EQ(size, d.size);
  }
}

// Round to nearest even, characterized completely on a grid: every finite value rounds to
// itself; the midpoint of two neighbours goes to the one with an even last bit, and the
// doubles just either side of it to the nearer neighbour; past max + half an ulp is infinity;
// below half the smallest subnormal is zero. Every double falls in one of these cases.
template <class T>
void expect_round_to_nearest_even() {
  const double max = verinit::info(verinit::dtype_of<T>).max;
  for (std::uint32_t bits = 0; bits < 0x7fff; ++bits) {  // the positive finite values
    const T a = T::from_bits(static_cast<std::uint16_t>(bits));
    const double value = static_cast<double>(a);
    if (!std::isfinite(value)) break;
    ASSERT_EQ(T::round_from(value).bits, bits) << value;
    ASSERT_EQ(T::round_from(-value).bits, bits | 0x8000) << -value;
    const double next = static_cast<double>(T::from_bits(static_cast<std::uint16_t>(bits + 1)));
    const double midpoint = value == max
                                ? value + (value - static_cast<double>(verinit::next_down(a))) / 2
                                : (value + next) / 2;  // exact in double
    const std::uint32_t even = (bits & 1) == 0 ? bits : bits + 1;
    ASSERT_EQ(T::round_from(midpoint).bits, even) << midpoint;
    ASSERT_EQ(T::round_from(std::nextafter(midpoint, 0.0)).bits, bits) << midpoint;
    ASSERT_EQ(T::round_from(std::nextafter(midpoint, INFINITY)).bits, bits + 1) << midpoint;
  }
  const T inf = T::round_from(INFINITY);
  EXPECT_TRUE(std::isinf(static_cast<double>(inf)));
  EXPECT_EQ(T::round_from(-INFINITY).bits, inf.bits | 0x8000);
  EXPECT_TRUE(std::isinf(static_cast<double>(T::round_from(1e300))));
  EXPECT_TRUE(std::isnan(static_cast<double>(T::round_from(NAN))));
  EXPECT_EQ(T::round_from(-0.0).bits, 0x8000);
  const double tiny = verinit::info(verinit::dtype_of<T>).smallest_subnormal;
  EXPECT_EQ(T::round_from(tiny / 2).bits, 0);  // a tie: to the even zero
  EXPECT_EQ(T::round_from(std::nextafter(tiny / 2, 1.0)).bits, 1);
  EXPECT_EQ(T::round_from(1e-300).bits, 0);
}

TEST(DtypeTest, Float16RoundsToNearestEven) { expect_round_to_nearest_even<float16_t>(); }
TEST(DtypeTest, Bfloat16RoundsToNearestEven) { expect_round_to_nearest_even<bfloat16_t>(); }

#ifdef __FLT16_MAX__
TEST(DtypeTest, Float16AgreesWithTheCompilersFloat16) {
  // GCC's _Float16 conversions (libgcc's __truncdfhf2): an independent implementation.
  std::mt19937_64 engine(7);
  std::uniform_int_distribution<int> exponent(-30, 18);
  std::uniform_real_distribution<double> mantissa(1, 2);
  for (int i = 0; i < 1'000'000; ++i) {
    const double x = (i % 2 ? -1 : 1) * std::ldexp(mantissa(engine), exponent(engine));
    const auto hardware = std::bit_cast<std::uint16_t>(static_cast<_Float16>(x));
    ASSERT_EQ(float16_t::round_from(x).bits, hardware) << x;
    ASSERT_EQ(static_cast<double>(float16_t::from_bits(hardware)),
              static_cast<double>(static_cast<_Float16>(x)));
  }
}
#endif

TEST(DtypeTest, Bfloat16IsFloat32WithItsLow16BitsRoundedAway) {
  // A bfloat16 is exactly a float32 whose low 16 bits are zero.
  for (std::uint32_t bits = 0; bits < 0x7f80; ++bits) {
    const auto b = bfloat16_t::from_bits(static_cast<std::uint16_t>(bits));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(static_cast<float>(b)), bits << 16);
  }
}

template <class T>
void expect_neighbours() {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const T x = T::from_bits(static_cast<std::uint16_t>(bits));
    const double v = static_cast<double>(x);
    if (std::isnan(v)) continue;
    const double up = static_cast<double>(verinit::next_up(x));
    const double down = static_cast<double>(verinit::next_down(x));
    if (std::isinf(v) && v > 0) {
      EXPECT_EQ(up, v);
      continue;
    }
    if (std::isinf(v) && v < 0) {
      EXPECT_EQ(down, v);
      continue;
    }
    ASSERT_GT(up, v) << bits;
    ASSERT_LT(down, v) << bits;
    // Nothing of T lies strictly between: the reals just short of the midpoints round back.
    if (std::isfinite(up)) {
      ASSERT_EQ(static_cast<double>(T::round_from(std::nextafter((v + up) / 2, v))), v) << bits;
    }
    if (std::isfinite(down)) {
      ASSERT_EQ(static_cast<double>(T::round_from(std::nextafter((v + down) / 2, v))), v) << bits;
    }
  }
}

TEST(DtypeTest, NeighboursAreTheAdjacentValues) {
  expect_neighbours<float16_t>();
  expect_neighbours<bfloat16_t>();
  EXPECT_EQ(verinit::next_up(1.0f), std::nextafter(1.0f, 2.0f));
  EXPECT_EQ(verinit::next_down(1.0), std::nextafter(1.0, 0.0));
}

TEST(DtypeTest, RoundsOutward) {
  EXPECT_LT(static_cast<double>(verinit::round_down<float>(-0.3)), -0.3);
  EXPECT_GT(static_cast<double>(verinit::round_up<float>(0.3)), 0.3);
  EXPECT_EQ(verinit::round_down<float>(0.5), 0.5f);
  EXPECT_EQ(static_cast<double>(verinit::round_down<float16_t>(1e6)), 65504.0);
  EXPECT_TRUE(std::isinf(verinit::round_up<double>(INFINITY)));
  EXPECT_EQ(static_cast<double>(verinit::round_up<bfloat16_t>(1.001)), 1.0078125);
}

TEST(TensorViewTest, ChecksItsBytesAgainstTheShapeAndType) {
  std::vector<float> data(6);
  const verinit::tensor_shape shape{2, 3};
  const auto view = verinit::view_of(std::span<const float>(data), shape);
  EXPECT_EQ(view.type, dtype::float32);
  EXPECT_EQ(view.size(), 6);
  EXPECT_EQ(view.elements<float>().data(), data.data());
  EXPECT_THROW((void)view.elements<double>(), std::invalid_argument);
  EXPECT_THROW(verinit::view_of(std::span<const float>(data), verinit::tensor_shape{7}),
               std::invalid_argument);
  const auto bytes = std::as_bytes(std::span(data));
  EXPECT_THROW(verinit::make_tensor_view(dtype::float64, {2, 3}, bytes), std::invalid_argument);
  EXPECT_THROW(verinit::make_tensor_view(dtype::float32, {2, 3}, bytes.subspan(1, 24 - 4)),
               std::invalid_argument);  // misaligned
  EXPECT_EQ(verinit::make_tensor_view(dtype::float16, {12}, bytes).size(), 12);
}

}  // namespace
