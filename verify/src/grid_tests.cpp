// Samples on a 16-bit grid: the rounded law and its tests (see grid_tests.hpp).
//
// References: W. G. Cochran, "Some methods for strengthening the common chi-square tests",
// Biometrics 10, 1954 (expected counts per cell); G. E. Noether, "Note on the Kolmogorov
// statistic in the discrete case", Metrika 7, 1963 (the continuous law of D_n is conservative
// for a discrete F).
#include "verinit/verify/grid_tests.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "moment_tests.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/distributions/weighted_chi_square.hpp"

namespace verinit::verify {
namespace {

using verinit::detail::throw_invalid;

// Elements per block of every pass: part of the determinism contract.
constexpr std::int64_t block_size = std::int64_t{1} << 20;
// Cochran's rule, generously: every pooled cell expects at least this many samples.
constexpr double min_cell_expectation = 50;

void check_grid_dtype(std::string_view function, dtype type) {
  if (type != dtype::float16 && type != dtype::bfloat16)
    throw_invalid(function, "dtype", std::string(to_string(type)), "float16 or bfloat16");
}

template <class T>
std::vector<std::uint16_t> finite_patterns_in_order() {
  const std::uint16_t infinity = bits_of(round_to<T>(INFINITY));
  std::vector<std::uint16_t> order;
  order.reserve(2 * infinity);
  for (std::uint32_t b = infinity - 1; b >= 1; --b)
    order.push_back(static_cast<std::uint16_t>(0x8000u | b));  // most negative first
  for (std::uint32_t b = 0; b < infinity; ++b) order.push_back(static_cast<std::uint16_t>(b));
  return order;
}

template <class T>
double value_of(std::uint16_t bits) {
  return to_double(T::from_bits(bits));
}

// The value of a pattern of a 16-bit dtype.
double value_in(dtype type, std::uint16_t bits) {
  return type == dtype::float16 ? value_of<float16_t>(bits) : value_of<bfloat16_t>(bits);
}

// Sum over fixed blocks in block order of f(block_begin, block_end).
template <class F>
double block_sum(std::int64_t n, int threads, F f) {
  const std::int64_t blocks = (n + block_size - 1) / block_size;
  std::vector<double> partial(static_cast<std::size_t>(blocks));
#pragma omp parallel for schedule(static) num_threads(threads) if (blocks > 1)
  for (std::int64_t k = 0; k < blocks; ++k)
    partial[static_cast<std::size_t>(k)] = f(k * block_size, std::min(n, (k + 1) * block_size));
  double total = 0;
  for (const double p : partial) total += p;
  return total;
}

// The values of 16-bit patterns as float (exact: both grids are float32 values), fast enough
// for a pass that is otherwise bound by memory: bfloat16 is float32's upper half (a shift, which
// vectorises), float16 a lookup in a table of its 65,536 values.
class grid_values {
 public:
  explicit grid_values(dtype type) : type_(type) {
    if (type != dtype::float16) return;
    table_.resize(65536);
    for (std::uint32_t b = 0; b < 65536; ++b)
      table_[b] = static_cast<float>(value_of<float16_t>(static_cast<std::uint16_t>(b)));
  }
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (type_ == dtype::bfloat16)
      return f([](std::uint16_t b) { return std::bit_cast<float>(std::uint32_t{b} << 16); });
    const float* table = table_.data();
    return f([table](std::uint16_t b) { return table[b]; });
  }

