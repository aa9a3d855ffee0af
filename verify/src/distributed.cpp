// A run split over processes: the plan, a share's bytes, the fold.
#include "verinit/verify/distributed.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "buffer.hpp"
#include "byte_io.hpp"
#include "runner_parts.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/verify/digest.hpp"
#include "verinit/verify/grid_tests.hpp"
#include "verinit/verify/structure.hpp"
#include "verinit/verify/theory.hpp"

namespace verinit::verify {
namespace {

using detail::byte_reader;
using detail::byte_writer;
using detail::case_work;
using detail::stream_share;

constexpr std::uint32_t magic = 0x53524956;  // "VIRS": verinit run share
constexpr std::uint32_t format_version = 1;
constexpr int max_shares = 1 << 20;
// Parts smaller than this are not compared by digest (as runner.cpp's distinct check).
constexpr std::int64_t min_distinct_part = 64;

// ---- the plan ---------------------------------------------------------------------------------

struct planned {
  run_result run;  // begun: options checked, threads resolved
  std::vector<case_work> work;
  std::vector<work_unit> units;
  std::uint64_t fingerprint = 0;  // of the request: its options and cases
};

// What a share's numbers depend on besides the samples' bytes: the options (not the thread
// count) and each case (its spec, its samples' count and dtype, its tensor and rule), so that a
// share of another request (another seed, --memory, another model's tensors) is refused, not
// folded. The samples' bytes are not in it: two versions of one checkpoint, tensor for tensor
// of the same shapes, are not told apart (every rank reads the same files).
std::uint64_t fingerprint_of(const run_request& request) {
  std::vector<std::byte> bytes;
  detail::byte_writer w(bytes);
  const run_options& o = request.options;
  w.u64(o.seed);
  w.f64(o.alpha);
  w.u64(o.summaries);
  w.i64(o.memory_bytes);
  for (const case_request& c : request.cases) {
    w.string(c.spec.spelling);
    w.integers(c.spec.shape);
    w.i64(static_cast<std::int64_t>(c.spec.tensor_layout));
    w.i64(static_cast<std::int64_t>(c.spec.type));
    w.i64(c.spec.samples);
    w.i64(c.spec.replications);
    w.i64(c.samples ? c.samples->size() : -1);
    w.i64(c.samples ? static_cast<std::int64_t>(c.samples->type) : -1);
    w.string(c.tensor);
    w.string(c.rule);
    for (double v : {c.tolerance.variance, c.tolerance.mean, c.tolerance.ks}) w.f64(v);
  }
  return content_digest(bytes, 1);
}

planned plan(const run_request& request, int shares) {
  if (shares < 1 || shares > max_shares)
    verinit::detail::throw_invalid("distributed run", "shares", std::to_string(shares),
                                   "in [1, " + std::to_string(max_shares) + "]");
  planned p{detail::begin_run(request), {}, {}, fingerprint_of(request)};
  run_options resolved = request.options;
  resolved.threads = p.run.threads_used;
  p.work = detail::plan_cases(request, resolved);
  for (std::size_t i = 0; i < p.work.size(); ++i) {
    const case_work& w = p.work[i];
    // A case of no samples (a constant of zero elements) still costs its setup.
    const double bytes = std::max(w.bytes, 1.0);
    if (w.streamed() && request.cases[i].spec.replications == 1 && shares > 1) {
      const std::int64_t pieces = w.pieces();
      const std::int64_t chunks = std::min<std::int64_t>(pieces, shares);
      for (std::int64_t c = 0; c < chunks; ++c) {
        const std::int64_t begin = pieces * c / chunks, end = pieces * (c + 1) / chunks;
        p.units.push_back({i, begin, end,
                           bytes * static_cast<double>(end - begin) / static_cast<double>(pieces),
                           0});
      }
    } else {
      p.units.push_back({i, 0, 0, bytes, 0});
    }
  }
  // Largest first, each to the share with the fewest bytes so far (ties: the lower index).
  std::vector<std::size_t> order(p.units.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return p.units[a].bytes > p.units[b].bytes;
  });
  std::vector<double> load(static_cast<std::size_t>(shares), 0.0);
  for (const std::size_t u : order) {
    const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    p.units[u].share = static_cast<int>(lightest);
    load[static_cast<std::size_t>(lightest)] += p.units[u].bytes;
  }
  return p;
}

// ---- bytes ------------------------------------------------------------------------------------

void write_tests(byte_writer& w, const std::vector<test_result>& tests) {
  w.u64(tests.size());
  for (const test_result& t : tests) {
    w.string(t.name);
    w.f64(t.statistic);
    w.f64(t.p_value);
    w.f64(t.adjusted_p_value);
    w.u64(std::uint64_t{t.exact} | std::uint64_t{t.informational} << 1 |
          std::uint64_t{t.passed} << 2 | std::uint64_t{t.suspicious} << 3);
    w.u64(t.values.size());
    for (const auto& [key, value] : t.values) {
      w.string(key);
      w.f64(value);
    }
    w.string(t.note);
    w.i64(static_cast<std::int64_t>(t.detects));
    w.f64(t.standard_error);
  }
}

std::vector<test_result> read_tests(byte_reader& r) {
  const std::uint64_t count = r.u64();
  // A test takes at least 8 words: a count beyond the bytes left is a lie.
  if (count > r.all().size() / 64) r.fail("a test count exceeds what the bytes hold");
  std::vector<test_result> tests(static_cast<std::size_t>(count));
  for (test_result& t : tests) {
    t.name = r.string();
    t.statistic = r.f64();
    t.p_value = r.f64();
    t.adjusted_p_value = r.f64();
    const std::uint64_t flags = r.u64();
    if (flags > 15) r.fail("unknown test flags");
    t.exact = (flags & 1) != 0;
    t.informational = (flags & 2) != 0;
    t.passed = (flags & 4) != 0;
    t.suspicious = (flags & 8) != 0;
    const std::uint64_t values = r.u64();
    if (values > r.all().size() / 16) r.fail("a value count exceeds what the bytes hold");
    for (std::uint64_t v = 0; v < values; ++v) {
      std::string key = r.string();
      t.values.emplace_back(std::move(key), r.f64());
    }
    t.note = r.string();
    const std::int64_t detects = r.i64();
    if (detects < 0 || detects > static_cast<std::int64_t>(detectable_quantity::mean_shift))
      r.fail("unknown detectable quantity");
    t.detects = static_cast<detectable_quantity>(detects);
    t.standard_error = r.f64();
  }
  return tests;
}

void write_summary(byte_writer& w, const sample_summary& s) {
  w.string(s.law);
  w.u64(s.independent);
  w.f64(s.ks_critical);
  for (double v : {s.sums.n, s.sums.s1, s.sums.s2, s.sums.s3, s.sums.s4, s.expected.mean,
                   s.expected.variance, s.expected.kurtosis, s.expected.skewness, s.low, s.high})
    w.f64(v);
  w.integers(s.counts);
  w.i64(s.below);
  w.i64(s.above);
  w.doubles(s.density_x);
  w.doubles(s.density);
  w.doubles(s.levels);
  w.doubles(s.quantiles);
  w.integers(s.at_or_below);
  w.string(s.grid);
  w.doubles(s.atom_values);
  w.doubles(s.atom_probabilities);
  w.integers(s.atom_counts);
  w.i64(s.distinct);
  w.f64(s.expected_distinct);
}

sample_summary read_summary(byte_reader& r) {
  sample_summary s;
  s.law = r.string();
  s.independent = r.u64() != 0;
  s.ks_critical = r.f64();
  for (double* v :
       {&s.sums.n, &s.sums.s1, &s.sums.s2, &s.sums.s3, &s.sums.s4, &s.expected.mean,
        &s.expected.variance, &s.expected.kurtosis, &s.expected.skewness, &s.low, &s.high})
    *v = r.f64();
  s.counts = r.integers();
  s.below = r.i64();
  s.above = r.i64();
  s.density_x = r.doubles();
  s.density = r.doubles();
  s.levels = r.doubles();
  s.quantiles = r.doubles();
  s.at_or_below = r.integers();
  s.grid = r.string();
  s.atom_values = r.doubles();
  s.atom_probabilities = r.doubles();
  s.atom_counts = r.integers();
  s.distinct = r.i64();
  s.expected_distinct = r.f64();
  // As the results JSON's reader checks them (the report indexes them together).
  if (s.levels.size() != s.quantiles.size() || s.levels.size() != s.at_or_below.size() ||
      s.atom_values.size() != s.atom_counts.size() ||
      s.atom_values.size() != s.atom_probabilities.size() ||
      s.density_x.size() != s.density.size() || s.counts.empty())
    r.fail("a summary's arrays differ in length");
  // decide() reads the sample count as an integer.
  if (!(s.sums.n >= 0 && s.sums.n <= 9007199254740992.0) || s.sums.n != std::floor(s.sums.n))
    r.fail("a summary's sample count that is not a whole number in [0, 2^53]");
  return s;
}

// A case's result; its spec is the request's (with the dtype and count of given samples).
void write_case(byte_writer& w, const case_result& c) {
  w.string(c.formula);
  w.string(c.source);
  w.string(c.tensor);
  w.string(c.rule);
  w.string(c.origin);
  w.integers(c.samples_shape);
  w.i64(static_cast<std::int64_t>(c.spec.type));
  w.i64(c.spec.samples);
  for (double v : {c.tolerance.variance, c.tolerance.mean, c.tolerance.ks}) w.f64(v);
  w.i64(c.n);
  write_tests(w, c.tests);
  w.f64(c.sample_seconds);
  w.f64(c.test_seconds);
  w.u64(c.summary.has_value());
  if (c.summary) write_summary(w, *c.summary);
  w.u64(c.digest);
  w.u64(c.parts.size());
  for (const part_digest& p : c.parts) {
    w.string(p.place.where);
    w.integers(p.place.offset);
    w.u64(p.place.replica);
    w.i64(p.n);
    w.i64(p.non_finite);
    w.u64(p.digest);
  }
}

case_result read_case(byte_reader& r, const case_request& request) {
  case_result c;
  c.spec = request.spec;
  c.formula = r.string();
  c.source = r.string();
  c.tensor = r.string();
  c.rule = r.string();
  c.origin = r.string();
  const std::vector<std::int64_t> shape = r.integers();
  c.samples_shape.assign(shape.begin(), shape.end());
  const std::int64_t type = r.i64();
  if (type < 0 || type > static_cast<std::int64_t>(dtype::float64)) r.fail("unknown dtype");
  c.spec.type = static_cast<dtype>(type);
  c.spec.samples = r.i64();
  c.tolerance.variance = r.f64();
  c.tolerance.mean = r.f64();
  c.tolerance.ks = r.f64();
  c.n = r.i64();
  c.tests = read_tests(r);
  c.sample_seconds = r.f64();
  c.test_seconds = r.f64();
  if (r.u64() != 0) c.summary = read_summary(r);
  c.digest = r.u64();
  const std::uint64_t parts = r.u64();
  if (parts > r.all().size() / 48) r.fail("a part count exceeds what the bytes hold");
  for (std::uint64_t k = 0; k < parts; ++k) {
    part_digest& p = c.parts.emplace_back();
    p.place.where = r.string();
    p.place.offset = r.integers();
    p.place.replica = r.u64() != 0;
    p.n = r.i64();
    p.non_finite = r.i64();
    p.digest = r.u64();
  }
  return c;
}

void write_stream(byte_writer& w, const stream_share& s) {
  w.f64(s.sample_seconds);
  w.f64(s.test_seconds);
  if (s.counts) {  // the histogram's non-zero bins
    std::vector<std::int64_t> bins;
    for (std::size_t b = 0; b < s.counts->counts.size(); ++b)
      if (s.counts->counts[b] != 0) {
        bins.push_back(static_cast<std::int64_t>(b));
        bins.push_back(s.counts->counts[b]);
      }
    w.i64(s.counts->n);
    w.integers(bins);
    w.u64(s.records.size());
    for (const auto& record : s.records) {
      w.i64(record.n);
      w.f64(record.lagged);
      w.u64(std::uint64_t{record.first} | std::uint64_t{record.last} << 16);
    }
    return;
  }
  w.bytes(s.state->to_bytes());
  w.u64(s.summary.has_value());
  if (!s.summary) return;
  write_summary(w, *s.summary);
  w.u64(s.summary_sums.size());
  for (const auto& sums : s.summary_sums)
    for (const double v : sums) w.f64(v);
}

stream_share read_stream(byte_reader& r, const case_request& request, const case_work& work,
                         bool grid, std::span<const std::int64_t> grouping_shape) {
  stream_share s;
  s.sample_seconds = r.f64();
  s.test_seconds = r.f64();
  if (grid) {
    s.counts.emplace();
    s.counts->n = r.count("a sample count");
    const std::vector<std::int64_t> bins = r.integers();
    if (bins.size() % 2 != 0) r.fail("a histogram of odd length");
    std::int64_t total = 0;
    for (std::size_t k = 0; k < bins.size(); k += 2) {
      if (bins[k] < 0 || bins[k] >= 65536 || bins[k + 1] < 0 || bins[k + 1] > s.counts->n - total)
        r.fail("a histogram bin out of range");
      s.counts->counts[static_cast<std::size_t>(bins[k])] += bins[k + 1];
      total += bins[k + 1];
    }
    if (total != s.counts->n) r.fail("the histogram does not add up to its count");
    const std::uint64_t records = r.u64();
    if (records > r.all().size() / 24) r.fail("a record count exceeds what the bytes hold");
    for (std::uint64_t k = 0; k < records; ++k) {
      grid_stream::piece_record record;
      record.n = r.count("a piece size");
      record.lagged = r.f64();
      const std::uint64_t ends = r.u64();
      if (ends >> 32 != 0) r.fail("a piece's ends out of range");
      record.first = static_cast<std::uint16_t>(ends & 0xffff);
      record.last = static_cast<std::uint16_t>(ends >> 16);
      s.records.push_back(record);
    }
    return s;
  }
  const case_spec& spec = request.spec;
  s.state.emplace(stream_state::from_bytes(
      r.bytes(), iid_context{*work.e.law, spec.type,
                             sample_grouping::of(grouping_shape, spec.tensor_layout)}));
  if (r.u64() == 0) return s;
  s.summary = read_summary(r);
  const std::uint64_t pieces = r.u64();
  if (pieces > r.all().size() / 48) r.fail("a piece count exceeds what the bytes hold");
  double total = 0;
  for (std::uint64_t k = 0; k < pieces; ++k) {
    std::array<double, 6>& sums = s.summary_sums.emplace_back();
    for (double& v : sums) v = r.f64();
    if (!(sums[0] >= 0 && sums[0] <= 9007199254740992.0) || sums[0] != std::floor(sums[0]))
      r.fail("a piece's sample count that is not a whole number in [0, 2^53]");
    total += sums[0];
  }
  if (total > 9007199254740992.0) r.fail("pieces of more than 2^53 samples");
  return s;
}

bool grid_case(const case_request& request) { return info(request.spec.type).size == 2; }

// finish_stream of states read from another process's bytes: from_bytes checks each state's
// form and counts, not every relation between its sums, so a forged state can still ask a
// test for an impossible law (a chi-square of 0 degrees of freedom): that is refused as bytes
// that are not a state, naming the tensor, like any other.
case_result finish_from_bytes(const case_request& request, const case_work& work,
                              std::span<const stream_share> shares, detail::rounded_laws& laws) {
  try {
    return detail::finish_stream(request, work, shares, laws);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& error) {
    throw std::invalid_argument(
        "tensor '" + request.tensor + "' (" + request.spec.spelling +
        "): its states from other processes are inconsistent: " + error.what());
  }
}

}  // namespace

