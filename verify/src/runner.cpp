// The runner: sampling, the tests each expectation calls for, and the run's decision.
#include "verinit/verify/runner.hpp"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "buffer.hpp"
#include "seeds.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/fill.hpp"
#include "verinit/scheme.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/goodness_of_fit.hpp"
#include "verinit/verify/independence.hpp"
#include "verinit/verify/moments.hpp"
#include "verinit/verify/multiple_testing.hpp"
#include "verinit/verify/single_pass.hpp"
#include "verinit/verify/streaming.hpp"
#include "verinit/verify/structure.hpp"
#include "verinit/verify/support.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Seed of the k-th tensor of a case: the run's seed for the first (so `verinit sample --seed S`
// gives the same tensor), SplitMix64 of (seed + k) for the others.
std::uint64_t replicate_seed(std::uint64_t seed, std::int64_t k) {
  return k == 0 ? seed : detail::derived_seed(seed, static_cast<std::uint64_t>(k));
}

template <class T>
void continuous_tests(std::span<const T> x, const continuous_law& law,
                      std::vector<test_result>& out) {
  // The support, moment, extreme and autocorrelation tests from one pass over the samples.
  const single_pass_sums pass = single_pass(x, law);
  const auto n = static_cast<std::int64_t>(x.size());
  out.push_back(
      support_from_counts(pass.outside, pass.at_excluded, pass.non_finite, law, sizeof(T) == 4));
  {
    const fit_statistics fit = fit_statistics_of(x, law);
    out.push_back(ks_test(fit));
    out.push_back(anderson_darling_test(fit));
  }
  const law_moments m = moments_of(law);
  out.push_back(mean_test(pass.sums, m));
  out.push_back(variance_test(pass.sums, m));
  // Only for unbounded laws: on a bounded one the maximum sits within ~width/n of a bound,
  // where the sample type's grid is as coarse as the statistic's spread, so its p-value is
  // discrete (the large battery's two-level KS showed it); outliers beyond a bound are the
  // exact support check's.
  if (std::isinf(support_of(law).second))
    out.push_back(extreme_from_largest(pass.largest, n, law, sizeof(T) == 4));
  out.push_back(autocorrelation_from_sums(pass.lagged, pass.sums.s2, n));
  out.push_back(repeated_runs_test(x));
}

// Runs the expectation's tests on `tensors` consecutive tensors of `shape`; summarizes the
// samples against the law too if asked.
template <class T>
void run_tests(std::span<const T> w, std::span<const std::int64_t> shape, layout layout,
               const expectation& e, std::int64_t tensors, bool summaries, case_result& result) {
  auto& out = result.tests;
  const std::optional<summary_law> law = summary_law_for(e);
  switch (e.kind) {
    case expectation_kind::continuous:
      continuous_tests(w, *e.law, out);
      break;
    case expectation_kind::constant:
      out.push_back(constant_check(w, e.value));
      break;
    case expectation_kind::eye:
    case expectation_kind::dirac:
      out.push_back(identity_check(w, shape, layout, e));
      break;
    case expectation_kind::sparse: {
      std::vector<T> nonzeros;
      out.push_back(sparse_pattern_check(w, shape, layout, e, nonzeros));
      // sparsity = 1 leaves no non-zeros: the pattern check alone decides.
      if (!nonzeros.empty()) {
        continuous_tests(std::span<const T>(nonzeros), *e.law, out);
        if (summaries) result.summary = summarize(std::span<const T>(nonzeros), *law);
      }
      return;
    }
    case expectation_kind::orthogonal:
      out.push_back(gram_check(w, tensors, e.rows, e.cols, e.gain));
      if (tensors >= 20) {
        for (auto& t : haar_tests(w, tensors, e.rows, e.cols, e.gain)) out.push_back(t);
      } else {
        out.back().note += "; Haar tests need >= 20 independent matrices";
      }
      break;
  }
  if (summaries && law) {
    result.summary = summarize(w, *law);
    // Entries of one orthogonal matrix are dependent: no KS band for them.
    result.summary->independent = e.kind != expectation_kind::orthogonal;
  }
}