 private:
  dtype type_;
  std::vector<float> table_;
};

// sum (x_i - mean)(x_{i+1} - mean) over fixed blocks, each summed in eight lanes (i mod 8 from
// the block's start; a block's last few products in the first lane) added in lane order: an order
// fixed by the code, so the same bits on any thread count, and one that vectorises.
double lag1_sum(const tensor_view& x, double mean, int threads) {
  const auto* bits = reinterpret_cast<const std::uint16_t*>(x.bytes.data());
  const auto n = static_cast<std::int64_t>(x.size());
  const grid_values values(x.type);
  return values.visit([&](auto value) {
    return block_sum(n - 1, threads, [&](std::int64_t begin, std::int64_t end) {
      constexpr int lanes = 8;
      double lane[lanes] = {};
      std::int64_t i = begin;
      for (; i + lanes <= end; i += lanes)
        for (int l = 0; l < lanes; ++l)
          lane[l] += (static_cast<double>(value(bits[i + l])) - mean) *
                     (static_cast<double>(value(bits[i + l + 1])) - mean);
      for (; i < end; ++i)
        lane[0] += (static_cast<double>(value(bits[i])) - mean) *
                   (static_cast<double>(value(bits[i + 1])) - mean);
      double s = 0;
      for (const double l : lane) s += l;
      return s;
    });
  });
}

}  // namespace

// ---- rounded_law -----------------------------------------------------------------------------

double rounded_law::value(std::uint16_t bits) const noexcept { return value_in(type_, bits); }

rounded_law::rounded_law(const any_law& law, dtype type) : type_(type), probability_(65536, 0.0) {
  check_grid_dtype("rounded_law", type);
  visit_dtype(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      return;
    } else {
      order_ = finite_patterns_in_order<T>();
      // Upper midpoints: m_k between value k and k+1; the last is where rounding overflows.
      const std::size_t count = order_.size();
      const double max = value_of<T>(order_.back());
      const double overflow = max + (max - value_of<T>(order_[count - 2])) / 2;
      const double median = law.quantile(0.5);
      const auto support = law.support();
      centre_ = law.moments().mean;
      unbounded_ = std::isinf(support.second);
      // F below the median and 1 - F above it, so that tail atoms keep their relative precision.
      const auto mass_between = [&](double low, double high) {
        if (high <= median) return law.cdf(high) - law.cdf(low);
        if (low >= median) return law.sf(low) - law.sf(high);
        return (law.cdf(median) - law.cdf(low)) + (law.sf(median) - law.sf(high));
      };
      double low = -overflow, total = 0;
      for (std::size_t k = 0; k < count; ++k) {
        const double g = value_of<T>(order_[k]);
        const double high = k + 1 < count ? (g + value_of<T>(order_[k + 1])) / 2 : overflow;
        // A cell far narrower than the law's scale (near zero, where the grid is densest)
        // has a mass below F's rounding error: its pdf times its width (within the support)
        // instead, exact to the cell's relative width squared.
        double p = std::max(0.0, mass_between(low, high));
        if (p < 1e-9) {
          const double from = std::max(low, support.first), to = std::min(high, support.second);
          p = to > from ? law.pdf(from + (to - from) / 2) * (to - from) : 0.0;
        }
        probability_[order_[k]] = p;
        total += p;
        low = high;
      }
      if (!(total > 0))
        throw_invalid("rounded_law",
                      "the law's mass on " + std::string(to_string(type)) + "'s finite values",
                      verinit::detail::format_number(total), "> 0");
      for (const std::uint16_t b : order_) probability_[b] /= total;
    }
  });
  set_moments();
  description_ = law.description() + " rounded to " + std::string(to_string(type));
}

void rounded_law::set_moments() {
  mean_ = variance_ = third_ = fourth_ = 0;
  atoms_ = 0;
  for (const std::uint16_t b : order_) mean_ += probability_[b] * value(b);
  for (const std::uint16_t b : order_) {
    const double d = value(b) - mean_;
    variance_ += probability_[b] * d * d;
    third_ += probability_[b] * d * d * d;
    fourth_ += probability_[b] * d * d * d * d;
    atoms_ += probability_[b] > 0;
  }
}