std::vector<work_unit> plan_shares(const run_request& request, int shares) {
  return plan(request, shares).units;
}

std::vector<std::byte> run_share(const run_request& request, int share, int shares) {
  const planned p = plan(request, shares);
  if (share < 0 || share >= shares)
    verinit::detail::throw_invalid("distributed run", "share", std::to_string(share),
                                   "in [0, " + std::to_string(shares) + ")");
  const auto start = std::chrono::steady_clock::now();
  const detail::buffer_pool_scope pool(detail::pool_bound(request.options));
  detail::rounded_laws laws;
  std::vector<std::byte> out;
  byte_writer w(out);
  w.u64(magic | std::uint64_t{format_version} << 32);
  w.i64(share);
  w.i64(shares);
  w.u64(p.fingerprint);
  std::vector<std::size_t> mine;
  for (std::size_t u = 0; u < p.units.size(); ++u)
    if (p.units[u].share == share) mine.push_back(u);
  w.u64(mine.size());
  for (const std::size_t u : mine) {
    const work_unit& unit = p.units[u];
    const case_request& c = request.cases[unit.case_index];
    const case_work& work = p.work[unit.case_index];
    w.u64(u);
    if (unit.end > unit.begin)
      write_stream(w, detail::reduce_pieces(c, work, 0, unit.begin, unit.end, laws));
    else
      write_case(w, detail::run_case(c, work, laws));
  }
  w.f64(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return out;
}

run_result run_from_shares(const run_request& request,
                           std::span<const std::vector<std::byte>> shares) {
  planned p = plan(request, static_cast<int>(shares.size()));
  run_result run = std::move(p.run);
  std::vector<std::optional<case_result>> whole(request.cases.size());
  std::vector<std::vector<stream_share>> streamed(request.cases.size());
  std::vector<std::vector<std::size_t>> stream_units(request.cases.size());
  for (std::size_t k = 0; k < shares.size(); ++k) {
    byte_reader r(shares[k], "share " + std::to_string(k));
    if (r.u64() != (magic | std::uint64_t{format_version} << 32))
      r.fail("not a run share of this version");
    if (r.i64() != static_cast<std::int64_t>(k) ||
        r.i64() != static_cast<std::int64_t>(shares.size()))
      r.fail("another share's (or of a run split otherwise)");
    if (r.u64() != p.fingerprint)
      r.fail("a share of another request (its seed, options or cases differ)");
    std::vector<std::size_t> expected;
    for (std::size_t u = 0; u < p.units.size(); ++u)
      if (p.units[u].share == static_cast<int>(k)) expected.push_back(u);
    if (r.u64() != expected.size()) r.fail("another unit count than this request's plan");
    for (const std::size_t u : expected) {
      if (r.u64() != u) r.fail("another unit than this request's plan");
      const work_unit& unit = p.units[u];
      const case_request& c = request.cases[unit.case_index];
      if (unit.end > unit.begin) {
        streamed[unit.case_index].push_back(
            read_stream(r, c, p.work[unit.case_index], grid_case(c), c.spec.shape));
        stream_units[unit.case_index].push_back(u);
      } else {
        whole[unit.case_index] = read_case(r, c);
      }
    }
    run.shares.push_back({expected.size(), shares[k].size(), r.f64()});
    if (!r.done()) r.fail("bytes left over after the share");
  }
  detail::rounded_laws laws;
  for (std::size_t i = 0; i < request.cases.size(); ++i) {
    if (whole[i]) {
      run.cases.push_back(std::move(*whole[i]));
      continue;
    }
    if (streamed[i].empty())  // every unit of the plan was read: never
      throw std::logic_error("run_from_shares: case " + std::to_string(i) + " in no share");
    // The units were planned in stream order; the shares hold them in any order.
    std::vector<std::size_t> order(streamed[i].size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return stream_units[i][a] < stream_units[i][b];
    });
    std::vector<stream_share> in_order;
    for (const std::size_t o : order) in_order.push_back(std::move(streamed[i][o]));
    case_result c = finish_from_bytes(request.cases[i], p.work[i], in_order, laws);
    detail::complete_case(c, request.cases[i]);
    run.cases.push_back(std::move(c));
  }
  detail::finish_run(run, request, laws);
  return run;
}

