// The tensors of one rule pooled: the precision-weighted z-tests (pool_by_rule) and the pooled
// probability-integral transforms (add_pit_tests).
#include "pooled.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "binned_fit.hpp"
#include "seeds.hpp"
#include "verinit/philox.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/grid_tests.hpp"
#include "verinit/verify/iid_tests.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify {

std::vector<pooled_result> pool_by_rule(const std::vector<case_result>& cases) {
  std::vector<pooled_result> out;
  struct sums {
    double weighted_z = 0, weights = 0;  // sum z_t / se_t, sum 1 / se_t^2
    std::size_t count = 0;
  };
  std::vector<std::array<sums, 2>> totals;  // [variance, mean] per rule
  const auto add = [](sums& s, const test_result& t) {
    if (!std::isfinite(t.statistic) || !(t.standard_error > 0)) return;
    s.weighted_z += t.statistic / t.standard_error;
    s.weights += 1 / (t.standard_error * t.standard_error);
    ++s.count;
  };
  for (const auto& c : cases) {
    if (c.rule.empty()) continue;
    const test_result* variance = nullptr;
    const test_result* mean = nullptr;
    for (const auto& t : c.tests) {
      if (t.name == "variance") variance = &t;
      if (t.name == "mean") mean = &t;
    }
    if (variance == nullptr || !std::isfinite(variance->statistic)) continue;
    auto at = std::find_if(out.begin(), out.end(),
                           [&](const pooled_result& p) { return p.rule == c.rule; });
    if (at == out.end()) {
      out.push_back({c.rule, c.tolerance, {}, 0, {}, true, NAN, NAN});
      totals.emplace_back();
      at = out.end() - 1;
    }
    auto& sum = totals[static_cast<std::size_t>(at - out.begin())];
    at->tensors.push_back(c.tensor);
    at->n += static_cast<double>(c.n);
    add(sum[0], *variance);
    if (mean != nullptr) add(sum[1], *mean);
  }
  std::vector<pooled_result> kept;
  for (std::size_t r = 0; r < out.size(); ++r) {
    if (out[r].tensors.size() < 2) continue;
    const char* names[] = {"pooled_variance", "pooled_mean"};
    for (int k = 0; k < 2; ++k) {
      const sums& s = totals[r][static_cast<std::size_t>(k)];
      if (s.count < 2) continue;
      test_result t;
      t.name = names[k];
      t.statistic = s.weighted_z / std::sqrt(s.weights);
      t.p_value = detail::two_sided_normal_p(t.statistic);
      t.standard_error = 1 / std::sqrt(s.weights);
      t.detects =
          k == 0 ? detectable_quantity::relative_variance_error : detectable_quantity::mean_shift;
      // The precision-weighted estimate of the common error: z times its standard error.
      t.values = {{"estimate", t.statistic * t.standard_error},
                  {"tensors", static_cast<double>(s.count)}};
      t.note = k == 0 ? "the tensors' variance z-tests pooled: a relative variance error common "
                        "to them"
                      : "the tensors' mean z-tests pooled: a mean shift (in sd) common to them";
      out[r].tests.push_back(std::move(t));
    }
    apply_tolerance(out[r].tests, out[r].tolerance);
    kept.push_back(std::move(out[r]));
  }
  return kept;
}
namespace detail {
namespace {

// V_i ~ U(0, 1), never 0 or 1: 53 bits of Philox4x32-10 at counter (i, stream) under the seed.
double uniform_at(std::uint64_t i, std::uint64_t stream, const philox4x32::key_type& key) {
  const auto out = philox4x32::bijection(
      {static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i >> 32),
       static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
      key);
  const std::uint64_t bits = (std::uint64_t{out[0]} << 21) ^ (out[1] >> 11);
  return (static_cast<double>(bits) + 0.5) * 0x1p-53;
}

// A 16-bit grid law's randomised PIT per bit pattern: F(g-) and P(g) (-0 is +0's atom; NaN
// F for the non-finite patterns, whose u is NaN).
struct grid_pit {
  dtype type;
  std::vector<double> below, mass;

