// A catalogue of realistic initializer bugs, each a way to make samples that look like a
// scheme's but are wrong, with the scheme they claim to follow. Shared by power_test.cpp (each
// must FAIL at the standard battery's size) and power_table.cpp (the smallest n that catches
// each).
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "verinit/fill.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::testing {

struct bug {
  std::string id;      ///< a short identifier (the power test's case name)
  std::string name;    ///< what went wrong
  std::string source;  ///< where such a bug was seen
  std::string expect;  ///< the scheme the samples claim to follow
  tensor_shape shape;  ///< the layer
  layout tensor_layout;
  std::function<std::vector<float>(std::int64_t n, std::uint64_t seed)> make;
};

inline std::vector<float> draw(const std::string& spec, std::int64_t n, std::uint64_t seed,
                               tensor_shape shape = {}, layout l = layout::torch) {
  if (shape.empty()) shape = {n};
  fill_options options;
  options.seed = seed;
  options.layout = l;
  std::vector<float> out;
  for (std::int64_t k = 0; static_cast<std::int64_t>(out.size()) < n; ++k) {
    options.seed = seed + static_cast<std::uint64_t>(k);
    const auto part = sample<float>(shape, parse_scheme(spec), options);
    out.insert(out.end(), part.begin(), part.end());
  }
  out.resize(static_cast<std::size_t>(n));
  return out;
}

inline std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