// ---- tensors held in parts ---------------------------------------------------------------------

namespace {

constexpr std::uint32_t part_magic = 0x50524956;  // "VIRP": verinit run part
enum part_kind : int { iid = 0, constant = 1, whole_only = 2, replica = 3 };

// A part's state must stay well below its weights' bytes: ~16 values a bin of the binned fit
// (2^10 to 2^20 bins, from the piece shape, so the same for every part of a tensor: 0.5 B a
// value; the bracket's width, ~1/bins in D, stays below KS's critical distance ~2.6/sqrt(n):
// 16/m < 2.6/sqrt(m) for a piece of m > 38 values, and 2^-20 for n < 6 10^12), and 1 window in
// 2^8 or fewer kept for the repeated-runs test (0.03 B a value; equal parts are named by their
// digests anyway). Measured in the README (On a cluster).
std::int64_t part_bins(std::int64_t piece_numel) {
  std::int64_t bins = std::int64_t{1} << 10;
  while (bins < (std::int64_t{1} << 20) && bins * 16 < piece_numel) bins *= 2;
  return bins;
}
int part_window_bits(std::int64_t numel) {
  return std::max(8, stream_state::window_bits_for(numel));
}

std::int64_t non_finite_count(const tensor_view& x) {
  return visit_dtype(x.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::int64_t count = 0;
    for (const T& v : x.elements<T>()) count += std::isfinite(static_cast<double>(v)) ? 0 : 1;
    return count;
  });
}

