#include "verinit/shape.hpp"

#include <gtest/gtest.h>

namespace {

using verinit::layout;

TEST(ShapeTest, TorchLinearFans) {
  const verinit::tensor_shape shape{256, 512};  // [out, in]
  const auto f = verinit::compute_fans(shape, layout::torch);
  EXPECT_EQ(f.fan_in, 512);
  EXPECT_EQ(f.fan_out, 256);
  EXPECT_EQ(f.receptive_field, 1);
}

TEST(ShapeTest, KerasDenseFansSwapTheAxes) {
  const verinit::tensor_shape shape{256, 512};  // [in, out]
  const auto f = verinit::compute_fans(shape, layout::keras);
  EXPECT_EQ(f.fan_in, 256);
  EXPECT_EQ(f.fan_out, 512);
}

TEST(ShapeTest, TorchConvFansIncludeTheReceptiveField) {
  const verinit::tensor_shape shape{64, 32, 3, 5};  // [out, in, kh, kw]
  const auto f = verinit::compute_fans(shape, layout::torch);
  EXPECT_EQ(f.receptive_field, 15);
  EXPECT_EQ(f.fan_in, 32 * 15);
  EXPECT_EQ(f.fan_out, 64 * 15);
}

TEST(ShapeTest, KerasConvFansIncludeTheReceptiveField) {
  const verinit::tensor_shape shape{3, 5, 32, 64};  // [kh, kw, in, out]
  const auto f = verinit::compute_fans(shape, layout::keras);
  EXPECT_EQ(f.fan_in, 32 * 15);
  EXPECT_EQ(f.fan_out, 64 * 15);
}

TEST(ShapeTest, Conv3dFans) {
  const verinit::tensor_shape shape{8, 4, 2, 3, 5};
  EXPECT_EQ(verinit::compute_fans(shape, layout::torch).fan_in, 4 * 30);
  EXPECT_EQ(verinit::compute_fans(shape, layout::keras).fan_out, 5 * 64);  // kernel 8x4x2
}

TEST(ShapeTest, RejectsFewerThanTwoDims) {
  const verinit::tensor_shape bias{10};
  EXPECT_THROW(verinit::compute_fans(bias, layout::torch), std::invalid_argument);
  EXPECT_THROW(verinit::compute_fans(verinit::tensor_shape{}, layout::keras),
               std::invalid_argument);
}

TEST(ShapeTest, ParsesShapes) {
  EXPECT_EQ(verinit::parse_shape("256,512"), (verinit::tensor_shape{256, 512}));
  EXPECT_EQ(verinit::parse_shape("7"), (verinit::tensor_shape{7}));
  EXPECT_EQ(verinit::to_string(verinit::parse_shape("3,4,5")), "3,4,5");
}

TEST(ShapeTest, RejectsBadShapesNamingTheDim) {
  for (const char* bad :
       {"", "0,3", "3,-1", "3,,4", "3,x", "3,4,", "1.5,2", "99999999999,99999999999"}) {
    EXPECT_THROW(verinit::parse_shape(bad), std::invalid_argument) << bad;
  }
  try {
    verinit::parse_shape("4,0");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "shape: dim 1 is 0, but must be >= 1");
  }
}

TEST(ShapeTest, ElementCountRejectsOverflowAndZeroDims) {
  EXPECT_EQ(verinit::element_count(verinit::tensor_shape{2, 3, 4}), 24);
  EXPECT_EQ(verinit::element_count(verinit::tensor_shape{}), 1);
  EXPECT_THROW(verinit::element_count(verinit::tensor_shape{1LL << 40, 1LL << 40}),
               std::invalid_argument);
  EXPECT_THROW(verinit::element_count(verinit::tensor_shape{3, 0}), std::invalid_argument);
}

TEST(ShapeTest, ParsesLayouts) {
  EXPECT_EQ(verinit::parse_layout("torch"), layout::torch);
  EXPECT_EQ(verinit::parse_layout("keras"), layout::keras);
  EXPECT_THROW(verinit::parse_layout("tf"), std::invalid_argument);
  EXPECT_EQ(verinit::to_string(layout::keras), "keras");
}

}  // namespace
