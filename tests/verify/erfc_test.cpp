// The erfc kernel: close to the C library's, and the same bits whether a value comes alone or
// in a batch of any length (the verifier's bitwise D relies on it); and the laws' cdfs built on
// it (detail/law_points.hpp's fast_cdf and cdf_batch).
#include "verinit/verify/detail/erfc.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "verinit/verify/detail/law_points.hpp"

namespace {

using verinit::verify::detail::erfc_batch;
using verinit::verify::detail::erfc_one;

TEST(ErfcTest, CloseToTheLibraryAcrossTheRange) {
  std::vector<double> x;
  for (double v = -6; v <= 26; v += 0.0137) x.push_back(v);  // erfc(26) ~ 1e-296
  std::vector<double> y(x.size());
  erfc_batch(x.data(), y.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double reference = std::erfc(x[i]);
    EXPECT_NEAR(y[i], reference, 4e-15 * reference) << x[i];  // libmvec promises <= 4 ulp
  }
  EXPECT_EQ(erfc_one(0.0), 1.0);
  EXPECT_TRUE(std::isnan(erfc_one(NAN)));
  EXPECT_EQ(erfc_one(INFINITY), 0.0);
  EXPECT_EQ(erfc_one(-INFINITY), 2.0);
}

TEST(ErfcTest, OneValueAndEveryBatchLengthGiveTheSameBits) {
  std::vector<double> x;
  for (int i = 0; i < 23; ++i) x.push_back(-2.3 + 0.37 * i);
  for (std::size_t n = 1; n <= x.size(); ++n) {
    std::vector<double> y(n);
    erfc_batch(x.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(y[i], erfc_one(x[i])) << n << " " << i;
  }
  std::vector<double> in_place = x;  // in == out is allowed
  erfc_batch(in_place.data(), in_place.data(), in_place.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(in_place[i], erfc_one(x[i]));
}

TEST(ErfcTest, TruncatedNormalCdfThroughTheKernel) {
  // Against the distribution object's cdf (the same formula on std::erfc), on each side of the
  // mean and far out in both tails.
  using verinit::verify::truncated_normal_distribution;
  for (const auto& d : {truncated_normal_distribution<>(0, 1, -2, 2),
                        truncated_normal_distribution<>(0.2, 0.5, 0.5, 3),
                        truncated_normal_distribution<>(0, 1, -7, -5),
                        truncated_normal_distribution<>(1, 2, -30, 0)}) {
    std::vector<double> x;
    for (double v = d.lower() - 0.5; v <= d.upper() + 0.5; v += (d.upper() - d.lower()) / 997)
      x.push_back(static_cast<float>(v));
    x.push_back(NAN);
    x.push_back(INFINITY);
    x.push_back(-INFINITY);
    std::vector<double> u(x.size());
    verinit::verify::detail::cdf_batch(d, x.data(), u.data(), x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(u[i]));
        EXPECT_TRUE(std::isnan(verinit::verify::detail::fast_cdf(d, v)));
        continue;
      }
      EXPECT_EQ(u[i], verinit::verify::detail::fast_cdf(d, v)) << v;  // one = any batch, bitwise
      // Absolute: near a bound the cdf is a difference of two tails, each within a few ulp.
      EXPECT_NEAR(u[i], cdf(d, v), 1e-14) << v;
    }
  }
}

}  // namespace