std::string place_text(const part_place& p) {
  std::string text = p.where + " (offset [";
  for (std::size_t d = 0; d < p.offset.size(); ++d)
    text += (d ? "," : "") + std::to_string(p.offset[d]);
  return text + "])";
}

void write_case_meta(byte_writer& w, const case_request& c) {
  w.string(c.spec.spelling);
  w.integers(c.spec.shape);
  w.i64(static_cast<std::int64_t>(c.spec.tensor_layout));
  w.i64(static_cast<std::int64_t>(c.spec.type));
  w.string(c.source);
  w.string(c.tensor);
  w.string(c.rule);
  w.string(c.origin);
  for (double v : {c.tolerance.variance, c.tolerance.mean, c.tolerance.ks}) w.f64(v);
}

case_request read_case_meta(byte_reader& r) {
  case_request c;
  const std::string spelling = r.string();
  const std::vector<std::int64_t> shape = r.integers();
  const std::int64_t l = r.i64(), type = r.i64();
  if (l < 0 || l > 1) r.fail("unknown layout");
  if (type < 0 || type > static_cast<std::int64_t>(dtype::float64)) r.fail("unknown dtype");
  try {
    c.spec = case_spec::of(spelling, tensor_shape(shape.begin(), shape.end()),
                           static_cast<layout>(l), static_cast<dtype>(type));
  } catch (const std::invalid_argument& error) {
    r.fail(std::string("a case that is not one: ") + error.what());
  }
  c.source = r.string();
  c.tensor = r.string();
  c.rule = r.string();
  c.origin = r.string();
  c.tolerance.variance = r.f64();
  c.tolerance.mean = r.f64();
  c.tolerance.ks = r.f64();
  return c;
}

}  // namespace