  explicit grid_pit(const rounded_law& rounded)
      : type(rounded.type()), below(65536, NAN), mass(65536, 0.0) {
    double cumulative = 0;
    for (const std::uint16_t bits : rounded.order()) {
      below[bits] = cumulative;
      mass[bits] = rounded.probability(bits);
      cumulative += mass[bits];
    }
    const std::uint16_t negative_zero = 0x8000;  // in both 16-bit types
    below[negative_zero] = below[0];
    mass[negative_zero] = mass[0];
  }
};

// A tensor's samples on `grid` (found when the rule's tensors were grouped): its own 16-bit
// values, or float32/float64 values all on that grid, converted.
struct grid_samples {
  tensor_view view;
  tensor_buffer converted;

  grid_samples(const tensor_view& samples, dtype grid) : view(samples) {
    if (samples.type != grid) {
      converted = convert_to_grid(samples, grid);
      view = converted.view();
    }
  }
};

// Randomised PITs of a tensor on a grid, value by value: u_i = F(g_i-) + V_i P(g_i) with V_i
// from Philox at counter (i, stream).
void add_values(binned_fit& fit, const tensor_view& x, const grid_pit& pit, std::uint64_t stream,
                const philox4x32::key_type& key, int threads) {
  const auto* bytes = x.bytes.data();
  fit.add(x.size(), threads, [&](std::int64_t first, std::int64_t count, double* u) {
    for (std::int64_t i = 0; i < count; ++i) {
      std::uint16_t bits;
      std::memcpy(&bits, bytes + 2 * (first + i), 2);
      u[i] = pit.below[bits] +
             uniform_at(static_cast<std::uint64_t>(first + i), stream, key) * pit.mass[bits];
    }
  });
}

// PITs u = F(x) of continuous samples.
void add_values(binned_fit& fit, const tensor_view& samples, const any_law& law, int threads) {
  visit_dtype(samples.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto x = samples.elements<T>();
    fit.add(samples.size(), threads, [&](std::int64_t first, std::int64_t count, double* u) {
      for (std::int64_t i = 0; i < count; ++i)
        u[i] = to_double(x[static_cast<std::size_t>(first + i)]);
      law.cdf_batch(u, u, static_cast<std::size_t>(count));
    });
  });
}

// The grid tensors of a rule that share one rounded law (the run's cached one: the same law of
// the same spec, shape, layout and dtype).
struct grid_group {
  const rounded_law* law;
  std::int64_t values = 0;
  std::vector<std::size_t> members;  // case indices
};

// Adds a group's PITs. From its summed histogram when that is cheaper than value by value:
// binomial draws over the bins each atom spans (binned_fit::add_atoms) against Philox and a bin
// per value (a draw costs about as much as 16 values). The values one by one otherwise. One
// group's histogram and table at a time: a rule of many laws holds no more.
void add_group(binned_fit& fit, const grid_group& group, const run_request& request,
               const run_options& options, int threads) {
  const grid_pit pit(*group.law);
  const auto bins = static_cast<std::int64_t>(fit.counts.size());
  if (group.values >= 16 * bins) {
    std::vector<std::uint64_t> counts(65536);
    for (const std::size_t i : group.members) {
      const grid_samples samples(*request.cases[i].samples, group.law->type());
      const grid_histogram h = histogram_of(samples.view, threads);
      for (std::size_t b = 0; b < 65536; ++b) counts[b] += static_cast<std::uint64_t>(h.counts[b]);
    }
    std::vector<binned_fit::atom> atoms;  // a non-finite pattern's NaN u is left unranked
    for (std::size_t bits = 0; bits < 65536; ++bits)
      if (counts[bits] > 0) atoms.push_back({pit.below[bits], pit.mass[bits], counts[bits]});
    if (group.values >= 16 * (bins + static_cast<std::int64_t>(atoms.size()))) {
      // Its own stream: the per-value streams are derived_seed(seed, case) at counters (i, .).
      philox4x32 engine(options.seed, derived_seed(~options.seed, group.members.front()));
      fit.add_atoms(atoms, engine);
      return;
    }
  }
  const auto key = philox4x32::key_of(options.seed);
  for (const std::size_t i : group.members) {
    const grid_samples samples(*request.cases[i].samples, group.law->type());
    add_values(fit, samples.view, pit, derived_seed(options.seed, i), key, threads);
  }
}

}  // namespace

