// Structural and orthogonality checks.
#include "verinit/verify/structure.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "seeds.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/goodness_of_fit.hpp"

namespace verinit::verify {
namespace {

test_result exact(std::string name, std::int64_t violations, std::string note) {
  test_result r;
  r.name = std::move(name);
  r.exact = true;
  r.statistic = static_cast<double>(violations);
  r.passed = violations == 0;
  r.p_value = r.passed ? 1 : 0;
  r.note = std::move(note);
  return r;
}

template <class T>
test_result constant_typed(std::span<const T> w, double value) {
  const T expected = round_to<T>(value);
  const auto wrong = std::count_if(w.begin(), w.end(), [&](T x) { return !(x == expected); });
  return exact("structure", wrong,
               std::to_string(wrong) + " elements differ from " + std::to_string(value));
}

template <class T>
test_result identity_typed(std::span<const T> w, std::span<const std::int64_t> shape, layout layout,
                           const expectation& e) {
  // Build the expected tensor from the definition and compare every tensor of w with it.
  std::int64_t numel = 1;
  for (const auto d : shape) numel *= d;
  const T zero = round_to<T>(0.0), one = round_to<T>(1.0);
  std::vector<T> expected(static_cast<std::size_t>(numel), zero);
  const std::size_t rank = shape.size();
  if (e.kind == expectation_kind::eye) {
    if (rank != 2) return exact("structure", 1, "eye needs 2 dims");
    for (std::int64_t i = 0; i < std::min(shape[0], shape[1]); ++i)
      expected[i * shape[1] + i] = one;
  } else {
    if (rank < 3 || rank > 5) return exact("structure", 1, "dirac needs 3 to 5 dims");
    const std::int64_t out = layout == layout::torch ? shape[0] : shape[rank - 1];
    const std::int64_t in = layout == layout::torch ? shape[1] : shape[rank - 2];
    if (out % e.groups != 0)
      return exact("structure", 1, "groups do not divide the output channels");
    std::vector<std::int64_t> kernel(layout == layout::torch ? shape.begin() + 2 : shape.begin(),
                                     layout == layout::torch ? shape.end() : shape.end() - 2);
    std::int64_t kernel_size = 1, centre = 0;
    for (const auto k : kernel) {
      centre = centre * k + k / 2;
      kernel_size *= k;
    }
    const std::int64_t per_group = out / e.groups;
    for (std::int64_t g = 0; g < e.groups; ++g)
      for (std::int64_t d = 0; d < std::min(per_group, in); ++d) {
        const std::int64_t o = g * per_group + d;
        expected[layout == layout::torch ? (o * in + d) * kernel_size + centre
                                         : (centre * in + d) * out + o] = one;
      }
  }
  std::int64_t wrong = 0;
  for (std::size_t i = 0; i < w.size(); ++i) wrong += !(w[i] == expected[i % expected.size()]);
  return exact("structure", wrong, std::to_string(wrong) + " elements differ from the identity");
}

template <class T>
test_result sparse_typed(std::span<const T> w, std::span<const std::int64_t> shape, layout layout,
                         const expectation& e, std::vector<T>& nonzeros) {
  if (shape.size() != 2) return exact("sparsity", 1, "sparse needs 2 dims");
  const bool torch = layout == layout::torch;
  const std::int64_t outputs = torch ? shape[0] : shape[1], inputs = torch ? shape[1] : shape[0];
  // Too few zeros is always wrong. More zeros than required can happen legitimately: a
  // non-zero draw may come out exactly 0.0 (a sampler that quantises to 2^-23, as float32
  // ones do, gives that once in ~10^7 draws). Excess zeros fail only beyond a bound for draws
  // quantised no coarser than 2^-20: mean m = draws 2^-20, allowed m + 6 sqrt(m) + 6.
  std::int64_t short_units = 0, excess = 0;
  nonzeros.clear();
  const std::int64_t tensors = static_cast<std::int64_t>(w.size()) / (inputs * outputs);
  for (std::int64_t k = 0; k < tensors; ++k) {
    const T* tensor = w.data() + k * inputs * outputs;
    for (std::int64_t unit = 0; unit < inputs; ++unit) {
      std::int64_t zeros = 0;
      for (std::int64_t o = 0; o < outputs; ++o) {
        const T x = tensor[torch ? o * inputs + unit : unit * outputs + o];
        if (to_double(x) == 0)
          ++zeros;
        else
          nonzeros.push_back(x);
      }
      short_units += zeros < e.zeros_per_input;
      excess += std::max<std::int64_t>(0, zeros - e.zeros_per_input);
    }
  }
  const double draws = static_cast<double>(tensors * inputs * (outputs - e.zeros_per_input));
  // In 16 bits a non-zero draw also rounds to 0 with probability P(|x| <= s/2), s the smallest
  // subnormal (float16: 6e-8, so 2.4e-6 of N(0, 0.01) draws; bfloat16: never in practice).
  double rounds_to_zero = 0;
  if constexpr (!std::is_floating_point_v<T>) {
    const double half = info(dtype_of<T>).smallest_subnormal / 2;
    rounds_to_zero = std::max(0.0, e.law->cdf(half) - e.law->cdf(-half));
  }
  const double mean = draws * (0x1p-20 + rounds_to_zero);
  const auto allowed = static_cast<std::int64_t>(std::ceil(mean + 6 * std::sqrt(mean) + 6));
  // Where rounding makes enough zeros to count (mean >= 10), too few of them is wrong as well:
  // a sampler that never rounds to 0 (flushing, or sampling away from it). The count is
  // Binomial(draws, p) with p below that mean's rate, so 6 sd below its floor is a bound.
  const double rounded = draws * rounds_to_zero;
  const auto least =
      rounded >= 10 ? static_cast<std::int64_t>(std::floor(rounded - 6 * std::sqrt(rounded) - 6))
                    : std::int64_t{0};
  const std::int64_t violations =
      short_units + (excess > allowed ? excess : 0) + (excess < least ? least - excess : 0);
  test_result r = exact("sparsity", violations,
                        std::to_string(short_units) + " input units with fewer than " +
                            std::to_string(e.zeros_per_input) + " zeros, " +
                            std::to_string(excess) + " extra zeros (allowed " +
                            (least > 0 ? std::to_string(least) + " to " : std::string()) +
                            std::to_string(allowed) + ")");
  r.values = {{"short_units", static_cast<double>(short_units)},
              {"extra_zeros", static_cast<double>(excess)},
              {"least_extra_zeros", static_cast<double>(least)},
              {"allowed_extra_zeros", static_cast<double>(allowed)}};
  return r;
}

// How far |Gram - gain^2 I| may be from 0 for a correct matrix stored in `type`. float32 and
// float64: rounding each entry perturbs a dot product of length n = max(rows, cols) by about
// eps sqrt(n) gain^2, and 100x that is far below any real defect (a dropped sign or
// normalisation gives errors of order gain^2). The 16-bit dtypes, whose eps is large, get a
// bound instead: an entry rounded to nearest moves by at most u |q| + s/2 (u = eps/2, s the
// smallest subnormal), so by Cauchy-Schwarz over rows (or columns) of norm gain an entry of
// the Gram matrix moves by at most (2u + u^2) gain^2 + s sqrt(n) gain (1 + u) + n s^2 / 4;
// float64's own allowance covers the matrix as computed before rounding.
double gram_tolerance(dtype type, std::int64_t rows, std::int64_t cols, double gain) {
  const double n = static_cast<double>(std::max(rows, cols));
  const auto heuristic = [&](dtype t) {
    return 100 * info(t).epsilon * std::sqrt(n) * gain * gain;
  };
  if (info(type).size != 2) return heuristic(type);
  const double u = info(type).epsilon / 2, s = info(type).smallest_subnormal;
  return (2 * u + u * u) * gain * gain + s * std::sqrt(n) * gain * (1 + u) + n * s * s / 4 +
         heuristic(dtype::float64);
}

template <class T>
test_result gram_typed(std::span<const T> matrices, std::int64_t count, std::int64_t rows,
                       std::int64_t cols, double gain) {
  using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const std::int64_t size = rows * cols;
  const std::int64_t dim = std::min(rows, cols);
  double worst = 0;
  for (std::int64_t m = 0; m < count; ++m) {
    row_major q(rows, cols);
    for (std::int64_t i = 0; i < size; ++i) q.data()[i] = to_double(matrices[m * size + i]);
    const Eigen::MatrixXd gram =
        rows <= cols ? Eigen::MatrixXd(q * q.transpose()) : Eigen::MatrixXd(q.transpose() * q);
    const double error =
        (gram - gain * gain * Eigen::MatrixXd::Identity(dim, dim)).cwiseAbs().maxCoeff();
    worst = std::isnan(error) ? INFINITY : std::max(worst, error);
  }
  const double tolerance = gram_tolerance(dtype_of<T>, rows, cols, gain);
  test_result r = exact("gram", worst <= tolerance ? 0 : 1, "");
  r.statistic = worst;
  r.values = {{"tolerance", tolerance}, {"matrices", static_cast<double>(count)}};
  r.note = "max |Gram - gain^2 I| over " + std::to_string(count) + " matrices";
  return r;
}

template <class T>
std::vector<test_result> haar_typed(std::span<const T> matrices, std::int64_t count,
                                    std::int64_t rows, std::int64_t cols, double gain) {
  const std::int64_t size = rows * cols, dim = std::min(rows, cols);
  const double big = static_cast<double>(std::max(rows, cols));
  std::vector<double> corner(static_cast<std::size_t>(count));
  double trace_sum = 0;
  for (std::int64_t m = 0; m < count; ++m) {
    const T* q = matrices.data() + m * size;
    corner[m] = to_double(q[0]);
    for (std::int64_t i = 0; i < dim; ++i) trace_sum += to_double(q[i * cols + i]) / gain;
  }
  std::vector<test_result> results;
  if (big >= 2) {
    const boost::math::beta_distribution<> law((big - 1) / 2, (big - 1) / 2);
    const auto pit = [&](double q) {
      return boost::math::cdf(law, std::clamp((q / gain + 1) / 2, 0.0, 1.0));
    };
    std::vector<double> u(corner.size());
    for (std::size_t i = 0; i < u.size(); ++i) {
      if (!std::isfinite(corner[i])) {
        u[i] = NAN;
      } else if constexpr (std::is_floating_point_v<T>) {
        u[i] = pit(corner[i]);
      } else {
        // A 16-bit entry is the Haar entry rounded to T: its value g stands for the cell
        // between the midpoints to its neighbours, and a point drawn uniformly in the cell's
        // probability (Brockwell 2007's randomised PIT) is uniform under the rounded law,
        // where the continuous CDF at g would be off by half an atom. The draw v is a fixed
        // pseudo-random function of the matrix's index (SplitMix64), the same in every run: it
        // is uniform as the output of a good generator is, not by construction.
        const T g = round_to<T>(corner[i]);
        const double low = (to_double(next_down(g)) + corner[i]) / 2;
        const double high = (to_double(next_up(g)) + corner[i]) / 2;
        const double v = static_cast<double>(detail::derived_seed(0x4a17e5ull, i) >> 11) * 0x1p-53;
        u[i] = pit(low) + v * (pit(high) - pit(low));
      }
    }
    std::sort(u.begin(), u.end());
    test_result r = ks_test(u);
    r.name = "haar_entry";
    r.note =
        "(Q11/gain+1)/2 ~ Beta((d-1)/2, (d-1)/2) across " + std::to_string(count) + " matrices, KS";
    results.push_back(r);
  }
  test_result trace;
  trace.name = "haar_trace";
  const double variance = static_cast<double>(dim) / big;  // partial trace of a Haar matrix
  const double mean = trace_sum / static_cast<double>(count);
  trace.statistic = mean / std::sqrt(variance / static_cast<double>(count));
  trace.p_value = std::isfinite(trace.statistic) ? detail::two_sided_normal_p(trace.statistic) : 0;
  trace.values = {{"mean_trace", mean}, {"expected", 0.0}, {"variance", variance}};
  trace.note = "mean of the (partial) trace of Q/gain: 0, variance min/max per matrix";
  results.push_back(trace);
  return results;
}

// The type-erased entries: one dispatch each.
template <class F>
decltype(auto) typed(const tensor_view& w, F&& f) {
  return visit_dtype(w.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return f(w.elements<T>());
  });
}

}  // namespace