std::vector<std::byte> reduce_part(const case_request& request, const part_place& place,
                                   int threads) {
  const case_spec& spec = request.spec;
  const std::string who = "reduce_part: tensor '" + request.tensor + "' at " + place_text(place);
  if (!request.samples) throw std::invalid_argument(who + ": the part's samples are missing");
  const tensor_view& x = *request.samples;
  const auto rank = spec.shape.size();
  if (place.offset.size() != rank || place.piece_shape.size() != rank)
    throw std::invalid_argument(who + ": offset and piece shape need " + std::to_string(rank) +
                                " dims, the tensor's [" + verinit::to_string(spec.shape) + "]");
  for (std::size_t d = 0; d < rank; ++d)
    if (place.offset[d] < 0 || place.offset[d] >= spec.shape[d] || place.piece_shape[d] < 1 ||
        place.piece_shape[d] > spec.shape[d])
      throw std::invalid_argument(who + ": offset or piece shape [" +
                                  verinit::to_string(place.piece_shape) + "] outside the tensor [" +
                                  verinit::to_string(spec.shape) + "]");
  if (place.whole < 0 || place.whole > element_count(spec.shape))
    throw std::invalid_argument(who + ": whole is " + std::to_string(place.whole) +
                                ", but must be in [0, " +
                                std::to_string(element_count(spec.shape)) + "]");
  if (x.size() < 1 || x.size() > element_count(place.piece_shape))
    throw std::invalid_argument(who + ": " + std::to_string(x.size()) +
                                " elements, but a part holds 1 to those of its piece shape [" +
                                verinit::to_string(place.piece_shape) + "]");
  threads = threads > 0 ? threads : omp_get_max_threads();
  const expectation e = theory_for(spec.scheme, spec.shape, spec.tensor_layout);
  const tensor_view flat{x.type, {x.size()}, x.bytes};
  std::vector<std::byte> out;
  byte_writer w(out);
  w.u64(part_magic | std::uint64_t{format_version} << 32);
  case_request meta = request;
  meta.spec.type = x.type;
  write_case_meta(w, meta);
  w.string(place.where);
  w.integers(place.offset);
  w.integers(place.piece_shape);
  w.i64(place.whole);
  w.i64(x.size());
  w.i64(non_finite_count(x));
  w.u64(content_digest(x.bytes, threads));
  if (place.replica) {
    w.i64(part_kind::replica);
    return out;
  }
  switch (e.kind) {
    case expectation_kind::continuous: {
      w.i64(part_kind::iid);
      // float32/float64 values all on a 16-bit grid: reduced on it, as check_case tests a whole
      // tensor's. Detected from 8 values (8 continuous draws land on bfloat16's grid with
      // probability ~2^-128), so that the parts of a tensor agree.
      std::optional<dtype> grid;
      tensor_buffer converted;
      tensor_view tested = flat;
      if (info(x.type).size > 2) grid = coarser_grid_of(flat, 8, threads);
      if (grid) {
        converted = convert_to_grid(flat, *grid);
        tested = tensor_view{*grid, {x.size()}, converted.bytes};
      }
      w.i64(grid ? static_cast<std::int64_t>(*grid) : -1);
      const auto reduce = [&](const tensor_view& values) {
        stream_share share;
        const auto start = std::chrono::steady_clock::now();
        if (info(values.type).size == 2) {
          const rounded_law law(*e.law, values.type);
          share.counts = histogram_of(values, threads);
          share.records.push_back(grid_stream(law).record(values, threads));
        } else {
          const std::int64_t numel = element_count(spec.shape);
          share.state.emplace(
              iid_context{*e.law, values.type,
                          sample_grouping::of(place.piece_shape, spec.tensor_layout)},
              stream_state::options{part_bins(element_count(place.piece_shape)),
                                    part_window_bits(numel)});
          share.state->add(values, threads);
        }
        share.test_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        write_stream(w, share);
      };
      reduce(tested);
      if (grid) reduce(flat);  // for a tensor whose other parts are not all on the grid
      break;
    }
    case expectation_kind::constant:
      w.i64(part_kind::constant);
      write_tests(w, {constant_check(flat, e.value)});
      break;
    default:
      w.i64(part_kind::whole_only);
      w.string(e.formula);
      break;
  }
  return out;
}

