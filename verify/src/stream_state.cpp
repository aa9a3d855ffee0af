// The i.i.d. stream state: one pass of block sums, the homogeneity groups, the window hashes
// and the binned fit over each piece, and the exact merge of consecutive states.
#include "verinit/verify/stream_state.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "binned_fit.hpp"
#include "buffer.hpp"
#include "byte_io.hpp"
#include "repeated_windows.hpp"
#include "vector_clones.hpp"
#include "verinit/detail/check.hpp"

namespace verinit::verify {
namespace {

// ---- block sums ------------------------------------------------------------------------------

// One block's partial sums; `next` is the sample after the block (for the block's last lagged
// products), or nullptr at the end of the piece. Without branches, so that the loops run in
// vector lanes; the same expressions for every dtype (samples widened to double, exactly, and
// compared with the support rounded outward to the dtype, also exact in double).
struct block_partial {
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0, lagged = 0, squares_lagged = 0, largest = 0;
  double lowest = INFINITY, highest = -INFINITY;  // min and max of d, NaN left out
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0, nan = 0;
};

template <class T>
[[gnu::always_inline]] inline block_partial block_body(const T* x, std::int64_t count,
                                                       const T* next, double centre,
                                                       double variance, double low, double high,
                                                       bool excluded) {
  block_partial p;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0, largest = 0, lowest = INFINITY, highest = -INFINITY;
  std::int64_t outside = 0, at_excluded = 0, non_finite = 0, nan = 0;
  constexpr double huge = std::numeric_limits<double>::max();
#pragma omp simd reduction(+ : s1, s2, s3, s4, outside, at_excluded, non_finite, nan) \
    reduction(max : largest, highest) reduction(min : lowest)
  for (std::int64_t i = 0; i < count; ++i) {
    const double v = to_double(x[i]);
    const double d = v - centre;
    const double d2 = d * d;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
    const double distance = std::abs(d);
    largest = largest < distance ? distance : largest;  // NaN compares false: counted below
    lowest = d < lowest ? d : lowest;
    highest = highest < d ? d : highest;
    nan += static_cast<std::int64_t>(distance != distance);
    const bool finite = std::abs(v) <= huge;  // false for +-inf and NaN
    const bool out = (v < low) | (v > high);
    non_finite += static_cast<std::int64_t>(!finite);
    outside += static_cast<std::int64_t>(finite & out);
    at_excluded += static_cast<std::int64_t>(finite & !out & excluded & (v == high));
  }
  double lagged = 0, squares_lagged = 0;
#pragma omp simd reduction(+ : lagged, squares_lagged)
  for (std::int64_t i = 0; i < count - 1; ++i) {
    const double a = to_double(x[i]) - centre, b = to_double(x[i + 1]) - centre;
    lagged += a * b;
    squares_lagged += (a * a - variance) * (b * b - variance);
  }
  if (next != nullptr && count > 0) {
    const double a = to_double(x[count - 1]) - centre, b = to_double(*next) - centre;
    lagged += a * b;
    squares_lagged += (a * a - variance) * (b * b - variance);
  }
  p.s1 = s1;
  p.s2 = s2;
  p.s3 = s3;
  p.s4 = s4;
  p.lagged = lagged;
  p.squares_lagged = squares_lagged;
  p.largest = largest;
  p.lowest = lowest;
  p.highest = highest;
  p.outside = outside;
  p.at_excluded = at_excluded;
  p.non_finite = non_finite;
  p.nan = nan;
  return p;
}

// Adds the sums and counts one pass shares: of a block into a running partial (doubles), of
// partials into the stream's sums (exact), or of another stream's sums.
template <class To, class From>
void add_pass(To& to, const From& from) {
  to.s1 += from.s1;
  to.s2 += from.s2;
  to.s3 += from.s3;
  to.s4 += from.s4;
  to.lagged += from.lagged;
  to.squares_lagged += from.squares_lagged;
  to.largest = std::max(to.largest, from.largest);
  to.lowest = std::min(to.lowest, from.lowest);
  to.highest = std::max(to.highest, from.highest);
  to.outside += from.outside;
  to.at_excluded += from.at_excluded;
  to.non_finite += from.non_finite;
  to.nan += from.nan;
}

// Cloned for the dtypes that vectorise when read directly; the others through the template.
VERINIT_VECTOR_CLONES block_partial block_sums(const float* x, std::int64_t count,
                                               const float* next, double centre, double variance,
                                               double low, double high, bool excluded) {
  return block_body(x, count, next, centre, variance, low, high, excluded);
}
VERINIT_VECTOR_CLONES block_partial block_sums(const double* x, std::int64_t count,
                                               const double* next, double centre, double variance,
                                               double low, double high, bool excluded) {
  return block_body(x, count, next, centre, variance, low, high, excluded);
}
template <class T>
block_partial block_sums(const T* x, std::int64_t count, const T* next, double centre,
                         double variance, double low, double high, bool excluded) {
  return block_body(x, count, next, centre, variance, low, high, excluded);
}

// The support rounded outward to T, as doubles (exact).
template <class T>
std::pair<double, double> rounded_support(const any_law& law) {
  const auto [low, high] = law.support();
  return {to_double(round_down<T>(low)), to_double(round_up<T>(high))};
}

// A group's terms: S^2 / m (S the sum of its d^2, m its size) and 1 / m.
struct group_terms {
  exact_sum squares, inverse_sizes;
  std::int64_t groups = 0;
  void add(double sum, std::int64_t m) {
    if (m == 0) return;
    const double md = static_cast<double>(m);
    squares.add(sum * sum / md);
    inverse_sizes.add(1 / md);
    ++groups;
  }
  void add_to(iid_sums& out) const {
    out.group_squares += squares;
    out.inverse_group_sizes += inverse_sizes;
    out.groups += groups;
  }
};

// The part of a contiguous homogeneity group that lies in one block: its d^2 sum and count.
struct group_segment {
  std::int64_t group = 0;
  double squares = 0;
  std::int64_t count = 0;
};

// The block sums of a piece, and with a contiguous grouping (torch: a group is `length`
// consecutive samples, a tensor's last one shorter) the groups' sums from the same pass: each
// block is cut at the group boundaries inside it, each segment's partial taken by the block
// kernel, and a group's segments (in at most a few blocks) added in block order.
template <class T>
void add_block_sums(std::span<const T> x, const iid_context& context, int threads, iid_sums& out) {
  const auto n = static_cast<std::int64_t>(x.size());
  constexpr std::int64_t block = stream_state::block_size;
  const std::int64_t blocks = (n + block - 1) / block;
  const law_moments& m = context.law.moments();
  const std::pair<double, double> support = rounded_support<T>(context.law);
  const double low = support.first, high = support.second;
  const bool excluded = context.law.upper_bound_excluded();
  const sample_grouping& g = context.grouping;
  const bool contiguous = !g.strided;
  const std::int64_t length = g.tensor_size / g.units * g.units_per_group;  // of a group
  const std::int64_t per_tensor = g.groups_per_tensor();
  // Segments end at group starts: within a block, every `length` samples from each tensor
  // start, and at each tensor start (at most block / tensor_size + 1 of them).
  const std::int64_t most = contiguous ? block / length + block / g.tensor_size + 3 : 0;
  std::vector<block_partial> parts(static_cast<std::size_t>(blocks));
  // Uninitialized, from huge pages where large (a block's segments are written before read).
  const auto segments =
      detail::allocate_buffer<group_segment>(static_cast<std::size_t>(blocks * most));
  std::vector<std::int64_t> segment_count(static_cast<std::size_t>(blocks), 0);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t end = std::min(n, (b + 1) * block);
    block_partial total;
    std::int64_t k = 0;
    for (std::int64_t at = b * block; at < end;) {
      std::int64_t stop = end, group = 0;
      if (contiguous) {
        const std::int64_t tensor = at / g.tensor_size, within = at % g.tensor_size;
        group = tensor * per_tensor + within / length;
        stop = std::min({end, at - within % length + length, (tensor + 1) * g.tensor_size});
      }
      // With the sample past the segment, for its last lagged product.
      const block_partial p =
          block_sums(x.data() + at, stop - at, stop < n ? x.data() + stop : nullptr, m.mean,
                     m.variance, low, high, excluded);
      add_pass(total, p);
      if (contiguous) {
        VERINIT_ASSERT(k < most);
        segments[static_cast<std::size_t>(b * most + k++)] = {group, p.s2, stop - at};
      }
      at = stop;
    }
    parts[static_cast<std::size_t>(b)] = total;
    segment_count[static_cast<std::size_t>(b)] = k;
  }
  bool nan = false;
  for (const block_partial& p : parts) {  // exact sums: the order does not matter
    add_pass(out, p);
    nan = nan || p.nan > 0;
  }
  if (nan) out.largest = INFINITY;
  out.n += n;
  if (!contiguous) return;
  group_terms terms;
  group_segment current{-1, 0, 0};
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t k = 0; k < segment_count[static_cast<std::size_t>(b)]; ++k) {
      const group_segment& segment = segments[static_cast<std::size_t>(b * most + k)];
      if (segment.group != current.group) {
        terms.add(current.squares, current.count);
        current = {segment.group, 0, 0};
      }
      current.squares += segment.squares;
      current.count += segment.count;
    }
  terms.add(current.squares, current.count);
  terms.add_to(out);
}