test_result constant_check(const tensor_view& w, double value) {
  return typed(w, [&](auto x) { return constant_typed(x, value); });
}
test_result identity_check(const tensor_view& w, std::span<const std::int64_t> shape, layout layout,
                           const expectation& e) {
  return typed(w, [&](auto x) { return identity_typed(x, shape, layout, e); });
}
test_result sparse_pattern_check(const tensor_view& w, std::span<const std::int64_t> shape,
                                 layout layout, const expectation& e, tensor_buffer& nonzeros) {
  return typed(w, [&](auto x) {
    using T = typename decltype(x)::value_type;
    std::vector<T> values;
    test_result r = sparse_typed(x, shape, layout, e, values);
    nonzeros.type = w.type;
    nonzeros.shape = {static_cast<std::int64_t>(values.size())};
    const auto bytes = std::as_bytes(std::span<const T>(values));
    nonzeros.bytes.assign(bytes.begin(), bytes.end());
    return r;
  });
}
test_result gram_check(const tensor_view& matrices, std::int64_t count, std::int64_t rows,
                       std::int64_t cols, double gain) {
  return typed(matrices, [&](auto x) { return gram_typed(x, count, rows, cols, gain); });
}
std::vector<test_result> haar_tests(const tensor_view& matrices, std::int64_t count,
                                    std::int64_t rows, std::int64_t cols, double gain) {
  return typed(matrices, [&](auto x) { return haar_typed(x, count, rows, cols, gain); });
}

}  // namespace verinit::verify