parts_plan cases_of_parts(std::span<const std::vector<std::byte>> parts) {
  parts_plan plan;
  std::vector<std::string> names;
  std::vector<std::vector<std::pair<case_request, tensor_part>>> by_tensor;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    byte_reader r(parts[k], "part " + std::to_string(k));
    if (r.u64() != (part_magic | std::uint64_t{format_version} << 32))
      r.fail("not a tensor part of this version");
    case_request c = read_case_meta(r);
    tensor_part p;
    p.place.where = r.string();
    p.place.offset = r.integers();
    const std::vector<std::int64_t> piece = r.integers();
    p.place.piece_shape.assign(piece.begin(), piece.end());
    if (p.place.offset.size() != c.spec.shape.size() || piece.size() != c.spec.shape.size())
      r.fail("an offset or piece shape of another rank than the tensor's");
    for (std::size_t d = 0; d < piece.size(); ++d)
      if (p.place.offset[d] < 0 || p.place.offset[d] >= c.spec.shape[d] || piece[d] < 1 ||
          piece[d] > c.spec.shape[d])
        r.fail("an offset or piece shape outside the tensor");
    p.place.whole = r.count("a whole's size");
    p.n = r.count("a part's size");
    if (p.n < 1 || p.n > element_count(p.place.piece_shape))
      r.fail("a part's size outside 1 to its piece shape's");
    p.non_finite = r.count("a non-finite count");
    if (p.non_finite > p.n) r.fail("more non-finite values than values");
    p.digest = r.u64();
    const std::int64_t kind = r.i64();
    if (kind < 0 || kind > part_kind::replica) r.fail("unknown part kind");
    p.kind = static_cast<int>(kind);
    p.place.replica = p.kind == part_kind::replica;
    case_work work;
    try {
      work.e = theory_for(c.spec.scheme, c.spec.shape, c.spec.tensor_layout);
    } catch (const std::invalid_argument& error) {
      r.fail(std::string("a law that does not fit its tensor: ") + error.what());
    }
    // The part's kind is the law's (reduce_part chose it from the same law).
    const expectation_kind law = work.e.kind;
    if ((p.kind == part_kind::iid) != (law == expectation_kind::continuous) &&
        p.kind != part_kind::replica)
      r.fail("a part's kind that is not its law's");
    if ((p.kind == part_kind::constant) != (law == expectation_kind::constant) &&
        p.kind != part_kind::replica)
      r.fail("a part's kind that is not its law's");
    if (p.kind == part_kind::iid) {
      const std::int64_t grid = r.i64();
      if (grid != -1 &&
          (info(c.spec.type).size == 2 || (grid != static_cast<std::int64_t>(dtype::float16) &&
                                           grid != static_cast<std::int64_t>(dtype::bfloat16))))
        r.fail("a part's grid that is not a 16-bit dtype below its own");
      if (grid != -1) p.grid = static_cast<dtype>(grid);
      case_request tested = c;
      if (p.grid) tested.spec.type = *p.grid;
      // Checked here, kept as bytes: read again where the case is verified.
      const auto keep = [&](const case_request& as, std::vector<std::byte>& into) {
        const auto at = r.position();
        read_stream(r, as, work, info(as.spec.type).size == 2, p.place.piece_shape);
        into.assign(r.all().begin() + static_cast<std::ptrdiff_t>(at),
                    r.all().begin() + static_cast<std::ptrdiff_t>(r.position()));
      };
      keep(tested, p.state);
      if (p.grid) keep(c, p.plain_state);
    } else if (p.kind == part_kind::constant) {
      const auto tests = read_tests(r);
      if (tests.size() != 1) r.fail("a constant's part holds another number of checks than 1");
      p.check = tests.front();
    } else if (p.kind == part_kind::whole_only) {
      p.check.note = r.string();
    }
    if (!r.done()) r.fail("bytes left over after the part");
    const auto it = std::find(names.begin(), names.end(), c.tensor);
    if (it == names.end()) {
      names.push_back(c.tensor);
      by_tensor.emplace_back();
      by_tensor.back().emplace_back(std::move(c), std::move(p));
      continue;
    }
    auto& group = by_tensor[static_cast<std::size_t>(it - names.begin())];
    const case_request& first = group.front().first;
    if (c.spec.spelling != first.spec.spelling || c.spec.shape != first.spec.shape ||
        c.spec.type != first.spec.type || c.spec.tensor_layout != first.spec.tensor_layout ||
        c.rule != first.rule || group.front().second.place.piece_shape != p.place.piece_shape ||
        group.front().second.place.whole != p.place.whole)
      throw std::invalid_argument(
          "tensor '" + c.tensor + "': its parts at " + place_text(group.front().second.place) +
          " and " + place_text(p.place) + " disagree: " + first.spec.spelling + " on [" +
          verinit::to_string(first.spec.shape) + "] " + std::string(to_string(first.spec.type)) +
          " cut in [" + verinit::to_string(group.front().second.place.piece_shape) + "] vs " +
          c.spec.spelling + " on [" + verinit::to_string(c.spec.shape) + "] " +
          std::string(to_string(c.spec.type)) + " cut in [" +
          verinit::to_string(p.place.piece_shape) + "]");
    group.emplace_back(std::move(c), std::move(p));
  }
  for (auto& group : by_tensor) {
    // The parts' sizes add up without overflow (each is at most its piece's, below 2^63).
    std::int64_t total = 0;
    for (const auto& [meta, part] : group) {
      if (part.n > std::numeric_limits<std::int64_t>::max() - total)
        throw std::invalid_argument("tensor '" + meta.tensor + "': parts of more than 2^63 values");
      total += part.n;
    }
    std::stable_sort(group.begin(), group.end(), [](const auto& a, const auto& b) {
      return std::pair(a.second.place.replica, a.second.place.offset) <
             std::pair(b.second.place.replica, b.second.place.offset);
    });
    case_request c = group.front().first;
    // A float tensor's parts merge as a stream of pieces of the piece shape, of which only the
    // last may be smaller: an uneven cut in two dims (a 2 x 3 mesh over 11008 columns) is not
    // verified yet. 16-bit parts (histograms) and constants merge in any shape.
    const auto smaller_inside = [&] {
      if (group.front().second.kind != part_kind::iid || info(c.spec.type).size == 2) return false;
      std::size_t own = 0;
      for (const auto& [meta, part] : group) own += part.place.replica ? 0 : 1;
      for (std::size_t k = 0; k + 1 < own; ++k)
        if (group[k].second.n < element_count(group[k].second.place.piece_shape)) return true;
      return false;
    };
    if (smaller_inside()) {
      plan.skipped.push_back(c.tensor);
      plan.notes.push_back("tensor '" + c.tensor + "' is cut unevenly in more than one dim (a " +
                           "part smaller than the piece [" +
                           verinit::to_string(group.front().second.place.piece_shape) +
                           "] lies before the last): not verified (a float tensor's parts are " +
                           "merged as pieces of one shape, a smaller one last)");
      continue;
    }
    if (group.front().second.kind == part_kind::whole_only) {
      plan.skipped.push_back(c.tensor);
      plan.notes.push_back("tensor '" + c.tensor + "' was reduced where it lives (a " +
                           "distributed run), and its law (" + group.front().second.check.note +
                           ") needs the whole tensor at one process: not verified");
      continue;
    }
    for (auto& [meta, part] : group) c.parts.push_back(std::move(part));
    plan.cases.push_back(std::move(c));
  }
  return plan;
}