// ---- homogeneity of columns --------------------------------------------------------------------

// With a strided grouping (keras: element i of a tensor is in unit i % units) the groups are
// columns: per tensor, its rows in fixed blocks of rows, each block's per-group sums in
// parallel, added in block order.
template <class T>
void add_column_groups(std::span<const T> x, const iid_context& context, int threads,
                       iid_sums& out) {
  const sample_grouping& g = context.grouping;
  const auto n = static_cast<std::int64_t>(x.size());
  const double mu = context.law.moments().mean;
  const std::int64_t per_tensor = g.groups_per_tensor();
  const std::int64_t tensors = (n + g.tensor_size - 1) / g.tensor_size;
  constexpr std::int64_t rows_per_block = 64;
  group_terms terms;
  std::vector<double> squares;
  std::vector<std::int64_t> counts;
  for (std::int64_t tensor = 0; tensor < tensors; ++tensor) {
    const std::int64_t first = tensor * g.tensor_size;
    const std::int64_t size = std::min(g.tensor_size, n - first);
    const std::int64_t rows = (size + g.units - 1) / g.units;
    const std::int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
    squares.assign(static_cast<std::size_t>(blocks * per_tensor), 0.0);
    counts.assign(static_cast<std::size_t>(blocks * per_tensor), 0);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t b = 0; b < blocks; ++b) {
      double* const s = squares.data() + b * per_tensor;
      std::int64_t* const c = counts.data() + b * per_tensor;
      const std::int64_t end = std::min(size, (b + 1) * rows_per_block * g.units);
      for (std::int64_t i = b * rows_per_block * g.units; i < end; ++i) {
        const std::int64_t group = (i % g.units) / g.units_per_group;
        const double d = to_double(x[first + i]) - mu;
        s[group] += d * d;
        ++c[group];
      }
    }
    for (std::int64_t group = 0; group < per_tensor; ++group) {
      double total = 0;
      std::int64_t m = 0;
      for (std::int64_t b = 0; b < blocks; ++b) {
        total += squares[static_cast<std::size_t>(b * per_tensor + group)];
        m += counts[static_cast<std::size_t>(b * per_tensor + group)];
      }
      terms.add(total, m);
    }
  }
  terms.add_to(out);
}

