// A run split over shares: folded, it is run()'s result bit for bit (its JSON, timings aside) for
// 1, 2, 3 and 5 shares and any thread count; the plan covers every case once and balances the
// bytes; bytes that are not the request's shares are refused with the share named.
#include "verinit/verify/distributed.hpp"

#include <gtest/gtest.h>

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
  held_tensor t{std::vector<float>(static_cast<std::size_t>(verinit::element_count(shape))),
                shape};
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
        {case_spec::of(spec, std::move(shape), l, type, n, replications), std::nullopt,
         "verinit"});
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
    case_request c{case_spec::of("kaiming_uniform(a=2.23606797749979)", t.shape, layout::torch,
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

TEST(DistributedTest, FoldedSharesAreTheRunOfOneProcessBitForBit) {
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

TEST(DistributedTest, AFailingCaseFailsTheFoldedRunAsItFailsOne) {
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
    if (shares == 1) EXPECT_EQ(units.size(), request.cases.size());
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
  refused({bytes[1], bytes[0]}, "share 0 bytes");            // out of order
  refused({bytes[0]}, "share 0 bytes");                      // a share missing
  auto truncated = bytes;
  truncated[1].resize(truncated[1].size() / 2);
  refused(truncated, "share 1 bytes");
  auto longer = bytes;
  longer[0].push_back(std::byte{0});
  refused(longer, "left over");
  auto other = bytes;
  other[0][0] = std::byte{0};
  refused(other, "not a run share");
  // Cut anywhere (every byte of the header, then 64 places): refused, never a crash.
  std::vector<std::size_t> cuts;
  for (std::size_t at = 0; at < 256; ++at) cuts.push_back(at);
  for (std::size_t k = 1; k < 64; ++k) cuts.push_back(bytes[1].size() * k / 64);
  for (const std::size_t at : cuts) {
    auto cut = bytes;
    cut[1].resize(at);
    EXPECT_THROW(run_from_shares(request, cut), std::invalid_argument) << at;
  }
  EXPECT_THROW(run_share(request, 2, 2), std::invalid_argument);
  EXPECT_THROW(run_share(request, 0, 0), std::invalid_argument);
  EXPECT_THROW(plan_shares(request, -1), std::invalid_argument);
}

}  // namespace
