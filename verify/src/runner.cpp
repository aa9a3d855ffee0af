// The runner: a request's cases sampled or read, the tests each expectation calls for, the
// run's decision.
#include "verinit/verify/runner.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <boost/math/distributions/normal.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "buffer.hpp"
#include "pooled.hpp"
#include "rounded_laws.hpp"
#include "runner_parts.hpp"
#include "seeds.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/fill.hpp"
#include "verinit/verify/detail/p_values.hpp"
#include "verinit/verify/diagnosis.hpp"
#include "verinit/verify/digest.hpp"
#include "verinit/verify/distributions/kolmogorov_smirnov.hpp"
#include "verinit/verify/goodness_of_fit.hpp"
#include "verinit/verify/grid_tests.hpp"
#include "verinit/verify/iid_tests.hpp"
#include "verinit/verify/multiple_testing.hpp"
#include "verinit/verify/stream_state.hpp"
#include "verinit/verify/structure.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify {
namespace {

using clock_type = std::chrono::steady_clock;
using verinit::detail::throw_invalid;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Cases of given samples up to this size run side by side, one thread each (run).
constexpr std::int64_t side_by_side_up_to = std::int64_t{1} << 20;

// Given samples fewer than this are not compared by digest (check_case).
constexpr std::int64_t min_distinct_samples = 64;

// More threads than this is a typo, not a machine.
constexpr int max_threads = 4096;

int resolve_threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

// Seed of the k-th tensor of a case: the run's seed for the first (so `verinit sample --seed S`
// gives the same tensor), SplitMix64 of (seed + k) for the others.
std::uint64_t replicate_seed(std::uint64_t seed, std::int64_t k) {
  return k == 0 ? seed : detail::derived_seed(seed, static_cast<std::uint64_t>(k));
}

// 16-bit samples of i.i.d. schemes are judged against the law rounded to their grid
// (grid_tests.hpp), in memory or streamed (grid_stream); constants, eye and dirac exactly
// against their values rounded to the dtype; orthogonal matrices by the Gram check with the
// rounding's bound and the Haar tests on the rounded entry law; sparse tensors by their zero
// pattern (allowing non-zeros that round to 0) and their non-zeros against the rounded law
// conditioned on != 0 (structure.cpp).
bool on_grid(dtype type) { return info(type).size == 2; }

// The i.i.d. tests of samples held in memory: the exact KS/A^2 (first: its working copy of
// the samples is freed before the state's window hashes are kept) and one stream state.
std::vector<test_result> iid_tests_in_memory(const tensor_view& x, const any_law& law,
                                             const sample_grouping& grouping, int threads) {
  const fit_statistics fit = fit_statistics_of(x, law, threads);
  stream_state state({law, x.type, grouping}, {});
  state.add(x, threads);
  return run_iid_tests({state, &fit, threads});
}

// Runs the expectation's tests on `tensors` consecutive tensors of `shape`; summarizes the
// samples against the law too if asked.
void run_tests(const tensor_view& w, const case_spec& spec, const expectation& e,
               std::int64_t tensors, bool summaries, int threads, detail::rounded_laws& laws,
               case_result& result) {
  const std::span<const std::int64_t> shape = spec.shape;
  const layout layout = spec.tensor_layout;
  auto& out = result.tests;
  const std::optional<any_law> law = summary_law_for(e);
  switch (e.kind) {
    case expectation_kind::continuous:
      if (on_grid(w.type)) {
        const rounded_law& rounded = laws.of(spec, *e.law, w.type);
        out = grid_tests(w, rounded, threads);
        if (summaries) result.summary = summarize_grid(rounded, histogram_of(w, threads));
        return;
      }
      out = iid_tests_in_memory(w, *e.law, sample_grouping::of(shape, layout), threads);
      break;
    case expectation_kind::constant:
      out.push_back(constant_check(w, e.value));
      break;
    case expectation_kind::eye:
    case expectation_kind::dirac:
      out.push_back(identity_check(w, shape, layout, e));
      break;
    case expectation_kind::sparse: {
      tensor_buffer nonzeros;
      out.push_back(sparse_pattern_check(w, shape, layout, e, nonzeros));
      // sparsity = 1 leaves no non-zeros: the pattern check alone decides. The non-zeros,
      // unit by unit, are grouped in blocks of consecutive values.
      if (nonzeros.bytes.empty()) return;
      if (on_grid(w.type)) {  // the non-zeros' law: the rounded law conditioned on != 0
        const rounded_law rounded = laws.of(spec, *e.law, w.type).without_zero();
        for (auto& t : grid_tests(nonzeros.view(), rounded, threads)) out.push_back(std::move(t));
        if (summaries)
          result.summary = summarize_grid(rounded, histogram_of(nonzeros.view(), threads));
        return;
      }
      for (auto& t :
           iid_tests_in_memory(nonzeros.view(), *e.law,
                               sample_grouping::of(nonzeros.shape, layout::torch), threads))
        out.push_back(std::move(t));
      if (summaries) result.summary = summarize(nonzeros.view(), *law, threads);
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
    result.summary = summarize(w, *law, threads);
    // Entries of one orthogonal matrix are dependent: no KS band for them.
    result.summary->independent = e.kind != expectation_kind::orthogonal;
  }
}

// Uninitialized room for `count` elements of `type` (huge pages from 512 KiB): every element
// is written by the fill before it is read.
struct sample_buffer {
  dtype type;
  detail::buffer<std::byte> bytes;
  sample_buffer(dtype element_type, std::int64_t count) : type(element_type) {
    try {
      bytes = detail::allocate_buffer<std::byte>(static_cast<std::size_t>(count) * info(type).size);
    } catch (const std::bad_alloc&) {
      throw_invalid("verify", "samples", std::to_string(count), "small enough to fit in memory");
    }
  }
  /// The first `count` elements.
  mutable_tensor_view view(std::int64_t count) const {
    return {type,
            {count},
            std::span<std::byte>(bytes.get(), static_cast<std::size_t>(count) * info(type).size)};
  }
};

// Fills w with whole tensors of spec, the k-th with the seed of index first + k.
void sample_tensors(const mutable_tensor_view& w, const case_spec& spec, std::int64_t first,
                    std::uint64_t seed, int threads) {
  const std::int64_t numel = element_count(spec.shape);
  const std::size_t element = info(w.type).size;
  fill_options fill;
  fill.layout = spec.tensor_layout;
  fill.threads = threads;
  for (std::int64_t k = 0; k < w.size() / numel; ++k) {
    fill.seed = replicate_seed(seed, first + k);
    verinit::fill(mutable_tensor_view{w.type, spec.shape,
                                      w.bytes.subspan(static_cast<std::size_t>(k * numel) * element,
                                                      static_cast<std::size_t>(numel) * element)},
                  spec.scheme, fill);
  }
}

}  // namespace

namespace detail {

stream_share reduce_pieces(const case_request& request, const case_work& work, std::int64_t first,
                           std::int64_t begin, std::int64_t end, rounded_laws& laws) {
  const case_spec& spec = request.spec;
  const run_options& options = work.options;
  const int threads = options.threads;
  const std::int64_t numel = element_count(spec.shape);
  const expectation& e = work.e;
  stream_share share;
  // Pieces of whole tensors, a quarter of the budget each, in stream order.
  const sample_buffer piece(spec.type, std::min(work.per_piece, work.tensors) * numel);
  std::optional<grid_stream> grid;  // for the piece records (the grid's law is built once)
  std::optional<any_law> law;
  if (on_grid(spec.type)) {
    grid.emplace(laws.of(spec, *e.law, spec.type));
    share.counts.emplace();
  } else {
    share.state.emplace(
        iid_context{*e.law, spec.type, sample_grouping::of(spec.shape, spec.tensor_layout)},
        stream_state::options{std::int64_t{1} << 20,
                              stream_state::window_bits_for(work.tensors * numel)});
    if (options.summaries) law = summary_law_for(e);
  }
  const auto start = clock_type::now();
  for (std::int64_t p = begin; p < end; ++p) {
    const std::int64_t k = p * work.per_piece;
    const mutable_tensor_view w = piece.view(std::min(work.per_piece, work.tensors - k) * numel);
    const auto sample_start = clock_type::now();
    sample_tensors(w, spec, first + k, options.seed, threads);
    share.sample_seconds += seconds_since(sample_start);
    if (grid) {  // the grid's tests read a histogram and a lag-1 sum
      const grid_histogram h = histogram_of(w, threads);
      for (std::size_t b = 0; b < 65536; ++b) share.counts->counts[b] += h.counts[b];
      share.counts->n += h.n;
      share.records.push_back(grid->record(w, threads));
      continue;
    }
    share.state->add(w, threads);
    if (options.summaries) {
      sample_summary part = summarize(w, *law, threads);
      share.summary_sums.push_back({part.sums.n, part.sums.s1, part.sums.s2, part.sums.s3,
                                    part.sums.s4, part.expected_distinct});
      if (share.summary)
        merge_into(*share.summary, part);
      else
        share.summary = std::move(part);
    }
  }
  share.test_seconds = seconds_since(start) - share.sample_seconds;
  return share;
}

case_result finish_stream(const case_request& request, const case_work& work,
                          std::span<const stream_share> shares, rounded_laws& laws) {
  const case_spec& spec = request.spec;
  case_result result;
  result.spec = spec;
  result.formula = work.e.formula;
  result.n = work.tensors * element_count(spec.shape);
  const auto start = clock_type::now();
  for (const stream_share& s : shares) {
    result.sample_seconds += s.sample_seconds;
    result.test_seconds += s.test_seconds;
  }
  const int threads = work.options.threads;
  if (on_grid(spec.type)) {
    grid_stream stream(laws.of(spec, *work.e.law, spec.type));
    for (const stream_share& s : shares) {
      stream.add_counts(*s.counts);
      for (const auto& r : s.records) stream.append(r);
    }
    result.tests = stream.tests();
    if (work.options.summaries) result.summary = summarize_grid(stream.law(), stream.histogram());
  } else {
    stream_state state = *shares.front().state;
    for (const stream_share& s : shares.subspan(1)) state += *s.state;
    result.tests = run_iid_tests({state, nullptr, threads});
    // The counts merged in any grouping; the sums added again piece by piece, in stream order.
    std::array<double, 6> total{};
    bool first = true;
    for (const stream_share& s : shares) {
      if (!s.summary) continue;
      if (result.summary)
        merge_into(*result.summary, *s.summary);
      else
        result.summary = *s.summary;
      for (const auto& piece : s.summary_sums) {
        for (std::size_t k = 0; k < total.size(); ++k)
          total[k] = first ? piece[k] : total[k] + piece[k];
        first = false;
      }
    }
    if (result.summary) {
      result.summary->sums = {total[0], total[1], total[2], total[3], total[4]};
      result.summary->expected_distinct = total[5];
    }
  }
  result.test_seconds += seconds_since(start);
  return result;
}

}  // namespace detail

namespace {

using detail::case_work;

// One replication of a sampled case: its tensors from seed index `first`.
case_result sample_case(const case_request& request, const case_work& work, std::int64_t first,
                        detail::rounded_laws& laws) {
  if (work.streamed()) {
    const detail::stream_share share =
        detail::reduce_pieces(request, work, first, 0, work.pieces(), laws);
    return detail::finish_stream(request, work, std::span(&share, 1), laws);
  }
  const case_spec& spec = request.spec;
  const run_options& options = work.options;
  case_result result;
  result.spec = spec;
  result.formula = work.e.formula;
  const std::int64_t numel = element_count(spec.shape);
  result.n = work.tensors * numel;
  const sample_buffer buffer(spec.type, work.tensors * numel);
  const mutable_tensor_view weights = buffer.view(work.tensors * numel);
  const auto start = clock_type::now();
  sample_tensors(weights, spec, first, options.seed, options.threads);
  result.sample_seconds = seconds_since(start);
  const auto test_start = clock_type::now();
  run_tests(weights, spec, work.e, work.tensors, options.summaries, options.threads, laws, result);
  result.test_seconds = seconds_since(test_start);
  return result;
}

// Samples made by anything else.
case_result check_case(const case_request& request, const expectation& e,
                       const run_options& options, detail::rounded_laws& laws) {
  const tensor_view& samples = *request.samples;
  case_result result;
  result.spec = request.spec;
  result.spec.type = samples.type;
  result.spec.samples = samples.size();
  result.source = request.source;
  result.formula = e.formula;
  result.n = samples.size();
  const std::int64_t numel = element_count(request.spec.shape);
  const auto start = clock_type::now();
  // float32/float64 values all on a 16-bit grid (weights rounded to bfloat16, then .float()):
  // their law is the rounded one.
  std::optional<dtype> grid;
  tensor_buffer converted;
  tensor_view tested{samples.type, {samples.size()}, samples.bytes};
  if (e.kind == expectation_kind::continuous)
    grid = coarser_grid_of(tested, grid_detection_min_count, options.threads);
  if (grid) {
    converted = convert_to_grid(tested, *grid);
    tested = converted.view();
  }
  run_tests(tested, request.spec, e, std::max<std::int64_t>(1, result.n / numel), options.summaries,
            options.threads, laws, result);
  if (grid && !result.tests.empty())
    result.tests.front().note += "; every value is a " + std::string(to_string(*grid)) +
                                 " value: tested against the law rounded to " +
                                 std::string(to_string(*grid));
  // Two independent draws of an i.i.d. law are bitwise equal with probability at most
  // (max_x P(x))^n: below 2^-500 at n >= 64 for a continuous law, and for one on a 16-bit grid
  // (its largest atom is below 2^-8) unless that law has an atom of mass > 1/2.
  if (e.kind == expectation_kind::continuous && samples.size() >= min_distinct_samples)
    result.digest = content_digest(samples.bytes, options.threads);
  result.test_seconds = seconds_since(start);
  return result;
}

// Tensors of i.i.d. laws whose bytes are equal (by digest, size and dtype) were not drawn
// independently: each fails an exact "distinct" check naming the others (tied tensors are one
// case: they are not among them).
void check_distinct(std::vector<case_result>& cases) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < cases.size(); ++i)
    if (cases[i].digest != 0) order.push_back(i);
  const auto key = [&](std::size_t i) {
    return std::tuple(cases[i].digest, cases[i].n, static_cast<int>(cases[i].spec.type));
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  for (std::size_t at = 0; at < order.size();) {
    std::size_t end = at + 1;
    while (end < order.size() && key(order[end]) == key(order[at])) ++end;
    if (end - at > 1) {
      std::vector<std::size_t> group(order.begin() + static_cast<std::ptrdiff_t>(at),
                                     order.begin() + static_cast<std::ptrdiff_t>(end));
      std::sort(group.begin(), group.end());
      for (const std::size_t i : group) {
        std::string others;
        for (const std::size_t j : group)
          if (j != i)
            others += (others.empty() ? "'" : ", '") +
                      (cases[j].tensor.empty() ? cases[j].spec.spelling : cases[j].tensor) + "'";
        test_result t;
        t.name = "distinct";
        t.exact = true;
        t.passed = false;
        t.p_value = 0;
        t.statistic = static_cast<double>(group.size());
        t.note = "the same bytes as " + others +
                 ": not independent draws (one random stream reused, or a tensor copied)";
        cases[i].tests.push_back(std::move(t));
      }
    }
    at = end;
  }
}

// Two-level decision over replications (see case_spec::replications).
case_result combine(std::vector<case_result> parts) {
  case_result combined = parts.front();
  combined.n = 0;
  combined.sample_seconds = combined.test_seconds = 0;
  std::vector<std::vector<test_result>> tests;
  for (std::size_t r = 0; r < parts.size(); ++r) {
    const case_result& part = parts[r];
    combined.n += part.n;
    combined.sample_seconds += part.sample_seconds;
    combined.test_seconds += part.test_seconds;
    if (r > 0 && combined.summary && part.summary) merge_into(*combined.summary, *part.summary);
    tests.push_back(part.tests);
  }
  combined.tests = combine_replications(tests);
  return combined;
}

// What can be checked before any work: the options, the scheme on its shape, the samples.
expectation prepare(const case_request& request, const run_options& options) {
  const case_spec& spec = request.spec;
  if (spec.replications < 1)
    throw_invalid("verify", "replications", std::to_string(spec.replications), ">= 1");
  if (spec.samples < 0) throw_invalid("verify", "samples", std::to_string(spec.samples), ">= 0");
  const std::int64_t numel = element_count(spec.shape);
  expectation e = theory_for(spec.scheme, spec.shape, spec.tensor_layout);
  if (request.samples) {
    if (request.samples->size() < 1) throw_invalid("verify", "sample count", "0", ">= 1");
    // For i.i.d. schemes the shape only fixes the fans; structured ones need whole tensors.
    if (e.kind != expectation_kind::continuous && request.samples->size() % numel != 0)
      throw_invalid("verify", "sample count", std::to_string(request.samples->size()),
                    "a multiple of the shape's element count " + std::to_string(numel));
  } else {
    const std::int64_t tensors = std::max<std::int64_t>(1, (spec.samples + numel - 1) / numel);
    const double bytes =
        static_cast<double>(tensors) * static_cast<double>(numel) * info(spec.type).size;
    if (e.kind != expectation_kind::continuous &&
        2 * bytes > static_cast<double>(options.memory_bytes))
      throw_invalid("verify", "samples", std::to_string(tensors * numel),
                    "within the memory budget (" + std::to_string(options.memory_bytes) +
                        " bytes, --memory) for a scheme that is not i.i.d.; use replications");
  }
  return e;
}

}  // namespace