// ---- binned fit ------------------------------------------------------------------------------

// u = F(x) in blocks, so that a normal's erfc runs on vectors (law_points.hpp's cdf_batch).
template <class T>
void add_bins(std::span<const T> x, const any_law& law, int threads, detail::binned_fit& out) {
  out.add(static_cast<std::int64_t>(x.size()), threads,
          [&](std::int64_t first, std::int64_t count, double* u) {
            for (std::int64_t i = 0; i < count; ++i) u[i] = to_double(x[first + i]);
            law.cdf_batch(u, u, static_cast<std::size_t>(count));
          });
}

// ---- bytes -----------------------------------------------------------------------------------

constexpr std::uint32_t magic = 0x53534956;  // "VISS": verinit i.i.d. stream state
constexpr std::uint32_t format_version = 2;  // 2: lowest and highest

using detail::byte_reader;
using detail::byte_writer;

// What identifies a law in bytes: its moments and support, bit for bit.
void write_law(byte_writer& w, const any_law& law) {
  const law_moments& m = law.moments();
  for (double v :
       {m.mean, m.variance, m.kurtosis, m.skewness, law.support().first, law.support().second})
    w.f64(v);
}
bool same_law(const any_law& a, const any_law& b) {
  std::vector<std::byte> x, y;
  byte_writer wa(x), wb(y);
  write_law(wa, a);
  write_law(wb, b);
  return x == y;
}

}  // namespace