inline std::vector<bug> catalogue() {
  std::vector<bug> bugs;
  bugs.push_back({"dropped_relu_gain",
                  "He-uniform bound sqrt(3/fan_in): the gain sqrt(2) dropped",
                  "common in hand-written inits",
                  "he_uniform",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("uniform(a=" + number(-std::sqrt(3.0 / 512)) +
                                    ",b=" + number(std::sqrt(3.0 / 512)) + ")",
                                n, seed);
                  }});
  bugs.push_back({"missing_truncation_correction",
                  "truncated normal without the 0.8796 correction (variance 0.774x)",
                  "TF1 VarianceScaling 'normal'",
                  "variance_scaling",
                  {3, 3, 64, 128},
                  layout::keras,
                  [](std::int64_t n, std::uint64_t seed) {
                    const double s = std::sqrt(1.0 / 576);
                    return draw("truncated_normal(std=" + number(s) + ",a=" + number(-2 * s) +
                                    ",b=" + number(2 * s) + ")",
                                n, seed);
                  }});
  bugs.push_back({"swapped_fan_axes",
                  "fan axes swapped on a 256x512 layer (fan_in 256 for 512)",
                  "Keras/PyTorch layout mix-ups",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("he_normal", n, seed, {256, 512}, layout::keras);
                  }});
  bugs.push_back({"ignored_receptive_field",
                  "conv receptive field ignored (fan_in 32 for 32x3x3)",
                  "fans from the first two dims only",
                  "he_normal",
                  {64, 32, 3, 3},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("normal(std=" + number(std::sqrt(2.0 / 32)) + ")", n, seed);
                  }});
  bugs.push_back({"leaky_relu_gain_misread",
                  "leaky_relu gain sqrt(2/(1+a)) instead of sqrt(2/(1+a^2)), a = 0.2",
                  "He et al. eq. misread",
                  "kaiming_normal(a=0.2)",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw(
                        "normal(std=" + number(std::sqrt(2.0 / 1.2) / std::sqrt(512.0)) + ")", n,
                        seed);
                  }});
  bugs.push_back({"variance_one_percent_high",
                  "variance 1% too high",
                  "a rounding or constant error",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("normal(std=" + number(0.0625 * std::sqrt(1.01)) + ")", n, seed);
                  }});
  bugs.push_back({"stream_reused_per_block",
                  "one random stream reused for every block of 65536",
                  "per-thread engines seeded alike",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    auto x = draw("he_normal", n, seed, {256, 512});
                    for (std::size_t i = 65536; i < x.size(); ++i) x[i] = x[i % 65536];
                    return x;
                  }});
  bugs.push_back({"out_of_support_values",
                  "30 out-of-support values",
                  "an unclamped transform at the bounds",
                  "he_uniform",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    auto x = draw("he_uniform", n, seed, {256, 512});
                    const float outside = static_cast<float>(1.5 * std::sqrt(6.0 / 512));
                    for (int i = 0; i < 30; ++i)
                      x[static_cast<std::size_t>(i) * (x.size() / 30)] = outside;
                    return x;
                  }});
  bugs.push_back(
      {"linear_default_for_he",
       "PyTorch's Linear default taken for He init (kaiming_uniform(a=sqrt(5)): variance 1/6 of "
       "He)",
       "pytorch/pytorch#15314",
       "he_uniform",
       {256, 512},
       layout::torch,
       [](std::int64_t n, std::uint64_t seed) {
         return draw("torch_linear", n, seed, {256, 512});
       }});
  bugs.push_back(
      {"squared_gain",
       "kaiming_uniform with gain^2 for gain (relu: variance 2x), as proposed in a bug report",
       "pytorch/pytorch#30946",
       "kaiming_uniform(nonlinearity=relu)",
       {256, 512},
       layout::torch,
       [](std::int64_t n, std::uint64_t seed) {
         const double bound = std::sqrt(3.0) * 2.0 / std::sqrt(512.0);
         return draw("uniform(a=" + number(-bound) + ",b=" + number(bound) + ")", n, seed);
       }});
  bugs.push_back({"orthogonal_without_sign_correction",
                  "orthogonal without the sign correction of diag(R)",
                  "QR-based orthogonal before Mezzadri",
                  "orthogonal",
                  {64, 64},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    const std::int64_t matrices = std::max<std::int64_t>(1, n / 4096);
                    std::vector<float> out;
                    for (std::int64_t m = 0; m < matrices; ++m) {
                      const auto g = draw("normal", 4096, seed + static_cast<std::uint64_t>(m));
                      Eigen::MatrixXd a(64, 64);
                      for (int i = 0; i < 64; ++i)
                        for (int j = 0; j < 64; ++j)
                          a(i, j) = g[static_cast<std::size_t>(i * 64 + j)];
                      Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
                      const Eigen::MatrixXd q = qr.householderQ();
                      for (int i = 0; i < 64; ++i)
                        for (int j = 0; j < 64; ++j) out.push_back(static_cast<float>(q(i, j)));
                    }
                    return out;
                  }});
  bugs.push_back({"clipped_tails",
                  "normal with every value beyond +-4.5 sigma removed",
                  "samplers that truncate their tails (Box-Muller in low precision, inverse-CDF "
                  "samplers fed coarse uniforms, clamp to k sigma)",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    std::vector<float> out;
                    for (std::uint64_t k = 0; static_cast<std::int64_t>(out.size()) < n; ++k)
                      for (float v : draw("he_normal", 1 << 20, seed + 1000 * k, {256, 512}))
                        if (std::abs(v) <= 4.5f * 0.0625f &&
                            static_cast<std::int64_t>(out.size()) < n)
                          out.push_back(v);
                    return out;
                  }});
  bugs.push_back({"box_muller_shared_radius",
                  "Box-Muller pairs sharing one radius with independent angles (marginals exactly "
                  "normal, linear correlation 0)",
                  "a Box-Muller written with two angles for one radius",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    // x = R cos(2 pi u2), y = R sin(2 pi u3), R = sqrt(-2 ln u1): each is
                    // N(0, 1), and x^2, y^2 are correlated (0.5) through R.
                    const auto u = draw("uniform", 3 * (n / 2 + 1), seed);
                    std::vector<float> x(static_cast<std::size_t>(n));
                    constexpr double two_pi = 6.283185307179586;
                    for (std::size_t k = 0; 2 * k < x.size(); ++k) {
                      const double r = std::sqrt(-2 * std::log(1 - u[3 * k]));
                      x[2 * k] = static_cast<float>(0.0625 * r * std::cos(two_pi * u[3 * k + 1]));
                      if (2 * k + 1 < x.size())
                        x[2 * k + 1] =
                            static_cast<float>(0.0625 * r * std::sin(two_pi * u[3 * k + 2]));
                    }
                    return x;
                  }});
  bugs.push_back({"rows_alternating_scale",
                  "rows alternately at variance x1.1 and x0.9 (overall variance exact)",
                  "rows initialised by two code paths (per-head or per-gate loops)",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    auto x = draw("he_normal", n, seed, {256, 512});
                    for (std::size_t i = 0; i < x.size(); ++i)
                      x[i] *=
                          static_cast<float>((i / 512) % 2 == 0 ? std::sqrt(1.1) : std::sqrt(0.9));
                    return x;
                  }});
  bugs.push_back({"packed_block_own_fan",
                  "packed QKV (1536 x 512) initialised block by block: V with its own (512, 512) "
                  "fans, variance 2x in a third of the rows",
                  "MultiheadAttention's in_proj_weight re-implemented per projection",
                  "xavier_uniform",
                  {1536, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    auto x = draw("xavier_uniform", n, seed, {1536, 512});
                    const std::size_t block = 512 * 512;
                    for (std::size_t i = 0; i < x.size(); ++i)
                      if ((i / block) % 3 == 2) x[i] *= static_cast<float>(std::sqrt(2.0));
                    return x;
                  }});
  return bugs;
}

/// Verifies `samples` against the bug's claim at family-wise alpha, as a run of one case.
inline verify::run_result verify_bug(const bug& b, const std::vector<float>& samples,
                                     double alpha = 1e-6) {
  verify::run_request request;
  request.options.alpha = alpha;
  request.cases.push_back(
      {verify::case_spec::of(b.expect, b.shape, b.tensor_layout),
       view_of(std::span<const float>(samples),
               std::vector<std::int64_t>{static_cast<std::int64_t>(samples.size())}),
       "bug"});
  return verify::run(request);
}

}  // namespace verinit::testing