rounded_law rounded_law::without_zero() const {
  const double rest = 1 - probability_[0];
  if (!(rest > 0)) throw_invalid("rounded_law", "the mass off 0 of " + description_, "0", "> 0");
  rounded_law out = *this;
  out.probability_[0] = 0;
  for (const std::uint16_t b : out.order_) out.probability_[b] /= rest;
  out.set_moments();
  out.description_ += ", conditioned on != 0";
  return out;
}

// ---- histogram -------------------------------------------------------------------------------

grid_histogram histogram_of(const tensor_view& x, int threads) {
  check_grid_dtype("histogram_of", x.type);
  const auto* bits = reinterpret_cast<const std::uint16_t*>(x.bytes.data());
  const std::int64_t n = x.size();
  const std::int64_t blocks = (n + block_size - 1) / block_size;
  grid_histogram h;
  h.n = n;
  const int used =
      static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, blocks)));
  std::vector<std::array<std::int64_t, 65536>> local(static_cast<std::size_t>(used));
#pragma omp parallel num_threads(used)
  {
    auto& mine = local[static_cast<std::size_t>(omp_get_thread_num())];
    mine.fill(0);
#pragma omp for schedule(static)
    for (std::int64_t k = 0; k < blocks; ++k)
      for (std::int64_t i = k * block_size; i < std::min(n, (k + 1) * block_size); ++i)
        ++mine[bits[i]];
  }
  // Integers: the sum does not depend on how the blocks were shared out.
  for (const auto& mine : local)
    for (std::size_t b = 0; b < 65536; ++b) h.counts[b] += mine[b];
  h.counts[0] += h.counts[0x8000];
  h.counts[0x8000] = 0;
  return h;
}

// ---- the tests -------------------------------------------------------------------------------