// ---- the state -------------------------------------------------------------------------------

sample_grouping sample_grouping::of(std::span<const std::int64_t> shape, layout layout) {
  sample_grouping g;
  g.tensor_size = element_count(shape);
  if (shape.empty()) return g;
  g.strided = layout == layout::keras && shape.size() > 1;
  g.units = layout == layout::torch ? shape.front() : shape.back();
  const std::int64_t unit_length = g.tensor_size / g.units;
  g.units_per_group = std::min(g.units, (min_group_size + unit_length - 1) / unit_length);
  return g;
}

struct stream_state::impl {
  iid_context context;
  stream_state::options settings;
  iid_sums sums;
  // The stream's first and last min(3, n) samples: their values and bit patterns (for the lag
  // products and the windows that straddle a merge).
  std::array<double, 3> head_value{}, tail_value{};
  std::array<std::uint64_t, 3> head_bits{}, tail_bits{};
  detail::repeated_windows windows;
  detail::binned_fit fit;

  impl(iid_context c, stream_state::options o)
      : context(std::move(c)), settings(o), windows(o.window_bits), fit(o.bins) {}
  int boundary_count() const { return static_cast<int>(std::min<std::int64_t>(3, sums.n)); }

  // The stream may go on only from a tensor's end: the homogeneity groups never straddle.
  void check_can_follow() const {
    if (sums.n > 0 && sums.n % context.grouping.tensor_size != 0)
      throw std::invalid_argument("stream_state: a stream of " + std::to_string(sums.n) +
                                  " samples ends inside a tensor of " +
                                  std::to_string(context.grouping.tensor_size) +
                                  "; only the last piece may");
  }

  // What crosses the cut to samples that begin with the `b` values next_value/next_bits: the
  // lag-1 pair and the windows that start in this stream's last samples.
  void cross(const std::array<double, 3>& next_value, const std::array<std::uint64_t, 3>& next_bits,
             int b) {
    const int a = boundary_count();
    if (a == 0) return;
    const double mu = context.law.moments().mean, variance = context.law.moments().variance;
    const double left = tail_value[a - 1] - mu, right = next_value[0] - mu;
    sums.lagged += left * right;
    sums.squares_lagged += (left * left - variance) * (right * right - variance);
    std::uint64_t joined[6] = {};
    int count = 0;
    for (int i = 0; i < 3 && i < a; ++i) joined[count++] = tail_bits[i];
    for (int i = 0; i < 3 && i < b; ++i) joined[count++] = next_bits[i];
    for (int start = 0; start < a && start + 4 <= count; ++start)
      windows.add_window(joined + start);
  }

  // After `b` more samples with these first and last values: the head fills up (it had `a`),
  // the tail is the last 3 of both.
  void extend_boundary(int a, const std::array<double, 3>& head_v,
                       const std::array<std::uint64_t, 3>& head_b,
                       const std::array<double, 3>& tail_v,
                       const std::array<std::uint64_t, 3>& tail_b, int b) {
    a = std::clamp(a, 0, 3);
    b = std::clamp(b, 0, 3);
    for (int i = a; i < 3 && i - a < b; ++i) {
      head_value[i] = head_v[i - a];
      head_bits[i] = head_b[i - a];
    }
    double values[6];
    std::uint64_t bits[6];
    for (int i = 0; i < a; ++i) values[i] = tail_value[i], bits[i] = tail_bits[i];
    for (int i = 0; i < b; ++i) values[a + i] = tail_v[i], bits[a + i] = tail_b[i];
    const int total = a + b, keep = std::min(3, total);
    for (int i = 0; i < keep; ++i) {
      tail_value[i] = values[total - keep + i];
      tail_bits[i] = bits[total - keep + i];
    }
    sums.first = head_value[0];
    sums.last = tail_value[keep - 1];
  }