template <class T>
case_result run_case_typed(const case_spec& spec, const run_options& options,
                           std::int64_t first_seed_index = 0) {
  case_result result;
  result.spec = spec;
  const scheme s = parse_scheme(spec.scheme);
  result.canonical = s.spec();
  const expectation e = theory_for(s, spec.shape, spec.tensor_layout);
  result.formula = e.formula;
  const std::int64_t numel = element_count(spec.shape);
  const std::int64_t tensors = std::max<std::int64_t>(1, (spec.samples + numel - 1) / numel);
  fill_options fill;
  fill.layout = spec.tensor_layout;
  fill.threads = options.threads;
  const auto bytes = static_cast<double>(tensors) * static_cast<double>(numel) * sizeof(T);
  if (2 * bytes > static_cast<double>(options.memory_bytes)) {
    if (e.kind != expectation_kind::continuous)
      verinit::detail::throw_invalid(
          "verify", "samples", std::to_string(tensors * numel),
          "within the memory budget (" + std::to_string(options.memory_bytes) +
              " bytes, --memory) for a scheme that is not i.i.d.; use replications");
    // Streaming: pieces of whole tensors, a quarter of the budget each, in stream order.
    const auto law = summary_law_for(e);
    stream_accumulator stream(*e.law, tensors * numel);
    const std::int64_t per_piece = std::max<std::int64_t>(
        1, options.memory_bytes / 4 / static_cast<std::int64_t>(sizeof(T)) / numel);
    const auto piece = detail::allocate_buffer<T>(static_cast<std::size_t>(per_piece * numel));
    double sampling = 0;
    const auto test_start = clock_type::now();
    for (std::int64_t k = 0; k < tensors; k += per_piece) {
      const std::int64_t count = std::min(per_piece, tensors - k);
      const std::span<T> w(piece.get(), static_cast<std::size_t>(count * numel));
      const auto sample_start = clock_type::now();
      for (std::int64_t j = 0; j < count; ++j) {
        fill.seed = replicate_seed(options.seed, first_seed_index + k + j);
        verinit::fill(
            w.subspan(static_cast<std::size_t>(j * numel), static_cast<std::size_t>(numel)),
            spec.shape, s, fill);
      }
      sampling += seconds_since(sample_start);
      stream.add(std::span<const T>(w));
      if (options.summaries) {
        sample_summary part = summarize(std::span<const T>(w), *law);
        if (result.summary)
          merge_into(*result.summary, part);
        else
          result.summary = std::move(part);
      }
    }
    result.tests = stream.finish();
    result.n = tensors * numel;
    result.sample_seconds = sampling;
    result.test_seconds = seconds_since(test_start) - sampling;
    return result;
  }
  detail::buffer<T> buffer;
  try {
    // Uninitialized: fill writes every element.
    buffer = detail::allocate_buffer<T>(static_cast<std::size_t>(tensors * numel));
  } catch (const std::bad_alloc&) {
    verinit::detail::throw_invalid("verify", "samples", std::to_string(tensors * numel),
                                   "small enough to fit in memory");
  }
  const std::span<T> weights(buffer.get(), static_cast<std::size_t>(tensors * numel));
  const auto start = clock_type::now();
  for (std::int64_t k = 0; k < tensors; ++k) {
    fill.seed = replicate_seed(options.seed, first_seed_index + k);
    verinit::fill(
        weights.subspan(static_cast<std::size_t>(k * numel), static_cast<std::size_t>(numel)),
        spec.shape, s, fill);
  }
  result.sample_seconds = seconds_since(start);
  result.n = tensors * numel;
  const auto test_start = clock_type::now();
  run_tests(std::span<const T>(weights), spec.shape, spec.tensor_layout, e, tensors,
            options.summaries, result);
  result.test_seconds = seconds_since(test_start);
  return result;
}

