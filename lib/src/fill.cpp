// The fill: validates the tensor against the scheme, then runs the kernels block by block.
#include "verinit/fill.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <type_traits>

#include "orthogonal.hpp"
#include "sampling.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/law.hpp"

namespace verinit {
namespace {

// Streams at or above this are not element blocks: sparse's zero positions use base + column.
constexpr std::uint64_t sparse_stream_base = std::uint64_t{1} << 62;

// More threads than this is a typo, not a machine: refuse rather than spawn them.
constexpr int max_threads = 4096;

template <class T>
std::string type_name() {
  return std::string(to_string(dtype_of<T>));
}

// Runs kernel(span, source) on every block: in parallel with a Philox stream per block, or
// serially on the whole tensor from the caller's source.
template <class T, class Kernel>
void for_each_block(std::span<T> out, const fill_options& options, word_source* serial,
                    Kernel kernel) {
  if (serial != nullptr) {
    kernel(out, *serial);
    return;
  }
  const auto size = static_cast<std::int64_t>(out.size());
  const std::int64_t blocks = (size + fill_block_size - 1) / fill_block_size;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads) if (blocks > 1)
  for (std::int64_t block = 0; block < blocks; ++block) {
    const std::int64_t start = block * fill_block_size;
    detail::philox_stream source(options.seed, static_cast<std::uint64_t>(block));
    kernel(out.subspan(static_cast<std::size_t>(start),
                       static_cast<std::size_t>(std::min(fill_block_size, size - start))),
           source);
  }
}

// ---- Laws T cannot hold -----------------------------------------------------------------
//
// A law is refused, naming the scheme, the dtype and the limit, when rounding it to T would
// not be the law: overflow, a mass above 2^-53 (what a double cannot tell from zero next to
// 1) beyond T's largest finite value, so that infinities would appear; underflow, more than
// half of a normal's mass on the one value of T nearest its mean (its spread is below T's
// resolution there: normal(std=1e-9) in float16 is zeros); a constant that rounds to 0 or to
// infinity; bounds that collapse to one value of T.

constexpr double overflow_mass_limit = 0x1p-53;
constexpr double underflow_mass_limit = 0.5;

// P(X > x) for X ~ N(mean, std^2).
double normal_above(double x, double mean, double std) {
  return 0.5 * std::erfc((x - mean) / (std * std::numbers::sqrt2));
}

// P(low < X < high) for X ~ N(mean, std^2), on the side where it does not cancel.
double normal_between(double low, double high, double mean, double std) {
  if (!(low < high)) return 0;
  if (low >= mean) return normal_above(low, mean, std) - normal_above(high, mean, std);
  if (high <= mean) return normal_above(-high, -mean, std) - normal_above(-low, -mean, std);
  return 1 - normal_above(high, mean, std) - normal_above(-low, -mean, std);
}

// The largest finite value of T, and the magnitude from which values round to infinity
// (halfway to the next power of two's first value; float64's is past double's range: max).
template <class T>
double overflow_threshold() {
  const double max = info(dtype_of<T>).max;
  if constexpr (std::is_same_v<T, double>)
    return max;
  else
    return max + (max - to_double(next_down(round_to<T>(max)))) / 2;
}

template <class T>
[[noreturn]] void throw_overflow(std::string_view scheme_name, double mass) {
  detail::throw_invalid(
      scheme_name,
      "the mass beyond " + type_name<T>() + "'s largest finite value (" +
          detail::format_number(info(dtype_of<T>).max) + ")",
      detail::format_number(mass),
      "<= 2^-53: the law overflows " + type_name<T>() + " (scale it down or use a wider dtype)");
}

template <class T>
void check_bound(std::string_view scheme_name, double bound) {
  if (std::isinf(to_double(round_to<T>(bound))))
    detail::throw_invalid(scheme_name, "the bound " + detail::format_number(bound),
                          "infinite in " + type_name<T>(),
                          "finite: at most " + detail::format_number(info(dtype_of<T>).max) +
                              " in magnitude (use a wider dtype)");
}

// The normal's mass on the value of T nearest its mean, within [a, b] (a truncated normal's
// bounds, infinite for a normal), relative to the mass of [a, b].
template <class T>
void check_resolution(std::string_view scheme_name, double mean, double std, double a, double b) {
  const T nearest = round_to<T>(mean);
  const double g = to_double(nearest);
  const double low = std::max(a, (to_double(next_down(nearest)) + g) / 2);
  const double high = std::min(b, (to_double(next_up(nearest)) + g) / 2);
  const double total = normal_between(a, b, mean, std);
  const double mass = normal_between(low, high, mean, std) / total;
  // A NaN (no mass in [a, b] that a double can hold) is refused too.
  if (!(mass <= underflow_mass_limit))
    detail::throw_invalid(
        scheme_name, "the mass on " + type_name<T>() + "'s value " + detail::format_number(g),
        detail::format_number(mass),
        "<= 0.5: std " + detail::format_number(std) + " is below " + type_name<T>() +
            "'s resolution there (" + detail::format_number(to_double(next_up(nearest)) - g) +
            "); use a wider dtype");
}

template <class T>
void check_representable(std::string_view scheme_name, const element_law& law) {
  const double limit = overflow_threshold<T>();
  if (const auto* c = std::get_if<constant_law>(&law)) {
    check_bound<T>(scheme_name, c->value);
    if (c->value != 0 && to_double(round_to<T>(c->value)) == 0)
      detail::throw_invalid(scheme_name, "value", detail::format_number(c->value),
                            "representable in " + type_name<T>() + " (it rounds to 0)");
  } else if (const auto* u = std::get_if<uniform_law>(&law)) {
    check_bound<T>(scheme_name, u->a);
    check_bound<T>(scheme_name, u->b);
  } else if (const auto* n = std::get_if<normal_law>(&law)) {
    const double beyond =
        normal_above(limit, n->mean, n->std) + normal_above(limit, -n->mean, n->std);
    if (!(beyond <= overflow_mass_limit)) throw_overflow<T>(scheme_name, beyond);
    check_resolution<T>(scheme_name, n->mean, n->std, -INFINITY, INFINITY);
  } else {
    const auto& t = std::get<truncated_normal_law>(law);
    check_bound<T>(scheme_name, t.a);
    check_bound<T>(scheme_name, t.b);
    if (round_to<T>(t.a) != round_to<T>(t.b))
      check_resolution<T>(scheme_name, t.mean, t.std, t.a, t.b);
  }
}

template <class T>
void fill_law(std::span<T> out, std::string_view scheme_name, const element_law& law,
              const fill_options& options, word_source* serial) {
  check_representable<T>(scheme_name, law);
  if (const auto* c = std::get_if<constant_law>(&law)) {
    std::fill(out.begin(), out.end(), round_to<T>(c->value));
  } else if (const auto* u = std::get_if<uniform_law>(&law)) {
    const double low = to_double(round_to<T>(u->a)), high = to_double(round_to<T>(u->b));
    if (!(low < high))
      detail::throw_invalid(scheme_name, "b - a", detail::format_number(u->b - u->a),
                            "large enough that a and b differ in " + type_name<T>());
    if (!std::isfinite(high - low)) detail::throw_invalid(scheme_name, "b - a", "inf", "finite");
    for_each_block(out, options, serial, [&](std::span<T> block, word_source& source) {
      detail::sample_uniform(block, u->a, u->b, source);
    });
  } else if (const auto* n = std::get_if<normal_law>(&law)) {
    for_each_block(out, options, serial, [&](std::span<T> block, word_source& source) {
      detail::sample_normal(block, n->mean, n->std, source);
    });
  } else {
    const auto& t = std::get<truncated_normal_law>(law);
    if (!(to_double(round_to<T>(t.a)) < to_double(round_to<T>(t.b))))
      detail::throw_invalid(scheme_name, "b - a", detail::format_number(t.b - t.a),
                            "large enough that a and b differ in " + type_name<T>());
    for_each_block(out, options, serial, [&](std::span<T> block, word_source& source) {
      detail::sample_truncated_normal(block, t, source);
    });
  }
}

void require_rank(const scheme& s, std::span<const std::int64_t> shape, std::size_t low,
                  std::size_t high) {
  if (shape.size() < low || shape.size() > high) {
    const std::string expected =
        low == high ? std::to_string(low) : std::to_string(low) + " to " + std::to_string(high);
    detail::throw_invalid(s.name(), "number of dims", std::to_string(shape.size()), expected);
  }
}

template <class T>
void fill_eye(std::span<T> out, std::span<const std::int64_t> shape) {
  std::fill(out.begin(), out.end(), T{0});
  const std::int64_t diagonal = std::min(shape[0], shape[1]);
  for (std::int64_t i = 0; i < diagonal; ++i)
    out[static_cast<std::size_t>(i * shape[1] + i)] = round_to<T>(1.0);
}

// Conv identity (torch.nn.init.dirac_), mapped through the layout's axes.
template <class T>
void fill_dirac(std::span<T> out, std::span<const std::int64_t> shape, const scheme& s,
                layout layout) {
  const auto groups = static_cast<std::int64_t>(s.number("groups"));
  const std::size_t rank = shape.size();
  const std::int64_t out_channels = layout == layout::torch ? shape[0] : shape[rank - 1];
  const std::int64_t in_channels = layout == layout::torch ? shape[1] : shape[rank - 2];
  if (out_channels % groups != 0)
    detail::throw_invalid(
        "dirac", "groups", std::to_string(groups),
        "a divisor of the output channels (" + std::to_string(out_channels) + ")");
  const std::size_t first_kernel = layout == layout::torch ? 2 : 0;
  std::int64_t kernel_size = 1, centre = 0;
  for (std::size_t d = first_kernel; d < first_kernel + rank - 2; ++d) {
    centre = centre * shape[d] + shape[d] / 2;
    kernel_size *= shape[d];
  }
  std::fill(out.begin(), out.end(), T{0});
  const std::int64_t per_group = out_channels / groups;
  const std::int64_t diagonal = std::min(per_group, in_channels);
  for (std::int64_t g = 0; g < groups; ++g) {
    for (std::int64_t d = 0; d < diagonal; ++d) {
      const std::int64_t o = g * per_group + d;
      const std::int64_t index = layout == layout::torch
                                     ? (o * in_channels + d) * kernel_size + centre
                                     : (centre * in_channels + d) * out_channels + o;
      out[static_cast<std::size_t>(index)] = round_to<T>(1.0);
    }
  }
}

// N(0, std^2) everywhere, then ceil(sparsity * n_out) zeros among each input unit's n_out
// weights, chosen by a partial Fisher-Yates shuffle (torch.nn.init.sparse_ zeroes the same
// count per column of its [out, in] matrix).
template <class T>
void fill_sparse(std::span<T> out, std::span<const std::int64_t> shape, const scheme& s,
                 const fill_options& options, word_source* serial) {
  fill_law(out, s.name(), normal_law{0.0, s.number("std")}, options, serial);
  const bool torch = options.layout == layout::torch;
  const std::int64_t outputs = torch ? shape[0] : shape[1];
  const std::int64_t inputs = torch ? shape[1] : shape[0];
  const auto zeros = static_cast<std::int64_t>(std::ceil(s.number("sparsity") * outputs));
  const auto zero_unit = [&](std::int64_t unit, word_source& source) {
    detail::word_reader reader(source);
    std::vector<std::int64_t> order(static_cast<std::size_t>(outputs));
    for (std::int64_t i = 0; i < outputs; ++i) order[static_cast<std::size_t>(i)] = i;
    for (std::int64_t i = 0; i < zeros; ++i) {
      const auto j =
          i + static_cast<std::int64_t>(reader.bounded(static_cast<std::uint64_t>(outputs - i)));
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
      const std::int64_t o = order[static_cast<std::size_t>(i)];
      out[static_cast<std::size_t>(torch ? o * inputs + unit : unit * outputs + o)] = T{};
    }
  };
  if (serial != nullptr) {
    for (std::int64_t unit = 0; unit < inputs; ++unit) zero_unit(unit, *serial);
    return;
  }
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t unit = 0; unit < inputs; ++unit) {
    detail::philox_stream source(options.seed,
                                 sparse_stream_base + static_cast<std::uint64_t>(unit));
    zero_unit(unit, source);
  }
}