  // Adds the next samples straight into this state: what appending the piece's own state
  // would give, bitwise (the sums are exact; counts, hashes and outer-bin values are sets).
  template <class T>
  void add_piece(std::span<const T> x, int threads) {
    check_can_follow();
    const int a = boundary_count();
    const std::size_t n = x.size(), edge = std::min<std::size_t>(3, n);
    std::array<double, 3> head_v{}, tail_v{};
    std::array<std::uint64_t, 3> head_b{}, tail_b{};
    for (std::size_t i = 0; i < edge; ++i) {
      head_v[i] = to_double(x[i]);
      head_b[i] = bits_of(x[i]);
      tail_v[i] = to_double(x[n - edge + i]);
      tail_b[i] = bits_of(x[n - edge + i]);
    }
    cross(head_v, head_b, static_cast<int>(edge));
    add_block_sums(x, context, threads, sums);  // with the groups where they are contiguous
    if (context.grouping.strided) add_column_groups(x, context, threads, sums);
    if (settings.bins > 0) add_bins(x, context.law, threads, fit);
    windows.add_inside(tensor_view{dtype_of<T>, {static_cast<std::int64_t>(n)}, std::as_bytes(x)},
                       threads);
    extend_boundary(a, head_v, head_b, tail_v, tail_b, static_cast<int>(edge));
  }

  void check_compatible(const impl& other) const {
    if (context.type != other.context.type || !(context.grouping == other.context.grouping) ||
        !(settings == other.settings) || !same_law(context.law, other.context.law))
      throw std::invalid_argument(
          "stream_state: merging the states of different laws, dtypes, groupings or options");
  }

  // Appends the state of the samples that follow (its window hashes: by the caller).
  void append(const impl& next) {
    check_compatible(next);
    if (next.sums.n == 0) return;
    check_can_follow();
    const int a = boundary_count(), b = next.boundary_count();
    cross(next.head_value, next.head_bits, b);
    const iid_sums& s = next.sums;
    add_pass(sums, s);
    sums.n += s.n;
    sums.groups += s.groups;
    sums.group_squares += s.group_squares;
    sums.inverse_group_sizes += s.inverse_group_sizes;
    extend_boundary(a, next.head_value, next.head_bits, next.tail_value, next.tail_bits, b);
    if (settings.bins > 0) fit.merge(next.fit);
  }
};

int stream_state::window_bits_for(std::int64_t expected) noexcept {
  int bits = 4;
  while (bits < 24 && (expected >> bits) > (std::int64_t{1} << 22)) ++bits;
  return bits;
}

stream_state::stream_state(iid_context context, options options) {
  if (options.bins != 0 &&
      (options.bins < 16 || !std::has_single_bit(static_cast<std::uint64_t>(options.bins))))
    verinit::detail::throw_invalid("stream_state", "bins", std::to_string(options.bins),
                                   "0 or a power of two >= 16");
  if (options.window_bits < 0 || options.window_bits > 24)
    verinit::detail::throw_invalid("stream_state", "window_bits",
                                   std::to_string(options.window_bits), "in [0, 24]");
  if (context.grouping.tensor_size < 1 || context.grouping.units < 1 ||
      context.grouping.units_per_group < 1 ||
      context.grouping.tensor_size % context.grouping.units != 0)
    verinit::detail::throw_invalid("stream_state", "grouping",
                                   std::to_string(context.grouping.tensor_size),
                                   "a tensor size that its units divide");
  impl_ = std::make_unique<impl>(std::move(context), options);
}

stream_state::stream_state(stream_state&&) noexcept = default;
stream_state& stream_state::operator=(stream_state&&) noexcept = default;
stream_state::~stream_state() = default;
stream_state::stream_state(const stream_state& other)
    : impl_(std::make_unique<impl>(other.impl_->context, other.impl_->settings)) {
  *this += other;
}
stream_state& stream_state::operator=(const stream_state& other) {
  if (this != &other) *this = stream_state(other);
  return *this;
}