namespace {

// M = max |x - c| against its exact law on the grid: P(M <= m) = (1 - P(|X - c| > m))^n and
// P(M >= m) = 1 - (1 - P(|X - c| >= m))^n, the tail masses summed from the outermost atoms in
// (relative precision where they are tiny). Two-sided, as the continuous samples' extreme test.
template <class Value>
test_result extreme_on_grid(const grid_histogram& h, const rounded_law& law, const Value& value) {
  const double c = law.centre();
  double largest = 0;
  bool finite = true;
  for (std::size_t b = 0; b < 65536; ++b) {
    if (h.counts[b] == 0) continue;
    const double v = value(static_cast<std::uint16_t>(b));
    if (!std::isfinite(v)) finite = false;
    largest = std::max(largest, std::abs(v - c));
  }
  // The atoms beyond M from both ends of the grid inward (farthest first: the small tail masses
  // are added before the larger ones).
  double beyond = 0, at_or_beyond = 0;  // P(|X - c| > M), P(|X - c| >= M)
  const auto& order = law.order();
  const auto add = [&](std::uint16_t b) {
    const double distance = std::abs(value(b) - c);
    if (distance < largest) return false;
    if (distance > largest) beyond += law.probability(b);
    at_or_beyond += law.probability(b);
    return true;
  };
  std::size_t low = 0, high = order.size();
  while (low < high && value(order[low]) <= c && add(order[low])) ++low;
  while (high > low && value(order[high - 1]) > c && add(order[high - 1])) --high;
  const auto n = static_cast<double>(h.n);
  const double p_heavy =
      std::clamp(-std::expm1(n * std::log1p(-std::min(1.0, at_or_beyond))), 0.0, 1.0);
  const double p_light = std::clamp(std::exp(n * std::log1p(-std::min(1.0, beyond))), 0.0, 1.0);
  test_result r;
  r.name = "extreme";
  r.statistic = finite ? largest : INFINITY;
  r.p_value = finite ? detail::two_sided(p_light, p_heavy) : 0;
  r.values = {{"centre", c},
              {"tail_probability", at_or_beyond},
              {"p_too_heavy", p_heavy},
              {"p_too_light", p_light}};
  r.note =
      "max |x - centre| against its exact law on the grid, (P(|X - centre| <= t))^n, "
      "two-sided";
  return r;
}

// Anderson-Darling for a discrete null (V. Choulakian, R. A. Lockhart & M. A. Stephens, Canad.
// J. Statist. 22, 1994, section 2): adjacent atoms in k groups of probabilities p_j, Z_j = S_j -
// n H_j (observed less expected up to the end of group j), t_j = (p_j + p_{j+1}) / 2,
// A^2 = n^-1 sum_{j < k} Z_j^2 t_j / (H_j (1 - H_j)); its limit is sum_i lambda_i chi-square(1),
// lambda the eigenvalues of D^(1/2) S D^(1/2) with S_ij = H_min(i,j) - H_i H_j (the covariance
// of Z / sqrt(n)) and D = diag(t_j / (H_j (1 - H_j))). The groups end where H passes
// (1 - cos(pi m / G)) / 2, m = 1..G - 1 (closer together in the tails, where A^2 looks), and
// expect at least 10 samples each: at most G = 32 groups, so the eigenvalues (Eigen) and Imhof's
// integral (weighted_chi_square.hpp) cost a few milliseconds; at least 9 (a sample of ~100
// values or more), so that the integrand falls fast enough for the integral to be quick.
test_result anderson_darling_on_grid(const grid_histogram& h, const rounded_law& law) {
  constexpr int target_groups = 32;
  constexpr double min_expected = 10;
  const auto n = static_cast<double>(h.n);
  std::vector<double> p_group, observed;  // per group
  double p = 0, o = 0, cumulative = 0;
  int level = 1;
  const auto level_at = [](int m) {
    return (1 - std::cos(std::numbers::pi * m / target_groups)) / 2;
  };
  for (const std::uint16_t b : law.order()) {
    p += law.probability(b);
    o += static_cast<double>(h.counts[b]);
    cumulative += law.probability(b);
    if (level < target_groups && cumulative >= level_at(level) && n * p >= min_expected) {
      p_group.push_back(p);
      observed.push_back(o);
      p = o = 0;
      while (level < target_groups && cumulative >= level_at(level)) ++level;
    }
  }
  if (p > 0 || o > 0) {
    if (!p_group.empty() && n * p < min_expected) {  // a short last group joins the one before
      p_group.back() += p;
      observed.back() += o;
    } else {
      p_group.push_back(p);
      observed.push_back(o);
    }
  }
  test_result r;
  r.name = "anderson_darling";
  const auto k = static_cast<Eigen::Index>(p_group.size());
  constexpr Eigen::Index min_groups = 9;
  if (k < min_groups) {
    r.note = "not computed: too few samples for " + std::to_string(min_groups) +
             " groups of >= 10 expected";
    return r;
  }
  std::vector<double> cum(static_cast<std::size_t>(k));  // H_j
  double a2 = 0, s = 0, hj = 0;
  Eigen::VectorXd root_d(k - 1);
  for (Eigen::Index j = 0; j + 1 < k; ++j) {
    const auto u = static_cast<std::size_t>(j);
    hj += p_group[u];
    s += observed[u];
    cum[u] = hj;
    const double weight = (p_group[u] + p_group[u + 1]) / 2 / (hj * (1 - hj));
    const double z = s - n * hj;
    a2 += z * z * weight;
    root_d(j) = std::sqrt(weight);
  }
  a2 /= n;
  Eigen::MatrixXd m(k - 1, k - 1);
  for (Eigen::Index i = 0; i + 1 < k; ++i)
    for (Eigen::Index j = 0; j + 1 < k; ++j) {
      const double hi = cum[static_cast<std::size_t>(i)], hk = cum[static_cast<std::size_t>(j)];
      m(i, j) = root_d(i) * (std::min(hi, hk) - hi * hk) * root_d(j);
    }
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(m, Eigen::EigenvaluesOnly);
  std::vector<double> weights;
  const double largest = solver.eigenvalues().maxCoeff();
  for (const double lambda : solver.eigenvalues())
    if (lambda > 1e-12 * largest) weights.push_back(lambda);
  r.statistic = a2;
  r.p_value = cdf(complement(weighted_chi_square_distribution(std::move(weights)), a2));
  r.values = {{"groups", static_cast<double>(k)}};
  r.note = "A^2 for a discrete null over " + std::to_string(k) +
           " groups of adjacent values (Choulakian, Lockhart & Stephens 1994), p from its "
           "limiting law sum lambda_i chi-square(1) (Imhof)";
  return r;
}

}  // namespace