template <class T>
void fill_orthogonal(std::span<T> out, std::span<const std::int64_t> shape, const scheme& s,
                     const fill_options& options, word_source* serial) {
  // Flattening as PyTorch (rows = out, cols = the rest) or Keras (cols = out, rows = the
  // rest); either way the flattened matrix is the tensor's own C-order memory.
  const std::int64_t total = static_cast<std::int64_t>(out.size());
  const std::int64_t rows = options.layout == layout::torch ? shape[0] : total / shape.back();
  const std::int64_t cols = total / rows;
  std::vector<double> matrix(out.size());
  fill_law(std::span<double>(matrix), s.name(), normal_law{0.0, 1.0}, options, serial);
  detail::orthogonalize(matrix, rows, cols);
  const double gain = s.number("gain");
  check_bound<T>(s.name(), gain);  // every entry is at most |gain| in magnitude
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = round_to<T>(gain * matrix[i]);
}

template <class T>
void fill_any(std::span<T> out, std::span<const std::int64_t> shape, const scheme& s,
              const fill_options& options, word_source* serial) {
  if (options.threads < 0 || options.threads > max_threads)
    detail::throw_invalid("fill", "threads", std::to_string(options.threads),
                          "in [0, " + std::to_string(max_threads) + "] (0: OpenMP's default)");
  switch (s.kind()) {
    case scheme_kind::eye:
      require_rank(s, shape, 2, 2);
      return fill_eye(out, shape);
    case scheme_kind::dirac:
      require_rank(s, shape, 3, 5);
      return fill_dirac(out, shape, s, options.layout);
    case scheme_kind::sparse:
      require_rank(s, shape, 2, 2);
      return fill_sparse(out, shape, s, options, serial);
    case scheme_kind::orthogonal:
      require_rank(s, shape, 2, 64);
      return fill_orthogonal(out, shape, s, options, serial);
    default:
      break;
  }
  fans f{};
  if (s.info().uses_fans) {
    if (options.explicit_fans) {
      f = *options.explicit_fans;
    } else {
      if (shape.size() < 2)
        detail::throw_invalid(s.name(), "number of dims", std::to_string(shape.size()),
                              ">= 2 to define fan_in and fan_out (or give the fans explicitly)");
      f = compute_fans(shape, options.layout);
    }
  }
  fill_law(out, s.name(), resolve_law(s, f), options, serial);
}

void fill_view(const mutable_tensor_view& out, const scheme& s, const fill_options& options,
               word_source* serial) {
  detail::check_tensor_bytes("fill", out.type, out.shape, out.bytes.size(), out.bytes.data());
  visit_dtype(out.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_any(out.elements<T>(), out.shape, s, options, serial);
  });
}

}  // namespace

void fill(const mutable_tensor_view& out, const scheme& s, const fill_options& options) {
  fill_view(out, s, options, nullptr);
}

void fill_from(const mutable_tensor_view& out, const scheme& s, word_source& source,
               const fill_options& options) {
  fill_view(out, s, options, &source);
}

}  // namespace verinit