void stream_state::add(const tensor_view& piece, int threads) {
  verinit::detail::check_dtype("stream_state::add", piece.type, impl_->context.type);
  if (threads < 1)
    verinit::detail::throw_invalid("stream_state::add", "threads", std::to_string(threads), ">= 1");
  if (piece.size() == 0) return;
  visit_dtype(piece.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    impl_->add_piece(piece.elements<T>(), threads);
  });
}

stream_state& stream_state::operator+=(const stream_state& next) {
  impl_->append(*next.impl_);
  impl_->windows.merge(next.impl_->windows);
  return *this;
}

stream_state& stream_state::operator+=(stream_state&& next) {
  impl_->append(*next.impl_);
  impl_->windows.merge(std::move(next.impl_->windows));
  return *this;
}

const iid_context& stream_state::context() const noexcept { return impl_->context; }
const stream_state::options& stream_state::settings() const noexcept { return impl_->settings; }
const iid_sums& stream_state::sums() const noexcept { return impl_->sums; }

window_repeats stream_state::repeats(int threads) const { return impl_->windows.count(threads); }

fit_bracket stream_state::bracket() const {
  if (impl_->settings.bins == 0)
    throw std::logic_error("stream_state::bracket: a state without bins");
  return impl_->fit.bracket();
}

std::vector<std::byte> stream_state::to_bytes() const {
  const impl& s = *impl_;
  std::vector<std::byte> out;
  byte_writer w(out);
  w.u64(magic | static_cast<std::uint64_t>(format_version) << 32);
  w.i64(static_cast<std::int64_t>(s.context.type));
  const sample_grouping& g = s.context.grouping;
  for (std::int64_t v : {g.tensor_size, g.units, std::int64_t{g.strided}, g.units_per_group,
                         s.settings.bins, std::int64_t{s.settings.window_bits}})
    w.i64(v);
  write_law(w, s.context.law);
  const iid_sums& m = s.sums;
  for (std::int64_t v : {m.n, m.nan, m.outside, m.at_excluded, m.non_finite, m.groups}) w.i64(v);
  for (const exact_sum* sum : {&m.s1, &m.s2, &m.s3, &m.s4, &m.lagged, &m.squares_lagged,
                               &m.group_squares, &m.inverse_group_sizes})
    w.sum(*sum);
  w.f64(m.largest);
  w.f64(m.lowest);
  w.f64(m.highest);
  for (int i = 0; i < s.boundary_count(); ++i) {
    w.f64(s.head_value[i]);
    w.u64(s.head_bits[i]);
    w.f64(s.tail_value[i]);
    w.u64(s.tail_bits[i]);
  }
  s.windows.append_bytes(out);
  if (s.settings.bins > 0) {
    for (const std::uint64_t c : s.fit.counts) w.u64(c);
    w.i64(std::int64_t{s.fit.low_overflow} | std::int64_t{s.fit.high_overflow} << 1);
    for (const auto* tail : {&s.fit.low_tail, &s.fit.high_tail}) {
      w.u64(tail->size());
      for (const double u : *tail) w.f64(u);
    }
  }
  return out;
}

