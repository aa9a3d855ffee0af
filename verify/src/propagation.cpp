// Signal propagation through a deep MLP initialized by verinit's schemes.
#include "verinit/verify/propagation.hpp"

// Each network runs on one thread; Eigen's own threading would make the blocking (and so the
// rounding) depend on the thread count.
#define EIGEN_DONT_PARALLELIZE
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <span>

#include "seeds.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/fill.hpp"
#include "verinit/scheme.hpp"

namespace verinit::verify {
namespace {

using activations = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;  // width x batch
using weight_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// SELU's constants (G. Klambauer et al., "Self-normalizing neural networks", NeurIPS 2017).
constexpr float selu_lambda = 1.0507009873554804934f;
constexpr float selu_alpha = 1.6732632423543772848f;

std::uint64_t mix(std::uint64_t seed, std::uint64_t k) { return detail::derived_seed(seed, k + 1); }

float phi(activation a, float z) {
  switch (a) {
    case activation::relu:
      return z > 0 ? z : 0.0f;
    case activation::tanh:
      return std::tanh(z);
    case activation::selu:
      return z > 0 ? selu_lambda * z : selu_lambda * selu_alpha * std::expm1(z);
  }
  return z;
}

float phi_prime(activation a, float z) {
  switch (a) {
    case activation::relu:
      return z > 0 ? 1.0f : 0.0f;
    case activation::tanh: {
      const float t = std::tanh(z);
      return 1 - t * t;
    }
    case activation::selu:
      return z > 0 ? selu_lambda : selu_lambda * selu_alpha * std::exp(z);
  }
  return 1;
}

// Variance of all entries about their mean, accumulated in double.
double variance_of(const activations& m) {
  const auto n = static_cast<double>(m.size());
  double sum = 0, square = 0;
  for (Eigen::Index i = 0; i < m.size(); ++i) sum += m.data()[i];
  const double mean = sum / n;
  for (Eigen::Index i = 0; i < m.size(); ++i) {
    const double d = m.data()[i] - mean;
    square += d * d;
  }
  return square / n;
}

struct network_run {
  std::vector<double> forward, backward, saturated;
  bool overflowed = false, symmetric = false;
};

void fill_matrix(float* data, std::int64_t rows, std::int64_t cols, const scheme& s,
                 std::uint64_t seed) {
  fill_options options;
  options.seed = seed;
  options.threads = 1;
  const tensor_shape shape{rows, cols};
  fill(std::span<float>(data, static_cast<std::size_t>(rows * cols)), shape, s, options);
}

network_run run_network(const scheme& weights_scheme, activation act, const propagation_options& o,
                        std::uint64_t seed) {
  const int depth = o.depth, width = o.width, batch = o.batch;
  const scheme standard_normal = parse_scheme("normal");
  std::vector<weight_matrix> w(static_cast<std::size_t>(depth), weight_matrix(width, width));
  for (int l = 0; l < depth; ++l)
    fill_matrix(w[l].data(), width, width, weights_scheme, mix(seed, static_cast<unsigned>(l)));
  activations x(width, batch);
  fill_matrix(x.data(), batch, width, standard_normal, mix(seed, 1000));
  network_run run;
  std::vector<activations> z;
  for (int l = 0; l < depth; ++l) {
    z.emplace_back(w[l] * x);
    const double v = variance_of(z.back());
    if (!std::isfinite(v)) {
      run.overflowed = true;
      z.pop_back();
      break;
    }
    run.forward.push_back(v);
    if (act == activation::tanh) {
      const auto saturated = (z.back().array().tanh().abs() > 0.99f).count();
      run.saturated.push_back(static_cast<double>(saturated) / static_cast<double>(x.size()));
    }
    x = z.back().unaryExpr([act](float v) { return phi(act, v); });
  }
  if (!z.empty()) {  // identical units: every row of the last pre-activations equals row 0
    const activations& last = z.back();
    run.symmetric = (last.rowwise() - last.row(0)).cwiseAbs().maxCoeff() == 0.0f;
  }
  if (run.overflowed) return run;
  activations d(width, batch);
  fill_matrix(d.data(), batch, width, standard_normal, mix(seed, 1001));
  run.backward.assign(static_cast<std::size_t>(depth), 0.0);
  d = d.cwiseProduct(z[depth - 1].unaryExpr([act](float v) { return phi_prime(act, v); }));
  run.backward[depth - 1] = variance_of(d);
  for (int l = depth - 1; l >= 1; --l) {
    activations g = w[l].transpose() * d;
    d = g.cwiseProduct(z[l - 1].unaryExpr([act](float v) { return phi_prime(act, v); }));
    run.backward[l - 1] = variance_of(d);
  }
  return run;
}

}  // namespace

std::string_view to_string(activation value) noexcept {
  switch (value) {
    case activation::relu:
      return "relu";
    case activation::tanh:
      return "tanh";
    case activation::selu:
      return "selu";
  }
  return "?";
}

activation parse_activation(std::string_view text) {
  if (text == "relu") return activation::relu;
  if (text == "tanh") return activation::tanh;
  if (text == "selu") return activation::selu;
  verinit::detail::throw_invalid("propagate", "activation", "'" + std::string(text) + "'",
                                 "relu, tanh or selu");
}

std::vector<propagation_config> standard_propagation_configs() {
  const auto relu = activation::relu, tanh = activation::tanh, selu = activation::selu;
  return {
      {"He + ReLU", "kaiming_normal(nonlinearity=relu)", relu, "stable"},
      // PyTorch's calculate_gain('tanh') = 5/3.
      {"Xavier + tanh (gain 5/3)", "xavier_normal(gain=1.6666666666666667)", tanh, "stable"},
      {"LeCun + SELU", "lecun_normal", selu, "stable"},
      {"zeros + ReLU", "zeros", relu, "symmetric"},
      {"constant 0.05 + tanh", "constant(value=0.05)", tanh, "symmetric"},
      {"normal(0, 0.01) + ReLU", "normal(std=0.01)", relu, "vanishing"},
      {"normal(0, 1) + ReLU", "normal", relu, "exploding"},
      {"normal(0, 1) + tanh", "normal", tanh, "saturating"},
      {"Xavier (gain 1) + tanh", "xavier_normal", tanh, "vanishing"},
      {"Xavier + ReLU", "xavier_normal", relu, "vanishing"},
  };
}

std::string propagation_verdict(const propagation_case& c) {
  if (c.symmetric) return "symmetric";
  if (c.overflowed || c.forward_ratio > 2) return "exploding";
  if (c.config.act == activation::tanh && !c.saturated.empty() && c.saturated.back() > 0.5)
    return "saturating";
  if (!(c.forward_ratio >= 0.5)) return "vanishing";
  return "stable";
}

propagation_result propagate(const std::vector<propagation_config>& configs,
                             const propagation_options& o) {
  using verinit::detail::throw_invalid;
  if (o.depth < 20 || o.depth > 10'000)
    throw_invalid("propagate", "depth", std::to_string(o.depth), "in [20, 10000]");
  if (o.width < 1 || o.width > 16'384)
    throw_invalid("propagate", "width", std::to_string(o.width), "in [1, 16384]");
  if (o.batch < 2 || o.batch > 1'000'000)
    throw_invalid("propagate", "batch", std::to_string(o.batch), "in [2, 1000000]");
  if (o.seeds < 1 || o.seeds > 1000)
    throw_invalid("propagate", "seeds", std::to_string(o.seeds), "in [1, 1000]");
  if (o.threads < 0 || o.threads > 4096)
    throw_invalid("propagate", "threads", std::to_string(o.threads), "in [0, 4096] (0: all)");
  std::vector<scheme> schemes;
  for (const auto& c : configs) schemes.push_back(parse_scheme(c.scheme));

  const auto start = std::chrono::steady_clock::now();
  const auto tasks = static_cast<std::int64_t>(configs.size()) * o.seeds;
  std::vector<network_run> runs(static_cast<std::size_t>(tasks));
  std::exception_ptr failure;
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (std::int64_t t = 0; t < tasks; ++t) {
    try {
      const std::size_t c = static_cast<std::size_t>(t / o.seeds);
      runs[t] = run_network(schemes[c], configs[c].act, o,
                            mix(o.seed, static_cast<std::uint64_t>(t % o.seeds) * 7919 + 17));
    } catch (...) {
#pragma omp critical(verinit_propagate_failure)
      failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);

  propagation_result result;
  result.options = o;
  const int bottom = 10 - 1, top = o.depth - 10;  // layer 10, and the 10th from the top
  for (std::size_t c = 0; c < configs.size(); ++c) {
    propagation_case out;
    out.config = configs[c];
    const auto first = runs.begin() + static_cast<std::ptrdiff_t>(c * o.seeds);
    const std::vector<network_run> seeds(first, first + o.seeds);
    std::size_t layers = static_cast<std::size_t>(o.depth);
    out.symmetric = true;
    for (const auto& r : seeds) {
      layers = std::min(layers, r.forward.size());
      out.overflowed = out.overflowed || r.overflowed;
      out.symmetric = out.symmetric && r.symmetric;
    }
    const double count = o.seeds;
    out.forward.assign(layers, 0.0);
    if (configs[c].act == activation::tanh) out.saturated.assign(layers, 0.0);
    if (!out.overflowed) out.backward.assign(static_cast<std::size_t>(o.depth), 0.0);
    for (const auto& r : seeds) {
      for (std::size_t l = 0; l < layers; ++l) {
        out.forward[l] += r.forward[l] / count;
        if (!out.saturated.empty()) out.saturated[l] += r.saturated[l] / count;
      }
      if (!out.overflowed) {
        for (std::size_t l = 0; l < out.backward.size(); ++l)
          out.backward[l] += r.backward[l] / count;
        out.forward_ratio += r.forward[o.depth - 1] / r.forward[bottom] / count;
        out.backward_ratio += r.backward[0] / r.backward[top] / count;
      }
    }
    if (out.overflowed) out.forward_ratio = out.backward_ratio = NAN;  // undefined
    out.verdict = propagation_verdict(out);
    out.passed = out.verdict == out.config.expected;
    result.passed = result.passed && out.passed;
    result.cases.push_back(std::move(out));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace verinit::verify
