// A run split over shares: folded, it is run()'s result bit for bit (its JSON, timings aside)
// for 1, 2, 3 and 5 shares and any thread count (Slow*: sampling at 10^6, outside the sanitizer
// run); the plan covers every case once and balances the bytes; bytes that are not the
// request's shares are refused with the share named. Tensors held in parts: below.
#include "verinit/verify/distributed.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

#include "verinit/fill.hpp"
#include "verinit/reports/json.hpp"

namespace {

using namespace verinit::verify;
using verinit::dtype;
using verinit::layout;

// The results document without its timing (the last member, written last).
std::string without_timing(const run_result& run) {
  const std::string json = verinit::reports::to_json(run);
  return json.substr(0, json.find("\"timing\""));
}

// Weights drawn by the library, held by the test: "given samples", as a checkpoint's are.
struct held_tensor {
  std::vector<float> values;
  verinit::tensor_shape shape;
};

held_tensor draw(const char* scheme, verinit::tensor_shape shape, std::uint64_t seed) {
  held_tensor t{std::vector<float>(static_cast<std::size_t>(verinit::element_count(shape))), shape};
  verinit::fill_options options;
  options.seed = seed;
  verinit::fill(std::span<float>(t.values), shape, verinit::parse_scheme(scheme), options);
  return t;
}

// Every kind of unit: cases in memory (continuous, 16-bit, structured, replicated), streamed
// cases of both kinds split into piece ranges, and a model's tensors with a rule pooled.
run_request mixed_request(const std::vector<held_tensor>& held, int threads) {
  run_request request;
  request.options.threads = threads;
  request.options.summaries = true;
  request.options.memory_bytes = 1 << 20;  // streams the 600,000-weight cases in 8 pieces or more
  const auto add = [&](const char* spec, verinit::tensor_shape shape, layout l, dtype type,
                       std::int64_t n, std::int64_t replications = 1) {
    request.cases.push_back(
        {case_spec::of(spec, std::move(shape), l, type, n, replications), std::nullopt, "verinit"});
  };
  add("he_normal", {256, 512}, layout::torch, dtype::float32, 600'000);
  add("xavier_uniform", {100, 1000}, layout::torch, dtype::bfloat16, 600'000);
  add("truncated_normal", {100, 100}, layout::torch, dtype::float64, 20'000);
  add("he_normal", {64, 64}, layout::torch, dtype::float16, 40'000);
  add("orthogonal", {8, 8}, layout::torch, dtype::float32, 100 * 64);
  add("zeros", {3, 5}, layout::torch, dtype::float32, 0);
  add("kaiming_uniform(a=0.2)", {64, 32}, layout::torch, dtype::float32, 4096, 3);
  for (std::size_t k = 0; k < held.size(); ++k) {
    const held_tensor& t = held[k];
    case_request c{
        case_spec::of("kaiming_uniform(a=2.23606797749979)", t.shape, layout::torch,
                      dtype::float32),
        verinit::tensor_view{dtype::float32, t.shape, std::as_bytes(std::span(t.values))},
        "model.safetensors"};
    c.tensor = "layer" + std::to_string(k) + ".weight";
    c.rule = "linear";
    request.cases.push_back(std::move(c));
  }
  return request;
}

std::vector<held_tensor> model_tensors() {
  return {draw("kaiming_uniform(a=2.23606797749979)", {64, 128}, 1),
          draw("kaiming_uniform(a=2.23606797749979)", {128, 64}, 2),
          draw("kaiming_uniform(a=2.23606797749979)", {32, 128}, 3)};
}

run_result fold(const run_request& request, int shares) {
  std::vector<std::vector<std::byte>> bytes;
  for (int k = 0; k < shares; ++k) bytes.push_back(run_share(request, k, shares));
  return run_from_shares(request, bytes);
}

TEST(DistributedTest, SlowFoldedSharesAreTheRunOfOneProcessBitForBit) {
  const auto held = model_tensors();
  const run_request request = mixed_request(held, 2);
  const run_result serial = run(request);
  ASSERT_TRUE(serial.passed);
  ASSERT_EQ(serial.pooled.size(), 1U);
  const std::string expected = without_timing(serial);
  for (const int shares : {1, 2, 3, 5}) {
    const run_result folded = fold(request, shares);
    EXPECT_EQ(without_timing(folded), expected) << shares << " shares";
    ASSERT_EQ(folded.shares.size(), static_cast<std::size_t>(shares));
    std::size_t units = 0;
    for (const auto& s : folded.shares) units += s.units;
    EXPECT_EQ(units, plan_shares(request, shares).size());
  }
  // Shares computed on other thread counts fold to the same bits.
  std::vector<std::vector<std::byte>> bytes;
  for (int k = 0; k < 3; ++k) bytes.push_back(run_share(mixed_request(held, 1 + 2 * k), k, 3));
  EXPECT_EQ(without_timing(run_from_shares(request, bytes)), expected);
}

TEST(DistributedTest, SlowAFailingCaseFailsTheFoldedRunAsItFailsOne) {
  auto held = model_tensors();
  for (float& v : held[1].values) v *= 1.5F;  // std x 1.5: a dropped gain's size
  const run_request request = mixed_request(held, 2);
  const run_result serial = run(request);
  ASSERT_FALSE(serial.passed);
  const run_result folded = fold(request, 3);
  EXPECT_FALSE(folded.passed);
  EXPECT_EQ(without_timing(folded), without_timing(serial));
}

TEST(DistributedTest, ThePlanCoversEveryCaseOnceAndSplitsStreamsIntoPieceRanges) {
  const auto held = model_tensors();
  const run_request request = mixed_request(held, 1);
  for (const int shares : {1, 2, 3, 7}) {
    const auto units = plan_shares(request, shares);
    std::map<std::size_t, std::vector<work_unit>> by_case;
    std::vector<double> load(static_cast<std::size_t>(shares));
    for (const auto& u : units) {
      ASSERT_GE(u.share, 0);
      ASSERT_LT(u.share, shares);
      by_case[u.case_index].push_back(u);
      load[static_cast<std::size_t>(u.share)] += u.bytes;
    }
    ASSERT_EQ(by_case.size(), request.cases.size());
    for (const auto& [index, parts] : by_case) {
      if (parts.size() == 1 && parts[0].begin == 0 && parts[0].end == 0) continue;  // whole
      // A stream's ranges: contiguous from piece 0, one per share at most.
      EXPECT_LE(parts.size(), static_cast<std::size_t>(shares));
      std::int64_t next = 0;
      for (const auto& p : parts) {
        EXPECT_EQ(p.begin, next);
        EXPECT_GT(p.end, p.begin);
        next = p.end;
      }
      EXPECT_GT(parts.size(), 1U) << "case " << index << " not split over " << shares;
    }
    if (shares == 1) {
      EXPECT_EQ(units.size(), request.cases.size());
    }
    // Greedy by bytes: no share holds more than the lightest plus the largest unit.
    double largest = 0;
    for (const auto& u : units) largest = std::max(largest, u.bytes);
    const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    EXPECT_LE(*hi - *lo, largest);
  }
}

TEST(DistributedTest, BytesThatAreNotTheRequestsSharesAreRefused) {
  const auto held = model_tensors();
  run_request request = mixed_request(held, 1);
  request.cases.resize(2);  // the two streamed cases: quick
  std::vector<std::vector<std::byte>> bytes{run_share(request, 0, 2), run_share(request, 1, 2)};
  const auto refused = [&](std::vector<std::vector<std::byte>> shares, const char* words) {
    try {
      run_from_shares(request, shares);
      ADD_FAILURE() << "accepted: " << words;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(words), std::string::npos) << error.what();
    }
  };
  refused({bytes[1], bytes[0]}, "share 0 bytes");  // out of order
  refused({bytes[0]}, "share 0 bytes");            // a share missing
  auto truncated = bytes;
  truncated[1].resize(truncated[1].size() / 2);
  refused(truncated, "share 1 bytes");
  auto longer = bytes;
  longer[0].push_back(std::byte{0});
  refused(longer, "left over");
  auto other = bytes;
  other[0][0] = std::byte{0};
  refused(other, "not a run share");
  // Cut anywhere (every byte of the header, then 16 places; parts_fuzz tries the rest):
  // refused, never a crash.
  std::vector<std::size_t> cuts;
  for (std::size_t at = 0; at < 256; ++at) cuts.push_back(at);
  for (std::size_t k = 1; k < 16; ++k) cuts.push_back(bytes[1].size() * k / 16);
  for (const std::size_t at : cuts) {
    auto cut = bytes;
    cut[1].resize(at);
    EXPECT_THROW(run_from_shares(request, cut), std::invalid_argument) << at;
  }
  // Shares of another request (another seed) are refused, not folded.
  run_request reseeded = request;
  reseeded.options.seed += 1;
  try {
    run_from_shares(request, std::vector<std::vector<std::byte>>{run_share(reseeded, 0, 2),
                                                                 run_share(reseeded, 1, 2)});
    ADD_FAILURE() << "folded another request's shares";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("another request"), std::string::npos) << error.what();
  }
  EXPECT_THROW(run_share(request, 2, 2), std::invalid_argument);
  EXPECT_THROW(run_share(request, 0, 0), std::invalid_argument);
  EXPECT_THROW(plan_shares(request, -1), std::invalid_argument);
}

}  // namespace

// ---- tensors held in parts ----------------------------------------------------------------

namespace {

// A [rows, cols] tensor cut into `parts` along `dim` (torch.chunk's cut: equal parts, a smaller
// last), each part's elements contiguous as its process holds them.
struct cut_tensor {
  std::vector<std::vector<float>> parts;
  std::vector<std::vector<std::int64_t>> offsets;
  verinit::tensor_shape piece;
};

cut_tensor cut(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, int parts,
               int dim) {
  cut_tensor out;
  const std::int64_t along = dim == 0 ? rows : cols;
  const std::int64_t size = (along + parts - 1) / parts;
  out.piece = dim == 0 ? verinit::tensor_shape{size, cols} : verinit::tensor_shape{rows, size};
  for (std::int64_t start = 0; start < along; start += size) {
    const std::int64_t end = std::min(along, start + size);
    std::vector<float> part;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        if ((dim == 0 ? r : c) >= start && (dim == 0 ? r : c) < end)
          part.push_back(w[static_cast<std::size_t>(r * cols + c)]);
    out.parts.push_back(std::move(part));
    out.offsets.push_back(dim == 0 ? std::vector<std::int64_t>{start, 0}
                                   : std::vector<std::int64_t>{0, start});
  }
  return out;
}

std::vector<std::byte> part_bytes(const char* spec, verinit::tensor_shape whole, const char* name,
                                  const std::vector<float>& values, const cut_tensor& c,
                                  std::size_t k, bool replica = false,
                                  const std::string& where = "") {
  case_request r{case_spec::of(spec, whole),
                 verinit::tensor_view{dtype::float32,
                                      {static_cast<std::int64_t>(values.size())},
                                      std::as_bytes(std::span(values))},
                 "job"};
  r.tensor = name;
  r.rule = "*.weight";
  return reduce_part(
      r, {where.empty() ? "rank " + std::to_string(k) : where, c.offsets[k], c.piece, replica}, 1);
}

run_result run_parts(const std::vector<std::vector<std::byte>>& parts) {
  const parts_plan plan = cases_of_parts(parts);
  run_request request;
  request.options.threads = 1;
  request.cases = plan.cases;
  request.skipped = plan.skipped;
  request.notes = plan.notes;
  return run(request);
}

const test_result* find_test(const case_result& c, const char* name) {
  for (const auto& t : c.tests)
    if (t.name == name) return &t;
  return nullptr;
}

TEST(DistributedPartsTest, PartsInAnyOrderAreOneCaseOfTheWholeTensorsLaw) {
  const auto w = draw("he_normal", {96, 256}, 11).values;
  for (const int dim : {0, 1}) {
    const cut_tensor c = cut(w, 96, 256, 3, dim);
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t k = 0; k < c.parts.size(); ++k)
      parts.push_back(part_bytes("he_normal", {96, 256}, "fc.weight", c.parts[k], c, k));
    const run_result in_order = run_parts(parts);
    ASSERT_TRUE(in_order.passed) << without_timing(in_order);
    ASSERT_EQ(in_order.cases.size(), 1U);
    EXPECT_EQ(in_order.cases[0].n, 96 * 256);
    EXPECT_EQ(in_order.cases[0].spec.shape, (verinit::tensor_shape{96, 256}));
    for (const char* name : {"ks", "variance", "parts_cover", "parts_finite", "parts_distinct"})
      EXPECT_NE(find_test(in_order.cases[0], name), nullptr) << name;
    const auto& rows = in_order.cases[0].parts;  // the digest rows, in offset order
    ASSERT_EQ(rows.size(), 3U);
    for (std::size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(rows[k].place.where, "rank " + std::to_string(k));
      EXPECT_EQ(rows[k].place.offset, c.offsets[k]);
      EXPECT_EQ(rows[k].n, static_cast<std::int64_t>(c.parts[k].size()));
      EXPECT_EQ(rows[k].non_finite, 0);
    }
    // The rows survive the results JSON (other processes read the Result from it).
    const run_result back = verinit::reports::from_json(verinit::reports::to_json(in_order));
    EXPECT_EQ(verinit::reports::to_json(back), verinit::reports::to_json(in_order));
    ASSERT_EQ(back.cases[0].parts.size(), 3U);
    EXPECT_EQ(back.cases[0].parts[2].digest, rows[2].digest);
    std::swap(parts[0], parts[2]);  // gathered in another order: the same run
    EXPECT_EQ(without_timing(run_parts(parts)), without_timing(in_order));
  }
}

TEST(DistributedPartsTest, Float32PartsOnTheBfloat16GridAreTestedAgainstTheRoundedLaw) {
  // he_normal drawn in bfloat16, then .float(): as a whole tensor (check_case) the values are
  // tested against the law rounded to bfloat16; so are its parts (the continuous law would
  // fail them: KS p ~ 1e-50 at this size).
  const verinit::tensor_shape shape{1024, 256};
  std::vector<std::uint16_t> bits(1024 * 256);
  verinit::fill_options options;
  options.seed = 4;
  verinit::fill(
      verinit::mutable_tensor_view{dtype::bfloat16, shape, std::as_writable_bytes(std::span(bits))},
      verinit::parse_scheme("he_normal"), options);
  std::vector<float> w(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const std::uint32_t word = std::uint32_t{bits[i]} << 16;
    std::memcpy(&w[i], &word, 4);
  }
  const cut_tensor c = cut(w, 1024, 256, 4, 0);
  std::vector<std::vector<std::byte>> parts;
  for (std::size_t k = 0; k < c.parts.size(); ++k)
    parts.push_back(part_bytes("he_normal", {1024, 256}, "w", c.parts[k], c, k));
  const run_result r = run_parts(parts);
  ASSERT_TRUE(r.passed) << without_timing(r);
  EXPECT_EQ(r.cases[0].spec.type, dtype::float32);
  EXPECT_NE(r.cases[0].tests[0].note.find("tested against the law rounded to bfloat16"),
            std::string::npos)
      << r.cases[0].tests[0].note;
}

TEST(DistributedPartsTest, TheFiveDistributedBugsFailNamingTheirParts) {
  const auto w = draw("xavier_normal", {96, 256}, 5).values;
  const cut_tensor rows = cut(w, 96, 256, 3, 0);
  const auto failing = [](const run_result& r, const char* test) -> std::string {
    if (r.passed) return "passed";
    const test_result* t = find_test(r.cases.at(0), test);
    return t == nullptr ? std::string("no ") + test : t->passed ? "passed" : t->note;
  };
  // (b) every rank seeded alike: each part the same 32 rows.
  {
    const auto same = cut(draw("xavier_normal", {96, 256}, 9).values, 96, 256, 3, 0).parts[0];
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t k = 0; k < 3; ++k)
      parts.push_back(part_bytes("xavier_normal", {96, 256}, "fc.weight", same, rows, k));
    const run_result r = run_parts(parts);
    const std::string note = failing(r, "parts_distinct");
    EXPECT_NE(note.find("rank 0 (offset [0,0]) = rank 1 (offset [32,0])"), std::string::npos)
        << note;
    for (const char* marginal : {"ks", "anderson_darling", "variance"})
      EXPECT_TRUE(find_test(r.cases[0], marginal)->passed) << marginal;
  }
  // (c) row-parallel parts drawn with the local fan: std x sqrt(3)-ish on the column split.
  {
    const cut_tensor cols = cut(w, 96, 256, 3, 1);
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t k = 0; k < 3; ++k) {
      // xavier_normal on the local [96, 86] part: std sqrt(2 / (96 + 86)) instead of
      // sqrt(2 / (96 + 256)), x1.39.
      auto local = cols.parts[k];
      for (float& v : local) v *= static_cast<float>(std::sqrt((96.0 + 256.0) / (96.0 + 86.0)));
      parts.push_back(part_bytes("xavier_normal", {96, 256}, "fc.weight", local, cols, k));
    }
    const std::string note = failing(run_parts(parts), "variance");
    EXPECT_NE(note, "passed");
  }
  // (d) NaN on ranks 1 and 2 (bf16 empty_like garbage, here float32 NaN).
  {
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t k = 0; k < 3; ++k) {
      auto local = rows.parts[k];
      if (k > 0) local[7] = std::numeric_limits<float>::quiet_NaN();
      parts.push_back(part_bytes("xavier_normal", {96, 256}, "fc.weight", local, rows, k));
    }
    const std::string note = failing(run_parts(parts), "parts_finite");
    EXPECT_NE(note.find("rank 1 (offset [32,0]): 1 of 8192"), std::string::npos) << note;
    EXPECT_NE(note.find("rank 2 (offset [64,0]): 1 of 8192"), std::string::npos) << note;
    EXPECT_EQ(note.find("rank 0"), std::string::npos) << note;
  }
  // (e) replicas: rank 3 and 4 hold copies of ranks 0 and 1; rank 4's diverged.
  {
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t k = 0; k < 3; ++k)
      parts.push_back(part_bytes("xavier_normal", {96, 256}, "fc.weight", rows.parts[k], rows, k));
    cut_tensor copies = rows;
    copies.offsets = {rows.offsets[0], rows.offsets[1]};
    auto diverged = rows.parts[1];
    diverged[0] = std::nextafter(diverged[0], 1.0F);
    auto replica = [&](std::size_t of, const std::vector<float>& values, const char* where) {
      return part_bytes("xavier_normal", {96, 256}, "fc.weight", values, copies, of, true, where);
    };
    parts.push_back(replica(0, rows.parts[0], "rank 3"));
    parts.push_back(replica(1, diverged, "rank 4"));
    const run_result r = run_parts(parts);
    const std::string note = failing(r, "parts_replicas");
    EXPECT_NE(note.find("rank 4 (offset [32,0]) differs from rank 1 (offset [32,0])"),
              std::string::npos)
        << note;
    EXPECT_EQ(note.find("offset [0,0]"), std::string::npos) << note;
    for (const char* marginal : {"ks", "variance", "parts_distinct", "parts_finite"})
      EXPECT_TRUE(find_test(r.cases[0], marginal)->passed) << marginal;
  }
  // A part missing: the cover check fails.
  {
    std::vector<std::vector<std::byte>> parts;
    for (std::size_t k = 0; k < 2; ++k)
      parts.push_back(part_bytes("xavier_normal", {96, 256}, "fc.weight", rows.parts[k], rows, k));
    EXPECT_NE(failing(run_parts(parts), "parts_cover").find("16384 of the tensor's 24576"),
              std::string::npos);
  }
}