stream_state stream_state::from_bytes(std::span<const std::byte> bytes, iid_context context) {
  byte_reader r(bytes, "stream_state");
  if (r.u64() != (magic | static_cast<std::uint64_t>(format_version) << 32))
    r.fail("not a stream state of this version");
  if (r.i64() != static_cast<std::int64_t>(context.type)) r.fail("another dtype");
  sample_grouping g;
  g.tensor_size = r.i64();
  g.units = r.i64();
  g.strided = r.i64() != 0;
  g.units_per_group = r.i64();
  if (!(g == context.grouping)) r.fail("another grouping");
  options o;
  o.bins = r.i64();
  const std::int64_t bits = r.i64();
  if (bits < 0 || bits > 24) r.fail("window bits out of range");
  o.window_bits = static_cast<int>(bits);
  if (o.bins != 0 && (o.bins < 16 || o.bins > (std::int64_t{1} << 30) ||
                      !std::has_single_bit(static_cast<std::uint64_t>(o.bins))))
    r.fail("a bin count that is not 0 or a power of two");
  // Before the state (and its bins) is allocated: the bins must fit in the bytes.
  if (static_cast<std::uint64_t>(o.bins) > bytes.size() / 8)
    r.fail("the bins exceed what the bytes hold");
  std::vector<std::byte> law_bytes;
  byte_writer law_writer(law_bytes);
  write_law(law_writer, context.law);
  for (std::size_t i = 0; i < law_bytes.size(); i += 8) {
    std::uint64_t expected = 0;
    for (int b = 0; b < 8; ++b) expected |= static_cast<std::uint64_t>(law_bytes[i + b]) << (8 * b);
    if (r.u64() != expected) r.fail("another law");
  }
  stream_state state(std::move(context), o);
  impl& s = *state.impl_;
  iid_sums& m = s.sums;
  m.n = r.count("n");
  m.nan = r.count("nan");
  m.outside = r.count("outside");
  m.at_excluded = r.count("at_excluded");
  m.non_finite = r.count("non_finite");
  m.groups = r.count("groups");
  for (exact_sum* sum : {&m.s1, &m.s2, &m.s3, &m.s4, &m.lagged, &m.squares_lagged, &m.group_squares,
                         &m.inverse_group_sizes})
    *sum = r.sum();
  m.largest = r.f64();
  m.lowest = r.f64();
  m.highest = r.f64();
  if (m.n > m.nan && !(m.lowest <= m.highest)) r.fail("the lowest sample lies above the highest");
  // A state's counts are consistent: none exceeds the samples.
  for (const std::int64_t c : {m.nan, m.outside, m.at_excluded, m.non_finite, m.groups})
    if (c > m.n) r.fail("a count exceeds the sample count " + std::to_string(m.n));
  if (m.nan > m.non_finite) r.fail("more NaNs than non-finite samples");
  for (int i = 0; i < s.boundary_count(); ++i) {
    s.head_value[i] = r.f64();
    s.head_bits[i] = r.u64();
    s.tail_value[i] = r.f64();
    s.tail_bits[i] = r.u64();
  }
  if (m.n > 0) {
    m.first = s.head_value[0];
    m.last = s.tail_value[s.boundary_count() - 1];
  }
  s.windows = detail::repeated_windows::from_bytes(bytes, r.position(), o.window_bits);
  if (s.windows.windows() != std::max<std::int64_t>(0, m.n - 3))
    r.fail("the window count is not the sample count less 3");
  if (o.bins > 0) {
    if (static_cast<std::uint64_t>(o.bins) > (bytes.size() - r.position()) / 8)
      r.fail("the bins exceed what the bytes hold");
    for (std::uint64_t& c : s.fit.counts) c = r.u64();
    const std::int64_t flags = r.i64();
    if (flags < 0 || flags > 3) r.fail("unknown overflow flags");
    s.fit.low_overflow = (flags & 1) != 0;
    s.fit.high_overflow = (flags & 2) != 0;
    std::uint64_t binned = 0;
    for (const std::uint64_t c : s.fit.counts) {
      if (c > static_cast<std::uint64_t>(m.n)) r.fail("a bin holds more than the samples");
      binned += c;
    }
    if (binned != static_cast<std::uint64_t>(m.n - m.nan)) r.fail("the bins do not add up");
    for (auto* tail : {&s.fit.low_tail, &s.fit.high_tail}) {
      *tail = r.doubles(r.u64());
      if (!std::is_sorted(tail->begin(), tail->end())) r.fail("outer-bin values out of order");
    }
    if (s.fit.low_tail.size() > s.fit.counts.front() ||
        s.fit.high_tail.size() > s.fit.counts.back())
      r.fail("an outer bin holds more values than its count");
  }
  if (!r.done()) r.fail("bytes left over after the state");
  return state;
}

bool operator==(const stream_state& a, const stream_state& b) {
  return a.to_bytes() == b.to_bytes();
}

}  // namespace verinit::verify