// ---- grid_stream -----------------------------------------------------------------------------

grid_stream::grid_stream(const rounded_law& law) : law_(law) {}

void grid_stream::add(const tensor_view& piece, int threads) {
  check_grid_dtype("grid_stream::add", piece.type);
  if (piece.type != law_.type())
    throw_invalid("grid_stream::add", "dtype", std::string(to_string(piece.type)),
                  "the rounded law's, " + std::string(to_string(law_.type())));
  if (piece.size() == 0) return;
  threads = threads > 0 ? threads : omp_get_max_threads();
  add_counts(histogram_of(piece, threads));
  append(record(piece, threads));
}

grid_stream::piece_record grid_stream::record(const tensor_view& piece, int threads) const {
  check_grid_dtype("grid_stream::record", piece.type);
  if (piece.type != law_.type())
    throw_invalid("grid_stream::record", "dtype", std::string(to_string(piece.type)),
                  "the rounded law's, " + std::string(to_string(law_.type())));
  if (piece.size() == 0) throw_invalid("grid_stream::record", "piece size", "0", ">= 1");
  const auto* bits = reinterpret_cast<const std::uint16_t*>(piece.bytes.data());
  return {piece.size(), lag1_sum(piece, law_.mean(), threads > 0 ? threads : omp_get_max_threads()),
          bits[0], bits[piece.size() - 1]};
}

void grid_stream::append(const piece_record& next) {
  // The lag-1 sum: the join with the piece before (in stream order), then the piece's own.
  const auto value = [&](std::uint16_t b) { return value_in(law_.type(), b); };
  const double mean = law_.mean();
  if (last_) lagged_ += (value(*last_) - mean) * (value(next.first) - mean);
  lagged_ += next.lagged;
  last_ = next.last;
}

void grid_stream::add_counts(const grid_histogram& more) {
  for (std::size_t b = 0; b < 65536; ++b) histogram_.counts[b] += more.counts[b];
  histogram_.n += more.n;
}

