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
  bugs.push_back({"He-uniform bound sqrt(3/fan_in): the gain sqrt(2) dropped",
                  "common in hand-written inits",
                  "he_uniform",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("uniform(a=" + number(-std::sqrt(3.0 / 512)) +
                                    ",b=" + number(std::sqrt(3.0 / 512)) + ")",
                                n, seed);
                  }});
  bugs.push_back({"truncated normal without the 0.8796 correction (variance 0.774x)",
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
  bugs.push_back({"fan axes swapped on a 256x512 layer (fan_in 256 for 512)",
                  "Keras/PyTorch layout mix-ups",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("he_normal", n, seed, {256, 512}, layout::keras);
                  }});
  bugs.push_back({"conv receptive field ignored (fan_in 32 for 32x3x3)",
                  "fans from the first two dims only",
                  "he_normal",
                  {64, 32, 3, 3},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("normal(std=" + number(std::sqrt(2.0 / 32)) + ")", n, seed);
                  }});
  bugs.push_back({"leaky_relu gain sqrt(2/(1+a)) instead of sqrt(2/(1+a^2)), a = 0.2",
                  "He et al. eq. misread",
                  "kaiming_normal(a=0.2)",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw(
                        "normal(std=" + number(std::sqrt(2.0 / 1.2) / std::sqrt(512.0)) + ")", n,
                        seed);
                  }});
  bugs.push_back({"variance 1% too high",
                  "a rounding or constant error",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    return draw("normal(std=" + number(0.0625 * std::sqrt(1.01)) + ")", n, seed);
                  }});
  bugs.push_back({"one random stream reused for every block of 65536",
                  "per-thread engines seeded alike",
                  "he_normal",
                  {256, 512},
                  layout::torch,
                  [](std::int64_t n, std::uint64_t seed) {
                    auto x = draw("he_normal", n, seed, {256, 512});
                    for (std::size_t i = 65536; i < x.size(); ++i) x[i] = x[i % 65536];
                    return x;
                  }});
  bugs.push_back({"30 out-of-support values",
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
      {"PyTorch's Linear default taken for He init (kaiming_uniform(a=sqrt(5)): variance 1/6 of "
       "He)",
       "pytorch/pytorch#15314",
       "he_uniform",
       {256, 512},
       layout::torch,
       [](std::int64_t n, std::uint64_t seed) {
         return draw("torch_linear", n, seed, {256, 512});
       }});
  bugs.push_back(
      {"kaiming_uniform with gain^2 for gain (relu: variance 2x), as proposed in a bug report",
       "pytorch/pytorch#30946",
       "kaiming_uniform(nonlinearity=relu)",
       {256, 512},
       layout::torch,
       [](std::int64_t n, std::uint64_t seed) {
         const double bound = std::sqrt(3.0) * 2.0 / std::sqrt(512.0);
         return draw("uniform(a=" + number(-bound) + ",b=" + number(bound) + ")", n, seed);
       }});
  bugs.push_back({"orthogonal without the sign correction of diag(R)",
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
  return bugs;
}

/// Verifies `samples` against the bug's claim at family-wise alpha, as a run of one case.
inline verify::run_result verify_bug(const bug& b, const std::vector<float>& samples,
                                     double alpha = 1e-6) {
  verify::run_result run;
  run.options.alpha = alpha;
  run.cases.push_back(verify::check_samples(std::span<const float>(samples), b.shape,
                                            b.tensor_layout, b.expect, "bug"));
  verify::decide(run);
  return run;
}

}  // namespace verinit::testing