void add_pit_tests(std::vector<pooled_result>& pooled, const run_request& request,
                   const std::vector<case_result>& cases, const run_options& options,
                   rounded_laws& laws) {
  const int threads = std::max(1, options.threads);
  for (pooled_result& p : pooled) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < cases.size() && i < request.cases.size(); ++i) {
      const case_request& c = request.cases[i];
      if (cases[i].rule != p.rule || !c.samples ||
          std::find(p.tensors.begin(), p.tensors.end(), cases[i].tensor) == p.tensors.end())
        continue;
      if (theory_for(c.spec.scheme, c.spec.shape, c.spec.tensor_layout).kind ==
          expectation_kind::continuous)
        members.push_back(i);
    }
    if (members.size() < 2) continue;
    // Bins of ~4 values (2^12 to 2^20): D and A^2 bracketed finely (the p-values at the lower
    // end are conservative, A^2's the more so for coarser bins), without a pass over 2^20 bins
    // for a small pool.
    std::int64_t total = 0;
    for (const std::size_t i : members) total += request.cases[i].samples->size();
    const std::int64_t bins = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::bit_floor(static_cast<std::uint64_t>(total / 4 + 1))),
        std::int64_t{1} << 12, std::int64_t{1} << 20);
    binned_fit fit(bins);
    std::vector<grid_group> groups;
    for (const std::size_t i : members) {
      const case_request& c = request.cases[i];
      const expectation e = theory_for(c.spec.scheme, c.spec.shape, c.spec.tensor_layout);
      const tensor_view& x = *c.samples;
      const std::optional<dtype> grid = info(x.type).size == 2
                                            ? std::optional<dtype>(x.type)
                                            : coarser_grid_of(x, grid_detection_min_count, threads);
      if (!grid) {
        add_values(fit, x, *e.law, threads);
        continue;
      }
      const rounded_law* law = &laws.of(c.spec, *e.law, *grid);
      auto group = std::find_if(groups.begin(), groups.end(),
                                [&](const grid_group& g) { return g.law == law; });
      if (group == groups.end()) {
        groups.push_back({law, 0, {}});
        group = groups.end() - 1;
      }
      group->values += x.size();
      group->members.push_back(i);
    }
    for (const grid_group& group : groups) add_group(fit, group, request, options, threads);
    std::int64_t ranked = 0;
    for (const std::uint64_t count : fit.counts) ranked += static_cast<std::int64_t>(count);
    const fit_bracket bracket = fit.bracket();
    const std::string what = "the " + std::to_string(members.size()) +
                             " tensors' probability-integral transforms pooled (randomised on a "
                             "16-bit grid) against U(0, 1): ";
    std::vector<test_result> pit{binned_ks_test(bracket, total, total - ranked, bins),
                                 binned_anderson_darling_test(bracket, total - ranked)};
    for (test_result& t : pit) {
      t.name = "pooled_" + t.name;
      t.note = what + t.note;
      t.values.emplace_back("tensors", static_cast<double>(members.size()));
    }
    apply_tolerance(pit, p.tolerance);  // the z-tests have theirs from pool_by_rule
    for (auto& t : pit) p.tests.push_back(std::move(t));
  }
}

}  // namespace detail
}  // namespace verinit::verify