template <class T>
case_result check_typed(std::span<const T> samples, std::span<const std::int64_t> shape,
                        layout layout, const std::string& scheme_spec, const std::string& source,
                        bool summaries) {
  case_result result;
  const scheme s = parse_scheme(scheme_spec);
  result.spec = {scheme_spec, tensor_shape(shape.begin(), shape.end()), layout,
                 sizeof(T) == 4 ? dtype::float32 : dtype::float64,
                 static_cast<std::int64_t>(samples.size())};
  result.canonical = s.spec();
  result.source = source;
  const expectation e = theory_for(s, shape, layout);
  result.formula = e.formula;
  const std::int64_t numel = element_count(shape);
  // For i.i.d. schemes the shape only fixes the fans; structured ones need whole tensors.
  if (e.kind != expectation_kind::continuous &&
      static_cast<std::int64_t>(samples.size()) % numel != 0)
    verinit::detail::throw_invalid(
        "verify", "sample count", std::to_string(samples.size()),
        "a multiple of the shape's element count " + std::to_string(numel));
  result.n = static_cast<std::int64_t>(samples.size());
  const auto start = clock_type::now();
  run_tests(samples, shape, layout, e, std::max<std::int64_t>(1, result.n / numel), summaries,
            result);
  result.test_seconds = seconds_since(start);
  return result;
}

// Two-level decision over replications (see case_spec::replications).
case_result combine_replications(std::vector<case_result> parts) {
  case_result combined = parts.front();
  combined.tests.clear();
  combined.n = 0;
  combined.sample_seconds = combined.test_seconds = 0;
  for (std::size_t r = 0; r < parts.size(); ++r) {
    const case_result& part = parts[r];
    combined.n += part.n;
    combined.sample_seconds += part.sample_seconds;
    combined.test_seconds += part.test_seconds;
    if (r > 0 && combined.summary && part.summary) merge_into(*combined.summary, *part.summary);
  }
  const std::size_t replications = parts.size();
  for (std::size_t t = 0; t < parts.front().tests.size(); ++t) {
    test_result merged = parts.front().tests[t];
    std::vector<double> p;
    double statistic_sum = 0, null_mean = 0;
    for (const auto& part : parts) {
      const test_result& r = part.tests[t];
      p.push_back(r.p_value);
      statistic_sum += r.statistic;
      merged.passed = merged.passed && r.passed;
      for (const auto& [key, value] : r.values)
        if (key == "null_mean_bound") null_mean += value;
    }
    if (merged.exact) {
      merged.statistic = statistic_sum;
      merged.p_value = merged.passed ? 1 : 0;
      merged.values.clear();
      merged.note = "summed over " + std::to_string(replications) + " replications: " + merged.note;
    } else if (merged.name == "repeated_runs") {  // discrete p-value: sum the Poisson counts
      merged.statistic = statistic_sum;
      merged.p_value = poisson_upper_tail(statistic_sum, null_mean);
      merged.values = {{"null_mean_bound", null_mean}};
      merged.note = "repeats summed over " + std::to_string(replications) + " replications";
    } else {
      std::sort(p.begin(), p.end());
      const test_result second_level = ks_test(p);
      merged.statistic = second_level.statistic;
      merged.p_value = second_level.p_value;
      merged.values = {{"min_p", p.front()}, {"replications", static_cast<double>(replications)}};
      merged.note = "two-level: KS of " + std::to_string(replications) + " p-values against U(0,1)";
    }
    combined.tests.push_back(merged);
  }
  return combined;
}

// The D with P(D_n >= D) = level, by bisection on the exact law (monotone in D).
double ks_critical_value(std::int64_t n, double level) {
  const kolmogorov_smirnov_distribution law(n);
  double low = 0, high = 1;
  for (int i = 0; i < 60; ++i) {
    const double mid = (low + high) / 2;
    (cdf(complement(law, mid)) > level ? low : high) = mid;
  }
  return high;
}

}  // namespace