std::vector<test_result> grid_stream::tests() const {
  const grid_histogram& h = histogram_;
  const rounded_law& law = law_;
  if (h.n < 2) throw_invalid("grid_tests", "sample count", std::to_string(h.n), ">= 2");
  const auto n = static_cast<double>(h.n);
  std::vector<test_result> out;

  const auto value = [&](std::uint16_t b) { return value_in(law.type(), b); };

  // support: observed patterns of probability 0 (NaN and infinities have none).
  std::int64_t outside = 0, distinct = 0;
  double expected_distinct = 0;
  for (std::size_t b = 0; b < 65536; ++b) {
    if (h.counts[b] == 0) continue;
    ++distinct;
    if (!(law.probability(static_cast<std::uint16_t>(b)) > 0)) outside += h.counts[b];
  }
  // All n values equal: P = sum_g p_g^n, exact on the grid. Below 1e-12 the sample is
  // impossible whatever the run's family size (as for continuous samples, iid_tests.cpp).
  double all_equal = 1;
  for (const std::uint16_t b : law.order()) {
    expected_distinct += -std::expm1(h.n * std::log1p(-law.probability(b)));
    if (distinct == 1 && law.probability(b) > 0)
      all_equal += std::exp(n * std::log(law.probability(b)));
  }
  all_equal = distinct == 1 ? all_equal - 1 : 1;
  const bool impossible_equal = all_equal < 1e-12;
  {
    test_result r;
    r.name = "support";
    r.exact = true;
    r.statistic = static_cast<double>(outside) + (impossible_equal ? 1.0 : 0.0);
    r.passed = r.statistic == 0;
    r.p_value = r.passed ? 1 : 0;
    r.values = {{"outside", static_cast<double>(outside)},
                {"distinct_values", static_cast<double>(distinct)},
                {"expected_distinct_values", expected_distinct},
                {"atoms", static_cast<double>(law.atoms())}};
    if (distinct == 1) r.values.emplace_back("all_equal_probability", all_equal);
    r.note = std::to_string(outside) + " values of probability 0 (outside the rounded support, " +
             "NaN or inf); " + std::to_string(distinct) + " distinct values, " +
             std::to_string(static_cast<std::int64_t>(std::llround(expected_distinct))) +
             " expected";
    if (impossible_equal) {
      char text[128];
      std::snprintf(text, sizeof text, "; all %lld values equal, P = %.3g under the law",
                    static_cast<long long>(h.n), all_equal);
      r.note += text;
    }
    out.push_back(std::move(r));
  }

  // ks and chi_square in one walk up the grid; a last cell short of the expectation joins
  // the one before it.
  double cumulative_observed = 0, cumulative_expected = 0, d = 0;
  double chi_square = 0, cell_observed = 0, cell_expected = 0, last_observed = 0, last_expected = 0;
  std::int64_t cells = 0;
  const auto term = [](double o, double e) { return (o - e) * (o - e) / e; };
  for (const std::uint16_t b : law.order()) {
    const double p = law.probability(b);
    const auto observed = static_cast<double>(h.counts[b]);
    cumulative_observed += observed;
    cumulative_expected += p;
    d = std::max(d, std::abs(cumulative_observed / n - cumulative_expected));
    cell_observed += observed;
    cell_expected += n * p;
    if (cell_expected >= min_cell_expectation) {
      chi_square += term(cell_observed, cell_expected);
      ++cells;
      last_observed = cell_observed;
      last_expected = cell_expected;
      cell_observed = cell_expected = 0;
    }
  }
  if (cells > 0 && (cell_expected > 0 || cell_observed > 0)) {
    chi_square += term(last_observed + cell_observed, last_expected + cell_expected) -
                  term(last_observed, last_expected);
  }
  {
    test_result r;
    r.name = "ks";
    r.statistic = d;
    r.p_value = cdf(complement(kolmogorov_smirnov_distribution(h.n), d));
    r.values = {{"n", static_cast<double>(h.n)}};
    r.note = "max |F_n - F| over the grid, p from D_n's continuous law (conservative on a grid)";
    out.push_back(std::move(r));
  }
  {
    test_result r;
    r.name = "chi_square";
    r.statistic = chi_square;
    r.values = {{"cells", static_cast<double>(cells)},
                {"df", static_cast<double>(std::max<std::int64_t>(0, cells - 1))}};
    if (cells >= 2) {
      r.p_value = cdf(
          complement(boost::math::chi_squared_distribution<double>(static_cast<double>(cells - 1)),
                     chi_square));
      r.note = "Pearson X^2 over " + std::to_string(cells) +
               " cells of adjacent values pooled to >= 50 expected";
    } else {
      r.note = "not computed: too few samples for two cells of >= 50 expected";
    }
    out.push_back(std::move(r));
  }

  out.push_back(anderson_darling_on_grid(h, law));

  // mean and variance from the histogram (a fixed order of bins: the same bits always).
  double s1 = 0, s2 = 0;
  for (const std::uint16_t b : law.order()) {
    if (h.counts[b] == 0) continue;
    const double dev = value(b) - law.mean();
    s1 += static_cast<double>(h.counts[b]) * dev;
    s2 += static_cast<double>(h.counts[b]) * dev * dev;
  }
  const double sigma2 = law.variance();
  out.push_back(detail::mean_z_test(law.mean() + s1 / n, law.mean(), sigma2, n));
  out.push_back(
      detail::variance_z_test(s2 / n, sigma2, law.fourth_central_moment() / (sigma2 * sigma2), n));
  for (auto it = out.end() - 2; it != out.end(); ++it) it->note += ", the rounded law's moments";
  if (law.unbounded()) out.push_back(extreme_on_grid(h, law, value));
  {
    test_result r;
    r.name = "autocorrelation";
    const double s = lagged_;
    r.statistic = s / (sigma2 * std::sqrt(n - 1));
    r.p_value = detail::two_sided_normal_p(r.statistic);
    r.values = {{"r", s / (sigma2 * (n - 1))}};
    r.note = "lag-1 correlation about the law's mean, z = r sqrt(n - 1)";
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<test_result> grid_tests(const tensor_view& x, const rounded_law& law, int threads) {
  check_grid_dtype("grid_tests", x.type);
  if (x.size() < 2) throw_invalid("grid_tests", "sample count", std::to_string(x.size()), ">= 2");
  grid_stream stream(law);
  stream.add(x, threads);
  return stream.tests();
}

// ---- float32/float64 samples on a coarser grid ------------------------------------------------

std::optional<dtype> coarser_grid_of(const tensor_view& x, std::int64_t min_count, int threads) {
  if (x.size() < min_count || (x.type != dtype::float32 && x.type != dtype::float64))
    return std::nullopt;
  threads = threads > 0 ? threads : omp_get_max_threads();
  const auto all_on = [&](auto tag) {
    using T = typename decltype(tag)::type;
    return visit_dtype(x.type, [&](auto source) {
      using S = typename decltype(source)::type;
      if constexpr (std::is_floating_point_v<S>) {
        const auto values = x.elements<S>();
        const auto on_grid = [](double v) {
          return std::isfinite(v) && to_double(round_to<T>(v)) == v;
        };
        // A continuous sample misses at once: look at the first values before a whole pass.
        for (std::int64_t i = 0; i < min_count; ++i)
          if (!on_grid(values[static_cast<std::size_t>(i)])) return false;
        const double misses =
            block_sum(x.size(), threads, [&](std::int64_t begin, std::int64_t end) {
              double m = 0;
              for (std::int64_t i = begin; i < end; ++i)
                m += !on_grid(values[static_cast<std::size_t>(i)]);
              return m;
            });
        return misses == 0;
      } else {
        return false;
      }
    });
  };
  // bfloat16 first: most bfloat16 values (2^-17 <= |v| < 65520) are float16 values too, while
  // a float16 sample lies wholly on bfloat16's grid with probability ~8^-n.
  if (all_on(std::type_identity<bfloat16_t>{})) return dtype::bfloat16;
  if (all_on(std::type_identity<float16_t>{})) return dtype::float16;
  return std::nullopt;
}

tensor_buffer convert_to_grid(const tensor_view& x, dtype type) {
  check_grid_dtype("convert_to_grid", type);
  tensor_buffer out{type, x.shape, std::vector<std::byte>(static_cast<std::size_t>(x.size()) * 2)};
  auto* bits = reinterpret_cast<std::uint16_t*>(out.bytes.data());
  visit_dtype(x.type, [&](auto source) {
    using S = typename decltype(source)::type;
    if constexpr (std::is_floating_point_v<S>) {
      const auto values = x.elements<S>();
      for (std::size_t i = 0; i < values.size(); ++i)
        bits[i] = static_cast<std::uint16_t>(type == dtype::float16
                                                 ? bits_of(round_to<float16_t>(values[i]))
                                                 : bits_of(round_to<bfloat16_t>(values[i])));
    } else {
      throw_invalid("convert_to_grid", "dtype", std::string(to_string(x.type)),
                    "float32 or float64");
    }
  });
  return out;
}

}  // namespace verinit::verify