case_spec case_spec::of(std::string_view spec, tensor_shape shape, layout tensor_layout, dtype type,
                        std::int64_t samples, std::int64_t replications) {
  return {parse_scheme(spec), std::string(spec), std::move(shape), tensor_layout, type, samples,
          replications};
}

std::vector<case_spec> battery(std::string_view name) {
  const auto of = [](std::string_view spec, tensor_shape shape, layout l, dtype type,
                     std::int64_t samples, std::int64_t replications = 1) {
    return case_spec::of(spec, std::move(shape), l, type, samples, replications);
  };
  std::int64_t n = 0, matrices = 0;
  if (name == "smoke") {
    n = 1'000'000;
    matrices = 500;
  } else if (name == "standard") {
    n = 10'000'000;
    matrices = 2000;
  } else if (name == "large") {
    // 3.4 10^9 samples: three schemes of 10^9 each, verified streaming beyond the default
    // memory budget (bracketed KS and A^2, stream_state.hpp), and two as 20 replications of 10^7
    // in memory decided by two-level tests (each test's 20 p-values against U(0, 1)).
    const auto torch = layout::torch;
    return {
        of("he_normal", {256, 512}, torch, dtype::float32, 1'000'000'000),
        of("xavier_uniform", {256, 512}, torch, dtype::float32, 1'000'000'000),
        of("variance_scaling", {3, 3, 64, 128}, layout::keras, dtype::float32, 1'000'000'000),
        of("truncated_normal(mean=0.2,std=0.5,a=0.5,b=3)", {1000, 1000}, torch, dtype::float64,
           10'000'000, 20),
        of("kaiming_uniform(a=0.2)", {64, 32, 3, 3}, torch, dtype::float32, 10'000'000, 20),
    };
  } else {
    verinit::detail::throw_invalid("verify", "battery", "'" + std::string(name) + "'",
                                   "smoke, standard or large");
  }
  const auto torch = layout::torch;
  const auto keras = layout::keras;
  const auto f32 = dtype::float32;
  const auto f64 = dtype::float64;
  const auto bf16 = dtype::bfloat16;
  const auto f16 = dtype::float16;
  const tensor_shape conv_torch{64, 32, 3, 3}, conv_keras{3, 3, 32, 64};
  return {
      of("zeros", conv_torch, torch, f32, 0),
      of("ones", conv_keras, keras, f64, 0),
      of("constant(value=0.3)", {256, 512}, torch, f32, 0),
      of("eye", {300, 200}, torch, f32, 0),
      of("dirac(groups=2)", conv_torch, torch, f32, 0),
      of("dirac", conv_keras, keras, f64, 0),
      of("sparse(sparsity=0.1)", {1000, 500}, torch, f32, n),
      of("sparse(sparsity=0.25,std=0.5)", {200, 300}, keras, f64, n / 4),
      of("uniform(a=-0.3,b=0.3)", {1000, 1000}, torch, f32, n),
      of("normal(mean=0.5,std=2)", {1000, 1000}, torch, f64, n),
      of("truncated_normal", {1000, 1000}, torch, f32, n),
      of("truncated_normal(mean=0.2,std=0.5,a=0.5,b=3)", {1000, 1000}, torch, f64, n),
      of("xavier_uniform", {256, 512}, torch, f32, n),
      of("glorot_normal(gain=1.5)", {3, 3, 64, 128}, keras, f64, n),
      of("kaiming_uniform", conv_torch, torch, f32, n),
      of("kaiming_normal(mode=fan_out,nonlinearity=relu)", {512, 256}, torch, f32, n),
      of("kaiming_normal(a=0.2)", conv_keras, keras, f32, n),
      of("he_uniform", {1024, 512}, keras, f32, n),
      of("he_normal", {256, 512}, torch, f64, n),
      of("lecun_uniform", {64, 32, 5, 5}, torch, f32, n),
      of("lecun_normal", {512, 1024}, keras, f32, n),
      of("torch_linear", {10, 400}, torch, f32, n),
      of("variance_scaling", {3, 3, 64, 128}, keras, f32, n),
      of("variance_scaling(mode=fan_avg,distribution=uniform)", {300, 100}, torch, f64, n),
      of("variance_scaling(scale=2,mode=fan_out,distribution=normal)", {128, 64, 3}, torch, f32, n),
      of("orthogonal", {64, 64}, torch, f32, matrices * 64 * 64),
      of("orthogonal(gain=2)", {16, 8, 3, 3}, torch, f64, matrices * 16 * 72),
      of("orthogonal", {3, 3, 8, 24}, keras, f32, matrices * 72 * 24),
      // 16-bit weights, against the law rounded to their grid (grid_tests.hpp).
      of("he_normal", {256, 512}, torch, bf16, n),
      of("truncated_normal(std=0.02)", {768, 3072}, torch, bf16, n),
      of("xavier_uniform", {256, 512}, torch, f16, n),
      of("kaiming_uniform(a=2.23606797749979)", conv_torch, torch, f16, n),
  };
}

bool battery_includes_propagation(std::string_view name) noexcept { return name == "standard"; }

run_request battery_request(std::string_view name, const run_options& options) {
  run_request request;
  request.options = options;
  for (auto& spec : battery(name))
    request.cases.push_back({std::move(spec), std::nullopt, "verinit"});
  if (battery_includes_propagation(name)) request.propagation = propagation_options{};
  return request;
}

namespace detail {
std::size_t pool_bound(const run_options& options) noexcept {
  return static_cast<std::size_t>(
      std::clamp<std::int64_t>(options.memory_bytes / 4, 0, std::int64_t{256} << 20));
}
}  // namespace detail

void check_options(const run_options& options) {
  if (!(options.alpha > 0 && options.alpha < 1))
    throw_invalid("verify", "alpha", verinit::detail::format_number(options.alpha), "in (0, 1)");
  if (options.threads < 0 || options.threads > max_threads)
    throw_invalid("verify", "threads", std::to_string(options.threads),
                  "in [0, " + std::to_string(max_threads) + "] (0: all)");
  if (options.memory_bytes < (std::int64_t{1} << 20))
    throw_invalid("verify", "memory", std::to_string(options.memory_bytes), ">= 1 MiB (1048576)");
}

namespace {

// Checks a case and plans its work (detail::case_work).
case_work plan_case(const case_request& request, const run_options& resolved) {
  check_tolerance(request.tolerance, "case '" + request.spec.spelling + "'");
  if (request.tolerance.any() && !request.samples && request.spec.replications > 1)
    throw std::invalid_argument("case '" + request.spec.spelling +
                                "': a tolerance needs one replication, but it has " +
                                std::to_string(request.spec.replications));
  case_work work;
  work.options = resolved;
  if (!request.parts.empty()) {  // held in parts, reduced where they live (distributed.hpp)
    work.e = theory_for(request.spec.scheme, request.spec.shape, request.spec.tensor_layout);
    for (const tensor_part& p : request.parts)
      work.bytes += static_cast<double>(p.n) * static_cast<double>(info(request.spec.type).size);
    return work;
  }
  work.e = prepare(request, resolved);
  // A small case runs on fewer threads: a parallel region costs microseconds to start, more than
  // a few thousand values take (the results never depend on the count). 768 values: 62 us on
  // 2 threads, 46 us on 1, measured through the Python package.
  const case_spec& spec = request.spec;
  const std::int64_t values =
      request.samples ? request.samples->size() : std::max(spec.samples, element_count(spec.shape));
  work.options.threads =
      static_cast<int>(std::clamp<std::int64_t>(values / 16384, 1, std::max(1, resolved.threads)));
  const std::int64_t numel = element_count(spec.shape);
  const auto element = static_cast<std::int64_t>(info(spec.type).size);
  if (request.samples) {
    work.bytes = static_cast<double>(request.samples->bytes.size());
    return work;
  }
  work.tensors = std::max<std::int64_t>(1, (spec.samples + numel - 1) / numel);
  const double bytes =
      static_cast<double>(work.tensors) * static_cast<double>(numel) * static_cast<double>(element);
  work.bytes = bytes * static_cast<double>(spec.replications);
  // Beyond the budget (prepare() let only i.i.d. schemes through): streamed in pieces of whole
  // tensors, a quarter of the budget each.
  if (2 * bytes > static_cast<double>(resolved.memory_bytes))
    work.per_piece = std::max<std::int64_t>(1, resolved.memory_bytes / 4 / element / numel);
  return work;
}

}  // namespace

namespace detail {

// What a case's result takes from its request, and its tolerance applied.
void complete_case(case_result& result, const case_request& request) {
  result.tensor = request.tensor;
  result.rule = request.rule;
  result.origin = request.origin;
  if (request.samples && request.samples->shape != request.spec.shape)
    result.samples_shape = request.samples->shape;
  result.tolerance = request.tolerance;
  apply_tolerance(result.tests, request.tolerance);
}

run_result begin_run(const run_request& request) {
  check_options(request.options);
  run_result run;
  run.options = request.options;
  run.threads_used = resolve_threads(request.options.threads);
  run.unmatched = request.unmatched;
  run.skipped = request.skipped;
  run.tied = request.tied;
  run.notes = request.notes;
  return run;
}

std::vector<case_work> plan_cases(const run_request& request, const run_options& resolved) {
  std::vector<case_work> work;
  for (const auto& c : request.cases) {
    try {
      work.push_back(plan_case(c, resolved));
    } catch (const std::invalid_argument& error) {
      if (c.tensor.empty()) throw;
      throw std::invalid_argument("tensor '" + c.tensor + "' (rule '" + c.rule + "', " +
                                  c.spec.spelling + " on [" + verinit::to_string(c.spec.shape) +
                                  "]): " + error.what());
    }
  }
  return work;
}

case_result run_case(const case_request& request, const case_work& work, rounded_laws& laws) {
  if (!request.parts.empty()) return verify_parts(request, work, laws);
  case_result result;
  if (request.samples) {
    result = check_case(request, work.e, work.options, laws);
  } else {
    std::vector<case_result> parts;
    for (std::int64_t r = 0; r < request.spec.replications; ++r)
      parts.push_back(sample_case(request, work, r * work.tensors, laws));
    result = parts.size() == 1 ? std::move(parts.front()) : combine(std::move(parts));
  }
  complete_case(result, request);
  return result;
}

void finish_run(run_result& run, const run_request& request, rounded_laws& laws) {
  run_options resolved = request.options;
  resolved.threads = run.threads_used;
  if (request.propagation) {
    if (request.progress)
      request.progress(request.cases.size(), request.cases.size() + 1, "signal propagation");
    propagation_options propagation = *request.propagation;
    propagation.seed = resolved.seed;
    propagation.threads = resolved.threads;
    run.propagation = propagate(standard_propagation_configs(), propagation);
  }
  check_distinct(run.cases);
  run.pooled = pool_by_rule(run.cases);
  add_pit_tests(run.pooled, request, run.cases, resolved, laws);
  decide(run);
}

}  // namespace detail

case_result run_case(const case_request& request, const run_options& options) {
  check_options(options);
  const detail::buffer_pool_scope pool(detail::pool_bound(options));
  run_options resolved = options;
  resolved.threads = resolve_threads(options.threads);
  detail::rounded_laws laws;
  return detail::run_case(request, plan_case(request, resolved), laws);
}

run_result run(const run_request& request) {
  run_result run = detail::begin_run(request);
  const detail::buffer_pool_scope pool(detail::pool_bound(request.options));
  run_options resolved = request.options;
  resolved.threads = run.threads_used;
  // Input errors before any work; a model's case names its tensor and rule.
  const std::vector<case_work> work = detail::plan_cases(request, resolved);
  detail::rounded_laws laws;  // shared by the cases and the pooled tests
  const std::size_t count = request.cases.size();
  const std::size_t total = count + (request.propagation ? 1 : 0);
  // A case's result does not depend on its thread count, so small cases of given samples (a
  // model's biases, norms and most of its layers) run side by side, one thread each, largest
  // first: on all threads each would spend more on starting and joining its parallel loops
  // than on its values. The others run one after another on all threads. Each side-by-side
  // case holds its working copies at once: together within the memory budget.
  std::vector<std::size_t> side_by_side;
  if (resolved.threads > 1) {
    for (std::size_t i = 0; i < count; ++i) {
      const case_request& c = request.cases[i];
      const double bytes = c.samples ? static_cast<double>(c.samples->bytes.size()) : 0.0;
      if (c.samples && c.parts.empty() && c.spec.replications == 1 &&
          c.samples->size() <= side_by_side_up_to &&
          4 * bytes * resolved.threads <= static_cast<double>(resolved.memory_bytes))
        side_by_side.push_back(i);
    }
    std::stable_sort(side_by_side.begin(), side_by_side.end(), [&](std::size_t a, std::size_t b) {
      return request.cases[a].samples->size() > request.cases[b].samples->size();
    });
  }
  std::vector<std::optional<case_result>> results(count);
  std::vector<std::exception_ptr> failures(count);
  if (side_by_side.size() > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolved.threads)
    for (std::size_t k = 0; k < side_by_side.size(); ++k) {
      const std::size_t i = side_by_side[k];
      try {
        if (request.progress) {
#pragma omp critical(verinit_run_progress)
          request.progress(i, total, request.cases[i].spec.spelling);
        }
        detail::case_work alone = work[i];
        alone.options.threads = 1;
        results[i] = detail::run_case(request.cases[i], alone, laws);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  }
  // In case order, so that the first case that fails is the one a serial run would report.
  for (std::size_t i = 0; i < count; ++i) {
    if (failures[i]) std::rethrow_exception(failures[i]);
    if (!results[i]) {
      if (request.progress) request.progress(i, total, request.cases[i].spec.spelling);
      results[i] = detail::run_case(request.cases[i], work[i], laws);
    }
    run.cases.push_back(std::move(*results[i]));
  }
  detail::finish_run(run, request, laws);
  return run;
}

void decide(run_result& run) {
  std::vector<test_result*> all;
  for (auto& c : run.cases)
    for (auto& t : c.tests) all.push_back(&t);
  for (auto& p : run.pooled)
    for (auto& t : p.tests) all.push_back(&t);
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
  // The band is a pure function of n: one quantile per distinct n (a model repeats its shapes),
  // the distinct ones computed in parallel, so its bits do not depend on the thread count.
  std::vector<std::int64_t> band_sizes;
  for (const auto& c : run.cases)
    if (c.summary && c.summary->independent && c.summary->n() > 0)
      band_sizes.push_back(c.summary->n());
  for (const auto& p : run.pooled)
    for (const auto& t : p.tests)
      if (t.name == "pooled_ks")
        for (const auto& [key, value] : t.values)
          if (key == "n" && value >= 1) band_sizes.push_back(static_cast<std::int64_t>(value));
  std::sort(band_sizes.begin(), band_sizes.end());
  band_sizes.erase(std::unique(band_sizes.begin(), band_sizes.end()), band_sizes.end());
  std::vector<double> bands(band_sizes.size());
  const auto band_count = static_cast<std::ptrdiff_t>(band_sizes.size());
#pragma omp parallel for schedule(dynamic) num_threads(resolve_threads(run.options.threads))
  for (std::ptrdiff_t i = 0; i < band_count; ++i)
    bands[static_cast<std::size_t>(i)] = quantile(complement(
        kolmogorov_smirnov_distribution(band_sizes[static_cast<std::size_t>(i)]), band_level));
  const auto band = [&](std::int64_t n) {
    return bands[static_cast<std::size_t>(
        std::lower_bound(band_sizes.begin(), band_sizes.end(), n) - band_sizes.begin())];
  };
  run.passed = (!run.propagation || run.propagation->passed) && run.unmatched.empty();
  // Under a tolerance: beyond it (the equivalence test at a true error tol + effect * se has the
  // plain test's power at effect * se, less the negligible Q(|z| + tol / se) term's share).
  const auto detectable = [effect](const std::vector<test_result>& tests, const tolerance& tol,
                                   double& variance, double& mean) {
    for (const auto& t : tests) {
      if (std::isnan(t.standard_error)) continue;
      if (t.detects == detectable_quantity::relative_variance_error)
        variance = tol.variance + effect * t.standard_error;
      if (t.detects == detectable_quantity::mean_shift) mean = tol.mean + effect * t.standard_error;
    }
  };
  for (auto& c : run.cases) {
    if (c.summary && c.summary->independent && c.summary->n() > 0)
      c.summary->ks_critical = band(c.summary->n());
    c.passed =
        std::all_of(c.tests.begin(), c.tests.end(), [](const test_result& t) { return t.passed; });
    run.passed = run.passed && c.passed;
    c.diagnosis = c.passed ? std::string() : diagnose(c);
    detectable(c.tests, c.tolerance, c.detectable_variance_error, c.detectable_mean_shift);
  }
  for (auto& p : run.pooled) {
    p.passed =
        std::all_of(p.tests.begin(), p.tests.end(), [](const test_result& t) { return t.passed; });
    run.passed = run.passed && p.passed;
    detectable(p.tests, p.tolerance, p.detectable_variance_error, p.detectable_mean_shift);
    for (const auto& t : p.tests) {
      if (t.name != "pooled_ks") continue;
      for (const auto& [key, value] : t.values)
        if (key == "n" && value >= 1)
          p.detectable_ks_distance = p.tolerance.ks + band(static_cast<std::int64_t>(value));
    }
  }
}

}  // namespace verinit::verify
