// A run split over processes: the plan, a share's bytes, the fold.
#include "verinit/verify/distributed.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <string>

#include "byte_io.hpp"
#include "runner_parts.hpp"
#include "verinit/detail/check.hpp"

namespace verinit::verify {
namespace {

using detail::byte_reader;
using detail::byte_writer;
using detail::case_work;
using detail::stream_share;

constexpr std::uint32_t magic = 0x53524956;  // "VIRS": verinit run share
constexpr std::uint32_t format_version = 1;
constexpr int max_shares = 1 << 20;

// ---- the plan ---------------------------------------------------------------------------------

struct planned {
  run_result run;  // begun: options checked, threads resolved
  std::vector<case_work> work;
  std::vector<work_unit> units;
};

planned plan(const run_request& request, int shares) {
  if (shares < 1 || shares > max_shares)
    verinit::detail::throw_invalid("distributed run", "shares", std::to_string(shares),
                                   "in [1, " + std::to_string(max_shares) + "]");
  planned p{detail::begin_run(request), {}, {}};
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
  for (double* v : {&s.sums.n, &s.sums.s1, &s.sums.s2, &s.sums.s3, &s.sums.s4, &s.expected.mean,
                    &s.expected.variance, &s.expected.kurtosis, &s.expected.skewness, &s.low,
                    &s.high})
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
  if (s.levels.size() != s.quantiles.size() || s.levels.size() != s.at_or_below.size() ||
      s.atom_values.size() != s.atom_counts.size())
    r.fail("a summary's arrays differ in length");
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
                         bool grid) {
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
                             sample_grouping::of(spec.shape, spec.tensor_layout)}));
  if (r.u64() == 0) return s;
  s.summary = read_summary(r);
  const std::uint64_t pieces = r.u64();
  if (pieces > r.all().size() / 48) r.fail("a piece count exceeds what the bytes hold");
  for (std::uint64_t k = 0; k < pieces; ++k) {
    std::array<double, 6>& sums = s.summary_sums.emplace_back();
    for (double& v : sums) v = r.f64();
  }
  return s;
}

bool grid_case(const case_request& request) { return info(request.spec.type).size == 2; }

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
  detail::rounded_laws laws;
  std::vector<std::byte> out;
  byte_writer w(out);
  w.u64(magic | std::uint64_t{format_version} << 32);
  w.i64(share);
  w.i64(shares);
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
    std::vector<std::size_t> expected;
    for (std::size_t u = 0; u < p.units.size(); ++u)
      if (p.units[u].share == static_cast<int>(k)) expected.push_back(u);
    if (r.u64() != expected.size()) r.fail("another unit count than this request's plan");
    for (const std::size_t u : expected) {
      if (r.u64() != u) r.fail("another unit than this request's plan");
      const work_unit& unit = p.units[u];
      const case_request& c = request.cases[unit.case_index];
      if (unit.end > unit.begin) {
        streamed[unit.case_index].push_back(read_stream(r, c, p.work[unit.case_index], grid_case(c)));
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
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return stream_units[i][a] < stream_units[i][b]; });
    std::vector<stream_share> in_order;
    for (const std::size_t o : order) in_order.push_back(std::move(streamed[i][o]));
    case_result c = detail::finish_stream(request.cases[i], p.work[i], in_order, laws);
    detail::complete_case(c, request.cases[i]);
    run.cases.push_back(std::move(c));
  }
  detail::finish_run(run, request, laws);
  return run;
}

}  // namespace verinit::verify
