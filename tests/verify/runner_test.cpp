// The library's entry point: a request in, a decided run out; the same bits on any thread
// count; input errors before any work; replications; the power statement.
#include "verinit/verify/runner.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <boost/math/distributions/normal.hpp>
#include <stdexcept>

#include "verinit/fill.hpp"

namespace {

using namespace verinit::verify;

// Bitwise equality (NaN included).
bool same(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Every number of a run but the timings.
void expect_same_numbers(const run_result& a, const run_result& b) {
  ASSERT_EQ(a.cases.size(), b.cases.size());
  EXPECT_EQ(a.family_size, b.family_size);
  EXPECT_EQ(a.passed, b.passed);
  for (std::size_t c = 0; c < a.cases.size(); ++c) {
    const auto &x = a.cases[c], &y = b.cases[c];
    ASSERT_EQ(x.tests.size(), y.tests.size());
    for (std::size_t t = 0; t < x.tests.size(); ++t) {
      EXPECT_EQ(x.tests[t].name, y.tests[t].name);
      EXPECT_TRUE(same(x.tests[t].statistic, y.tests[t].statistic)) << x.tests[t].name;
      EXPECT_TRUE(same(x.tests[t].p_value, y.tests[t].p_value)) << x.tests[t].name;
      EXPECT_TRUE(same(x.tests[t].adjusted_p_value, y.tests[t].adjusted_p_value))
          << x.tests[t].name;
      ASSERT_EQ(x.tests[t].values.size(), y.tests[t].values.size());
      for (std::size_t k = 0; k < x.tests[t].values.size(); ++k)
        EXPECT_TRUE(same(x.tests[t].values[k].second, y.tests[t].values[k].second))
            << x.tests[t].name << " " << x.tests[t].values[k].first;
    }
    ASSERT_EQ(x.summary.has_value(), y.summary.has_value());
    if (x.summary) {
      EXPECT_EQ(x.summary->counts, y.summary->counts);
      EXPECT_EQ(x.summary->at_or_below, y.summary->at_or_below);
      EXPECT_EQ(x.summary->sums.s2, y.summary->sums.s2);
      EXPECT_EQ(x.summary->ks_critical, y.summary->ks_critical);
    }
    EXPECT_TRUE(same(x.detectable_variance_error, y.detectable_variance_error));
    EXPECT_TRUE(same(x.detectable_mean_shift, y.detectable_mean_shift));
  }
}

run_request small_request(int threads) {
  run_request request;
  request.options.threads = threads;
  request.options.summaries = true;
  for (const auto& [spec, shape, layout, type, n] :
       std::vector<std::tuple<const char*, verinit::tensor_shape, verinit::layout, verinit::dtype,
                              std::int64_t>>{
           {"he_normal", {256, 512}, verinit::layout::torch, verinit::dtype::float32, 600'000},
           {"uniform(a=-0.3,b=0.3)",
            {3, 3, 64, 32},
            verinit::layout::keras,
            verinit::dtype::float64,
            300'000},
           {"truncated_normal",
            {100, 100},
            verinit::layout::torch,
            verinit::dtype::float32,
            200'000},
           {"sparse(sparsity=0.1)",
            {100, 50},
            verinit::layout::torch,
            verinit::dtype::float32,
            50'000},
           {"orthogonal", {8, 8}, verinit::layout::torch, verinit::dtype::float32, 100 * 64}})
    request.cases.push_back({case_spec::of(spec, shape, layout, type, n), std::nullopt, "verinit"});
  return request;
}

TEST(RunnerTest, SlowResultsAreTheSameBitsOnAnyThreadCount) {
  const run_result one = run(small_request(1));
  EXPECT_TRUE(one.passed);
  EXPECT_EQ(one.threads_used, 1);
  for (int threads : {2, 3, 7}) {
    const run_result other = run(small_request(threads));
    EXPECT_EQ(other.threads_used, threads);
    expect_same_numbers(one, other);
  }
  // Streamed beyond a small memory budget: the same bits on 1 and 3 threads too.
  run_request streamed = small_request(1);
  streamed.cases.resize(1);
  streamed.options.memory_bytes = 1 << 20;  // 600,000 float32 need 4.8 MB
  const run_result a = run(streamed);
  streamed.options.threads = 3;
  const run_result b = run(streamed);
  EXPECT_NE(a.cases[0].tests[1].note.find("streaming"), std::string::npos);
  expect_same_numbers(a, b);
}

TEST(RunnerTest, SixteenBitCasesBeyondTheBudgetAreStreamedWithTheInMemoryNumbers) {
  // 3 * 10^6 float16 / bfloat16 weights (6 MB) under a 1 MiB budget: pieces of a quarter of it,
  // each histogrammed and lag-summed into a grid_stream. The histogram's tests are the in-memory
  // run's bits; the lag-1 sum adds the same products in another order (pieces, then blocks);
  // the same bits on 1 and 3 threads.
  for (const auto type : {verinit::dtype::float16, verinit::dtype::bfloat16}) {
    run_request request;
    request.cases.push_back(
        {case_spec::of("he_normal", {100, 1000}, verinit::layout::torch, type, 3'000'000),
         std::nullopt, "verinit"});
    request.options.threads = 1;
    const run_result in_memory = run(request);
    request.options.memory_bytes = 1 << 20;
    const run_result streamed = run(request);
    request.options.threads = 3;
    const run_result three = run(request);
    ASSERT_TRUE(in_memory.passed);
    ASSERT_TRUE(streamed.passed);
    expect_same_numbers(streamed, three);
    const auto& a = in_memory.cases[0].tests;
    const auto& b = streamed.cases[0].tests;
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].name, b[i].name);
      if (a[i].name == "autocorrelation") {
        EXPECT_NEAR(a[i].statistic, b[i].statistic, 1e-9 * std::abs(a[i].statistic) + 1e-12);
      } else {
        EXPECT_EQ(a[i].statistic, b[i].statistic) << a[i].name;
        EXPECT_EQ(a[i].p_value, b[i].p_value) << a[i].name;
      }
    }
    EXPECT_EQ(streamed.cases[0].n, 3'000'000);
  }
}

TEST(RunnerTest, SixteenBitSamplesFinishedAtFiftyThreeBitsFollowTheRoundedLaw) {
  // In float16, normal(std=1e-6) and uniform(-3e-5, 2e-5) lie among the subnormals (below
  // 2^-14), where the one-word cell pass decides nothing: every sample is refined by a second
  // word and finished at 53 bits. 4 * 10^6 of them pass every grid test; so do bfloat16's
  // normals, refined only in the wedges, the tail and near 0.
  for (const auto& [spec, type] :
       {std::pair{"normal(std=1e-6)", verinit::dtype::float16},
        {"uniform(a=-3e-5,b=2e-5)", verinit::dtype::float16},
        {"truncated_normal(std=1e-6,a=-1.5e-6,b=2e-6)", verinit::dtype::float16},
        {"normal(std=3)", verinit::dtype::bfloat16}}) {
    run_request request;
    request.cases.push_back(
        {case_spec::of(spec, {1000, 1000}, verinit::layout::torch, type, 4'000'000), std::nullopt,
         "verinit"});
    const run_result result = run(request);
    EXPECT_TRUE(result.passed) << spec;
    for (const auto& t : result.cases[0].tests)
      EXPECT_TRUE(t.passed) << spec << ": " << t.name << " p = " << t.p_value;
  }
}

TEST(RunnerTest, SixteenBitSparseTensorsAllowNonZerosThatRoundToZero) {
  // float16 sparse(std=1e-6): about 2.4% of the non-zero draws round to 0 (below half of
  // float16's smallest subnormal, 6e-8). The zero pattern allows them and the non-zeros are
  // tested against the rounded law conditioned on != 0: correct weights pass, in both dtypes.
  // Too few zeros, or non-zeros of another std, fail.
  const verinit::tensor_shape shape{400, 500};
  for (const auto type : {verinit::dtype::float16, verinit::dtype::bfloat16}) {
    run_request request;
    request.cases.push_back({case_spec::of("sparse(sparsity=0.1,std=1e-6)", shape,
                                           verinit::layout::torch, type, 2'000'000),
                             std::nullopt, "verinit"});
    const run_result good = run(request);
    EXPECT_TRUE(good.passed) << verinit::to_string(type);
    ASSERT_EQ(good.cases[0].tests.front().name, "sparsity");
  }
  using verinit::float16_t;
  const auto sample = [&](const char* spec) {
    return verinit::sample<float16_t>(shape, verinit::parse_scheme(spec), {});
  };
  const auto request_for = [&](const std::vector<float16_t>& w) {
    run_request request;
    request.cases.push_back({case_spec::of("sparse(sparsity=0.1,std=1e-6)", shape),
                             verinit::view_of(std::span<const float16_t>(w), shape), "w"});
    return request;
  };
  EXPECT_TRUE(run(request_for(sample("sparse(sparsity=0.1,std=1e-6)"))).passed);
  EXPECT_FALSE(run(request_for(sample("sparse(sparsity=0.05,std=1e-6)"))).passed);  // few zeros
  EXPECT_FALSE(run(request_for(sample("sparse(sparsity=0.1,std=1.1e-6)"))).passed);
  // A sampler that never rounds a non-zero to 0 (here: the float64 draws rounded, then pushed
  // to the smallest subnormal): the zero pattern alone, ~4,300 zeros short of the rounding's.
  const auto wide =
      verinit::sample<double>(shape, verinit::parse_scheme("sparse(sparsity=0.1,std=1e-6)"), {});
  std::vector<float16_t> never_zero(wide.size());
  for (std::size_t i = 0; i < wide.size(); ++i) {
    never_zero[i] = verinit::round_to<float16_t>(wide[i]);
    if (wide[i] != 0 && verinit::to_double(never_zero[i]) == 0)
      never_zero[i] = float16_t::from_bits(wide[i] > 0 ? 0x0001 : 0x8001);
  }
  const run_result flushed = run(request_for(never_zero));
  EXPECT_FALSE(flushed.passed);
  EXPECT_FALSE(flushed.cases[0].tests.front().passed) << flushed.cases[0].tests.front().note;
}

TEST(RunnerTest, GivenSamplesRunSideBySideWithTheSameBits) {
  // A model's small tensors run side by side, one thread each: the same numbers as on one
  // thread, every case reported once. Float32 and float64 i.i.d. laws, a bfloat16 tensor (its
  // rounded law built while others run), a sparse one, one that fails, and one beyond the
  // side-by-side size (run alone, on all threads).
  const auto normal = verinit::parse_scheme("he_normal");
  std::vector<std::vector<float>> floats;
  std::vector<verinit::tensor_shape> shapes;
  for (const auto& shape : std::vector<verinit::tensor_shape>{
           {64, 32}, {256, 128}, {4, 4}, {512, 512}, {1100, 1000}, {8, 3, 3, 3}}) {
    verinit::fill_options seed;
    seed.seed = static_cast<std::uint64_t>(floats.size() + 1);
    floats.push_back(verinit::sample<float>(shape, normal, seed));
    shapes.push_back(shape);
  }
  const verinit::tensor_shape wide{128, 256};
  const auto doubles = verinit::sample<double>(wide, verinit::parse_scheme("xavier_uniform"), {});
  const auto halves = verinit::sample<verinit::bfloat16_t>(wide, normal, {});
  const auto sparse =
      verinit::sample<float>(wide, verinit::parse_scheme("sparse(sparsity=0.3)"), {});
  verinit::fill_options other_seed;
  other_seed.seed = 99;
  const auto wrong = verinit::sample<float>(shapes[3], normal, other_seed);
  const auto request_on = [&](int threads) {
    run_request request;
    request.options.threads = threads;
    request.options.summaries = true;
    for (std::size_t k = 0; k < floats.size(); ++k)
      request.cases.push_back({case_spec::of("he_normal", shapes[k]),
                               verinit::view_of(std::span<const float>(floats[k]), shapes[k]),
                               "m"});
    request.cases.push_back({case_spec::of("xavier_uniform", wide),
                             verinit::view_of(std::span<const double>(doubles), wide), "m"});
    request.cases.push_back({case_spec::of("he_normal", wide),
                             verinit::view_of(std::span<const verinit::bfloat16_t>(halves), wide),
                             "m"});
    request.cases.push_back({case_spec::of("sparse(sparsity=0.3)", wide),
                             verinit::view_of(std::span<const float>(sparse), wide), "m"});
    request.cases.push_back({case_spec::of("lecun_normal", shapes[3]),  // the wrong law
                             verinit::view_of(std::span<const float>(wrong), shapes[3]), "m"});
    return request;
  };
  const run_result one = run(request_on(1));
  EXPECT_FALSE(one.passed);
  EXPECT_FALSE(one.cases.back().passed);
  for (std::size_t c = 0; c + 1 < one.cases.size(); ++c) EXPECT_TRUE(one.cases[c].passed) << c;
  for (int threads : {2, 3}) {
    run_request request = request_on(threads);
    std::vector<int> reported(request.cases.size(), 0);
    request.progress = [&](std::size_t index, std::size_t total, std::string_view) {
      EXPECT_EQ(total, reported.size());
      ++reported.at(index);
    };
    const run_result other = run(request);
    expect_same_numbers(one, other);
    EXPECT_EQ(reported, std::vector<int>(reported.size(), 1)) << threads;
  }
}

TEST(RunnerTest, SamplesFromElsewhereAreTestedAgainstTheScheme) {
  const verinit::tensor_shape shape{100, 1000};
  const auto weights = verinit::sample<double>(shape, verinit::parse_scheme("normal"), {});
  run_request request;
  request.cases.push_back({case_spec::of("he_normal", shape),
                           verinit::view_of(std::span<const double>(weights), shape), "w.npy"});
  const run_result result = run(request);
  EXPECT_FALSE(result.passed);  // unit normals are not He-normal on fan_in 1000
  EXPECT_EQ(result.cases[0].source, "w.npy");
  EXPECT_EQ(result.cases[0].spec.type, verinit::dtype::float64);
  EXPECT_EQ(result.cases[0].n, 100'000);
  EXPECT_EQ(result.cases[0].canonical(), "he_normal");
}

TEST(RunnerTest, TensorsWithTheSameBytesFailTheDistinctCheckNamingEachOther) {
  // Layers 0 and 2 drawn from one seed (a stream reused: every marginal test passes); layer 1
  // drawn apart; two 32-value biases alike (below the 64 values a digest is compared at).
  const verinit::tensor_shape shape{64, 128}, bias{32};
  const auto scheme = verinit::parse_scheme("he_normal");
  verinit::fill_options seed1, seed2;
  seed1.seed = 1;
  seed2.seed = 2;
  const auto a = verinit::sample<float>(shape, scheme, seed1);
  const auto b = verinit::sample<float>(shape, scheme, seed2);
  const auto c = verinit::sample<float>(shape, scheme, seed1);
  const auto small = verinit::sample<float>(bias, verinit::parse_scheme("normal"), seed1);
  run_request request;
  const auto add = [&](const std::vector<float>& w, const verinit::tensor_shape& s,
                       const char* spec, const char* name) {
    case_request r{case_spec::of(spec, s), verinit::view_of(std::span<const float>(w), s), "m"};
    r.tensor = name;
    request.cases.push_back(std::move(r));
  };
  add(a, shape, "he_normal", "layer0.weight");
  add(b, shape, "he_normal", "layer1.weight");
  add(c, shape, "he_normal", "layer2.weight");
  add(small, bias, "normal", "layer0.bias");
  add(small, bias, "normal", "layer1.bias");
  const run_result result = run(request);
  EXPECT_FALSE(result.passed);
  const auto distinct = [&](std::size_t i) -> const test_result* {
    for (const auto& t : result.cases[i].tests)
      if (t.name == "distinct") return &t;
    return nullptr;
  };
  ASSERT_NE(distinct(0), nullptr);
  ASSERT_NE(distinct(2), nullptr);
  EXPECT_FALSE(distinct(0)->passed);
  EXPECT_TRUE(distinct(0)->exact);
  EXPECT_NE(distinct(0)->note.find("'layer2.weight'"), std::string::npos) << distinct(0)->note;
  EXPECT_NE(distinct(2)->note.find("'layer0.weight'"), std::string::npos) << distinct(2)->note;
  EXPECT_FALSE(result.cases[0].passed);
  EXPECT_FALSE(result.cases[2].passed);
  EXPECT_EQ(distinct(1), nullptr);
  EXPECT_TRUE(result.cases[1].passed);
  EXPECT_EQ(distinct(3), nullptr);
  EXPECT_EQ(distinct(4), nullptr);
  // Every marginal test of the reused stream passes: only the digest sees it.
  for (const auto& t : result.cases[2].tests) {
    if (t.name != "distinct") {
      EXPECT_TRUE(t.passed) << t.name;
    }
  }
}

TEST(RunnerTest, Float32SamplesOnABfloat16GridGetTheRoundedLaw) {
  // Correct bfloat16 weights saved as float32 (.float() before saving): against the continuous
  // law they fail KS at 10^6 (p ~ 1e-15); they are recognised and tested on their grid.
  const verinit::tensor_shape shape{1000, 1000};
  const auto b =
      verinit::sample<verinit::bfloat16_t>(shape, verinit::parse_scheme("he_normal"), {});
  std::vector<float> as_float(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) as_float[i] = static_cast<float>(b[i]);
  run_request request;
  request.cases.push_back({case_spec::of("he_normal", shape),
                           verinit::view_of(std::span<const float>(as_float), shape), "w.npy"});
  const run_result result = run(request);
  EXPECT_TRUE(result.passed);
  const case_result& c = result.cases[0];
  EXPECT_EQ(c.spec.type, verinit::dtype::float32);
  ASSERT_FALSE(c.tests.empty());
  EXPECT_NE(c.tests[0].note.find("every value is a bfloat16 value"), std::string::npos)
      << c.tests[0].note;
  EXPECT_EQ(c.tests[2].name, "chi_square");
  // The same samples in bfloat16 give the same tests.
  request.cases[0].samples = verinit::view_of(std::span<const verinit::bfloat16_t>(b), shape);
  const run_result direct = run(request);
  ASSERT_EQ(direct.cases[0].tests.size(), c.tests.size());
  for (std::size_t t = 0; t < c.tests.size(); ++t)
    EXPECT_TRUE(same(direct.cases[0].tests[t].p_value, c.tests[t].p_value)) << c.tests[t].name;
}

TEST(RunnerTest, ProgressIsReportedBeforeEachCase) {
  run_request request = small_request(2);
  request.cases.resize(2);
  std::vector<std::string> seen;
  request.progress = [&](std::size_t index, std::size_t total, std::string_view what) {
    EXPECT_EQ(total, 2u);
    EXPECT_EQ(index, seen.size());
    seen.emplace_back(what);
  };
  run(request);
  EXPECT_EQ(seen, (std::vector<std::string>{"he_normal", "uniform(a=-0.3,b=0.3)"}));
}

TEST(RunnerTest, ReplicationsAreDecidedByTwoLevelTests) {
  run_request request;
  request.cases.push_back(
      {case_spec::of("kaiming_uniform(a=0.2)", {64, 32, 3, 3}, verinit::layout::torch,
                     verinit::dtype::float32, 200'000, 20),
       std::nullopt, "verinit"});
  const run_result result = run(request);
  EXPECT_TRUE(result.passed);
  const case_result& c = result.cases[0];
  EXPECT_EQ(c.n, 20 * 202'752);  // 20 x 11 tensors of 18,432
  for (const auto& t : c.tests) {
    if (t.exact) {
      EXPECT_NE(t.note.find("summed over 20"), std::string::npos) << t.name;
    } else if (t.name == "repeated_runs") {
      EXPECT_NE(t.note.find("summed over 20"), std::string::npos);
      ASSERT_EQ(t.values.size(), 1u);
      EXPECT_EQ(t.values[0].first, "null_mean_bound");
    } else {
      EXPECT_NE(t.note.find("two-level"), std::string::npos) << t.name;
    }
  }
  EXPECT_TRUE(std::isnan(c.detectable_variance_error));  // no one-level statement
}

TEST(RunnerTest, ThePowerStatementComesFromTheZTests) {
  run_request request = small_request(2);
  request.cases.resize(1);
  const run_result result = run(request);
  // effect = z_{1 - alpha/(2m)} + z_{0.99}, times the variance test's relative standard error
  // sqrt(2/n) and the mean test's 1/sqrt(n).
  const double m = static_cast<double>(result.family_size);
  const boost::math::normal_distribution<> standard;
  const double effect = boost::math::quantile(boost::math::complement(standard, 1e-6 / (2 * m))) +
                        boost::math::quantile(standard, 0.99);
  const double n = static_cast<double>(result.cases[0].n);
  EXPECT_NEAR(result.cases[0].detectable_variance_error, effect * std::sqrt(2 / n), 1e-12);
  EXPECT_NEAR(result.cases[0].detectable_mean_shift, effect / std::sqrt(n), 1e-12);
}

TEST(RunnerTest, InputErrorsComeBeforeAnyWork) {
  const auto expect_error = [](run_request request, const char* part) {
    try {
      run(request);
      FAIL() << part;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  run_request bad = small_request(1);
  bad.options.alpha = 1.5;
  expect_error(bad, "alpha is 1.5");
  bad = small_request(1);
  bad.options.threads = 5000;
  expect_error(bad, "threads is 5000");
  bad = small_request(1);
  bad.options.memory_bytes = 10;
  expect_error(bad, "memory");
  bad = small_request(1);
  bad.cases.push_back({case_spec::of("he_normal", {10}), std::nullopt, "verinit"});
  expect_error(bad, "dims");  // a fan-based scheme on a 1-D tensor
  bad = small_request(1);
  bad.cases.push_back({case_spec::of("orthogonal", {256, 256}, verinit::layout::torch,
                                     verinit::dtype::float32, 256 * 256 * 40),
                       std::nullopt, "verinit"});
  bad.options.memory_bytes = 4 << 20;
  expect_error(bad, "not i.i.d.");
  // Structured schemes need whole tensors.
  const std::vector<float> seven(7);
  bad = small_request(1);
  bad.cases.push_back(
      {case_spec::of("eye", {2, 2}),
       verinit::view_of(std::span<const float>(seven), std::vector<std::int64_t>{7}), "x"});
  expect_error(bad, "multiple");
  EXPECT_THROW(case_spec::of("nope", {2, 2}), std::invalid_argument);
}

TEST(RunnerTest, BatteriesAreRequests) {
  const run_request smoke = battery_request("smoke", {});
  EXPECT_EQ(smoke.cases.size(), 32u);  // 28 + 4 in 16 bits
  EXPECT_FALSE(smoke.propagation.has_value());
  EXPECT_TRUE(battery_request("standard", {}).propagation.has_value());
  EXPECT_EQ(smoke.cases[13].spec.spelling, "glorot_normal(gain=1.5)");
  EXPECT_EQ(smoke.cases[13].spec.scheme.spec(), "xavier_normal(gain=1.5)");
  EXPECT_THROW(battery("huge"), std::invalid_argument);
}

}  // namespace