TEST(DistributedPartsTest, ConstantsAreCheckedPartByPartAndWholeOnlyLawsAreSkipped) {
  const std::vector<float> zeros(32 * 8, 0.0F);
  auto one_off = zeros;
  one_off[3] = 1e-3F;
  cut_tensor c;
  c.piece = {32, 8};
  c.offsets = {{0, 0}, {32, 0}};
  const auto bias = [&](const std::vector<float>& second) {
    return run_parts({part_bytes("zeros", {64, 8}, "b", zeros, c, 0),
                      part_bytes("zeros", {64, 8}, "b", second, c, 1)});
  };
  EXPECT_TRUE(bias(zeros).passed);
  const run_result bad = bias(one_off);
  ASSERT_FALSE(bad.passed);
  EXPECT_EQ(bad.cases[0].tests[0].note.rfind("rank 1: ", 0), 0U) << bad.cases[0].tests[0].note;
  // An orthogonal matrix cannot be checked in parts: skipped, with a note.
  const run_result ortho = run_parts({part_bytes("orthogonal", {64, 8}, "q", zeros, c, 0)});
  EXPECT_TRUE(ortho.cases.empty());
  ASSERT_EQ(ortho.skipped, std::vector<std::string>{"q"});
  EXPECT_NE(ortho.notes.at(0).find("needs the whole tensor"), std::string::npos);
  // Parts that disagree on the law: refused, naming both.
  try {
    cases_of_parts(std::vector<std::vector<std::byte>>{
        part_bytes("he_normal", {64, 8}, "w", zeros, c, 0),
        part_bytes("xavier_normal", {64, 8}, "w", zeros, c, 1)});
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 (offset [0,0]) and rank 1 (offset [32,0])"),
              std::string::npos)
        << e.what();
  }
  // An uneven cut in two dims (a [10, 7] float tensor on a 2 x 2 mesh: columns 4 and 3):
  // skipped with a note, the run goes on.
  {
    std::vector<std::vector<std::byte>> parts;
    const std::vector<float> values(20, 0.1F);
    std::size_t k = 0;
    for (const std::int64_t row : {0, 5})
      for (const std::int64_t col : {0, 4}) {
        cut_tensor mesh;
        mesh.piece = {5, 4};
        mesh.offsets = {{row, col}};
        const std::vector<float> local(values.begin(), values.begin() + (col == 0 ? 20 : 15));
        parts.push_back(part_bytes("uniform", {10, 7}, "m", local, mesh, 0, false,
                                   "rank " + std::to_string(k++)));
      }
    const run_result uneven = run_parts(parts);
    EXPECT_TRUE(uneven.cases.empty());
    ASSERT_EQ(uneven.skipped, std::vector<std::string>{"m"});
    EXPECT_NE(uneven.notes.at(0).find("cut unevenly"), std::string::npos) << uneven.notes.at(0);
  }
  // A part's state is a fraction of its weights' bytes (a 512 x 4096 float32 part: 8 MiB).
  {
    const auto big = draw("he_normal", {512, 4096}, 3).values;
    cut_tensor one;
    one.piece = {512, 4096};
    one.offsets = {{0, 0}};
    const auto bytes = part_bytes("he_normal", {4096, 4096}, "w", big, one, 0);
    EXPECT_LT(bytes.size(), big.size() * 4 / 6) << bytes.size();
  }
  // A place outside the tensor, a part larger than its piece: refused.
  cut_tensor outside = c;
  outside.offsets[1] = {64, 0};
  EXPECT_THROW(part_bytes("zeros", {64, 8}, "b", zeros, outside, 1), std::invalid_argument);
  cut_tensor small = c;
  small.piece = {16, 8};
  EXPECT_THROW(part_bytes("zeros", {64, 8}, "b", zeros, small, 0), std::invalid_argument);
  // Bytes that are not a part: refused, never a crash.
  auto bytes = part_bytes("he_normal", {64, 8}, "w", zeros, c, 0);
  for (std::size_t at = 0; at < bytes.size(); at += 7) {
    auto cut_bytes = bytes;
    cut_bytes.resize(at);
    EXPECT_THROW(cases_of_parts(std::vector<std::vector<std::byte>>{cut_bytes}),
                 std::invalid_argument)
        << at;
  }
}

}  // namespace