namespace detail {

case_result verify_parts(const case_request& request, const case_work& work, rounded_laws& laws) {
  const case_spec& spec = request.spec;
  std::vector<const tensor_part*> own, copies;
  for (const tensor_part& p : request.parts) (p.place.replica ? copies : own).push_back(&p);
  if (own.empty())
    throw std::invalid_argument("tensor '" + request.tensor + "': only replicas of its parts");
  case_result result;
  if (work.e.kind == expectation_kind::continuous) {
    // Float parts all on one 16-bit grid: tested as that grid's values, reported as their own
    // dtype; otherwise every part as its own dtype's values.
    const auto code = [](const tensor_part* p) {  // -1: not on a grid
      return p->grid.has_value() ? static_cast<int>(*p->grid) : -1;
    };
    int grid = code(own.front());
    for (const tensor_part* p : own)
      if (code(p) != grid) grid = -1;
    case_request tested = request;
    if (grid >= 0) tested.spec.type = static_cast<dtype>(grid);
    std::vector<stream_share> shares;
    for (const tensor_part* p : own) {
      if (p->kind != part_kind::iid)
        throw std::invalid_argument("tensor '" + request.tensor + "': a part of another kind");
      const std::vector<std::byte>& bytes = code(p) >= 0 && grid < 0 ? p->plain_state : p->state;
      byte_reader r(bytes, "tensor '" + request.tensor + "' part " + p->place.where);
      shares.push_back(read_stream(r, tested, work, info(tested.spec.type).size == 2,
                                   own.front()->place.piece_shape));
    }
    result = finish_from_bytes(tested, work, shares, laws);
    result.spec.type = spec.type;
    if (grid >= 0 && !result.tests.empty()) {
      const std::string name(to_string(tested.spec.type));  // the grid's
      result.tests.front().note +=
          "; every value is a " + name + " value: tested against the law rounded to " + name;
    }
  } else {
    result.spec = spec;
    result.formula = work.e.formula;
    test_result check = own.front()->check;
    check.statistic = 0;
    for (const tensor_part* p : own) {
      check.statistic += p->check.statistic;
      if (!p->check.passed && check.passed) {
        check.passed = false;
        check.note = p->place.where + ": " + p->check.note;
      }
    }
    result.tests.push_back(std::move(check));
  }
  std::int64_t n = 0;
  for (const tensor_part* p : own) n += p->n;
  result.n = n;
  result.spec.samples = n;
  const auto exact = [&](const char* name, bool passed, double statistic, std::string note) {
    test_result t;
    t.name = name;
    t.exact = true;
    t.passed = passed;
    t.p_value = passed ? 1 : 0;
    t.statistic = statistic;
    t.note = std::move(note);
    result.tests.push_back(std::move(t));
  };
  const std::int64_t numel =
      own.front()->place.whole > 0 ? own.front()->place.whole : element_count(spec.shape);
  exact("parts_cover", n == numel, static_cast<double>(own.size()),
        std::to_string(n) + " of the tensor's " + std::to_string(numel) + " elements in " +
            std::to_string(own.size()) + " parts" +
            (copies.empty() ? "" : " and " + std::to_string(copies.size()) + " replicas"));
  std::string non_finite;
  std::int64_t bad = 0;
  for (const tensor_part& p : request.parts)
    if (p.non_finite > 0) {
      non_finite += (non_finite.empty() ? "" : ", ") + place_text(p.place) + ": " +
                    std::to_string(p.non_finite) + " of " + std::to_string(p.n);
      bad += p.non_finite;
    }
  exact("parts_finite", bad == 0, static_cast<double>(bad),
        bad == 0 ? "every part finite" : "non-finite values in " + non_finite);
  if (own.size() > 1 && work.e.kind == expectation_kind::continuous) {
    std::string equal;
    std::int64_t pairs = 0;
    for (std::size_t a = 0; a < own.size(); ++a)
      for (std::size_t b = a + 1; b < own.size(); ++b)
        if (own[a]->digest == own[b]->digest && own[a]->n == own[b]->n &&
            own[a]->n >= min_distinct_part) {
          equal += (equal.empty() ? "" : "; ") + place_text(own[a]->place) + " = " +
                   place_text(own[b]->place);
          ++pairs;
        }
    exact("parts_distinct", pairs == 0, static_cast<double>(pairs),
          pairs == 0 ? "no two parts equal"
                     : "parts bitwise equal (one random stream in every part: ranks seeded "
                       "alike): " +
                           equal);
  }
  if (!copies.empty()) {
    std::string differ;
    std::int64_t count = 0;
    for (const tensor_part* c : copies) {
      const auto original = std::find_if(own.begin(), own.end(), [&](const tensor_part* p) {
        return p->place.offset == c->place.offset && p->n == c->n;
      });
      if (original != own.end() && (*original)->digest == c->digest) continue;
      differ += (differ.empty() ? "" : "; ") + place_text(c->place) +
                (original == own.end() ? " matches no part"
                                       : " differs from " + place_text((*original)->place));
      ++count;
    }
    exact("parts_replicas", count == 0, static_cast<double>(count),
          count == 0 ? std::to_string(copies.size()) + " replicas equal their parts"
                     : "replicas that should equal their parts differ: " + differ);
  }
  // Two tensors equal part for part: the run's distinct check sees one digest of the digests.
  if (work.e.kind == expectation_kind::continuous && n >= min_distinct_part) {
    std::vector<std::byte> digests;
    byte_writer w(digests);
    for (const tensor_part* p : own) w.u64(p->digest);
    result.digest = content_digest(digests, 1);
  }
  for (const tensor_part& p : request.parts)
    result.parts.push_back({p.place, p.n, p.non_finite, p.digest});
  complete_case(result, request);
  return result;
}

}  // namespace detail

}  // namespace verinit::verify