dtype parse_dtype(std::string_view text) {
  if (text == "float32") return dtype::float32;
  if (text == "float64") return dtype::float64;
  verinit::detail::throw_invalid("verify", "dtype", "'" + std::string(text) + "'",
                                 "float32 or float64");
}

std::string_view to_string(dtype value) noexcept {
  return value == dtype::float32 ? "float32" : "float64";
}

std::vector<case_spec> battery(std::string_view name) {
  std::int64_t n = 0, matrices = 0;
  if (name == "smoke") {
    n = 1'000'000;
    matrices = 500;
  } else if (name == "standard") {
    n = 10'000'000;
    matrices = 2000;
  } else if (name == "large") {
    // 3.4 10^9 samples: three schemes of 10^9 each, verified streaming beyond the default
    // memory budget (bracketed KS and A^2, streaming.hpp), and two as 20 replications of 10^7
    // in memory decided by two-level tests (each test's 20 p-values against U(0, 1)).
    const auto torch = layout::torch;
    return {
        {"he_normal", {256, 512}, torch, dtype::float32, 1'000'000'000},
        {"xavier_uniform", {256, 512}, torch, dtype::float32, 1'000'000'000},
        {"variance_scaling", {3, 3, 64, 128}, layout::keras, dtype::float32, 1'000'000'000},
        {"truncated_normal(mean=0.2,std=0.5,a=0.5,b=3)",
         {1000, 1000},
         torch,
         dtype::float64,
         10'000'000,
         20},
        {"kaiming_uniform(a=0.2)", {64, 32, 3, 3}, torch, dtype::float32, 10'000'000, 20},
    };
  } else {
    verinit::detail::throw_invalid("verify", "battery", "'" + std::string(name) + "'",
                                   "smoke, standard or large");
  }
  const auto torch = layout::torch;
  const auto keras = layout::keras;
  const auto f32 = dtype::float32;
  const auto f64 = dtype::float64;
  const tensor_shape conv_torch{64, 32, 3, 3}, conv_keras{3, 3, 32, 64};
  return {
      {"zeros", conv_torch, torch, f32, 0},
      {"ones", conv_keras, keras, f64, 0},
      {"constant(value=0.3)", {256, 512}, torch, f32, 0},
      {"eye", {300, 200}, torch, f32, 0},
      {"dirac(groups=2)", conv_torch, torch, f32, 0},
      {"dirac", conv_keras, keras, f64, 0},
      {"sparse(sparsity=0.1)", {1000, 500}, torch, f32, n},
      {"sparse(sparsity=0.25,std=0.5)", {200, 300}, keras, f64, n / 4},
      {"uniform(a=-0.3,b=0.3)", {1000, 1000}, torch, f32, n},
      {"normal(mean=0.5,std=2)", {1000, 1000}, torch, f64, n},
      {"truncated_normal", {1000, 1000}, torch, f32, n},
      {"truncated_normal(mean=0.2,std=0.5,a=0.5,b=3)", {1000, 1000}, torch, f64, n},
      {"xavier_uniform", {256, 512}, torch, f32, n},
      {"glorot_normal(gain=1.5)", {3, 3, 64, 128}, keras, f64, n},
      {"kaiming_uniform", conv_torch, torch, f32, n},
      {"kaiming_normal(mode=fan_out,nonlinearity=relu)", {512, 256}, torch, f32, n},
      {"kaiming_normal(a=0.2)", conv_keras, keras, f32, n},
      {"he_uniform", {1024, 512}, keras, f32, n},
      {"he_normal", {256, 512}, torch, f64, n},
      {"lecun_uniform", {64, 32, 5, 5}, torch, f32, n},
      {"lecun_normal", {512, 1024}, keras, f32, n},
      {"torch_linear", {10, 400}, torch, f32, n},
      {"variance_scaling", {3, 3, 64, 128}, keras, f32, n},
      {"variance_scaling(mode=fan_avg,distribution=uniform)", {300, 100}, torch, f64, n},
      {"variance_scaling(scale=2,mode=fan_out,distribution=normal)", {128, 64, 3}, torch, f32, n},
      {"orthogonal", {64, 64}, torch, f32, matrices * 64 * 64},
      {"orthogonal(gain=2)", {16, 8, 3, 3}, torch, f64, matrices * 16 * 72},
      {"orthogonal", {3, 3, 8, 24}, keras, f32, matrices * 72 * 24},
  };
}

bool battery_includes_propagation(std::string_view name) noexcept { return name == "standard"; }

case_result run_case(const case_spec& spec, const run_options& options) {
  if (spec.replications < 1)
    verinit::detail::throw_invalid("verify", "replications", std::to_string(spec.replications),
                                   ">= 1");
  const std::int64_t numel = element_count(spec.shape);
  const std::int64_t tensors = std::max<std::int64_t>(1, (spec.samples + numel - 1) / numel);
  std::vector<case_result> parts;
  for (std::int64_t r = 0; r < spec.replications; ++r) {
    const std::int64_t first = r * tensors;
    parts.push_back(spec.type == dtype::float32 ? run_case_typed<float>(spec, options, first)
                                                : run_case_typed<double>(spec, options, first));
  }
  return parts.size() == 1 ? parts.front() : combine_replications(std::move(parts));
}

case_result check_samples(std::span<const float> samples, std::span<const std::int64_t> shape,
                          layout layout, const std::string& scheme_spec, const std::string& source,
                          bool summarize) {
  return check_typed(samples, shape, layout, scheme_spec, source, summarize);
}
case_result check_samples(std::span<const double> samples, std::span<const std::int64_t> shape,
                          layout layout, const std::string& scheme_spec, const std::string& source,
                          bool summarize) {
  return check_typed(samples, shape, layout, scheme_spec, source, summarize);
}

void decide(run_result& run) {
  std::vector<test_result*> all;
  for (auto& c : run.cases)
    for (auto& t : c.tests) all.push_back(&t);
  run.family_size = holm_bonferroni(all, run.options.alpha);
  // Power: a two-sided z-test at the most stringent Holm level alpha/m has 99% power against
  // an effect of (z_{1 - alpha/(2m)} + z_{0.99}) standard errors.
  const boost::math::normal_distribution<> standard;
  const double m = static_cast<double>(std::max<std::size_t>(1, run.family_size));
  const double effect =
      boost::math::quantile(boost::math::complement(standard, run.options.alpha / (2 * m))) +
      boost::math::quantile(standard, 0.99);
  // The KS band of a summary: the D at which the KS test is rejected at Holm's first step
  // alpha/m whatever the other p-values (outside it the verdict is FAIL for sure).
  const double band_level = run.options.alpha / m;
  run.passed = !run.propagation || run.propagation->passed;
  for (auto& c : run.cases) {
    if (c.summary && c.summary->independent && c.summary->n() > 0)
      c.summary->ks_critical = ks_critical_value(c.summary->n(), band_level);
    c.passed =
        std::all_of(c.tests.begin(), c.tests.end(), [](const test_result& t) { return t.passed; });
    run.passed = run.passed && c.passed;
    // The statement is for the one-level variance z-test; two-level runs carry no kurtosis.
    for (const auto& t : c.tests) {
      if (t.name != "variance") continue;
      double kurtosis = NAN, n = NAN;  // n: what the test saw (sparse: the non-zeros)
      for (const auto& [key, value] : t.values) {
        if (key == "kurtosis") kurtosis = value;
        if (key == "n") n = value;
      }
      if (std::isnan(kurtosis) || std::isnan(n)) continue;
      c.detectable_variance_error = effect * std::sqrt((kurtosis - 1) / n);
      c.detectable_mean_shift = effect / std::sqrt(n);
    }
  }
}

}  // namespace verinit::verify
