// Philox4x32-10 against Random123's known-answer vectors, and the engine's stream semantics.
#include "verinit/philox.hpp"

#include <gtest/gtest.h>

#include <boost/random/normal_distribution.hpp>
#include <vector>

#include "sampling.hpp"

namespace {

using verinit::philox4x32;

// Random123 1.09, tests/kat_vectors: "philox4x32 10 <ctr[4]> <key[2]> <expected[4]>".
struct known_answer {
  philox4x32::counter_type counter;
  philox4x32::key_type key;
  philox4x32::counter_type expected;
};

constexpr known_answer random123_vectors[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(PhiloxTest, MatchesRandom123KnownAnswers) {
  for (const auto& v : random123_vectors)
    EXPECT_EQ(philox4x32::bijection(v.counter, v.key), v.expected);
}

TEST(PhiloxTest, BijectionIsConstexpr) {
  static_assert(philox4x32::bijection({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u);
}

TEST(PhiloxTest, EngineEmitsTheBijectionOfSuccessiveCounters) {
  const std::uint64_t seed = 0x0123456789abcdefULL, stream = 0xfedcba9876543210ULL;
  philox4x32 engine(seed, stream);
  for (std::uint32_t position = 0; position < 3; ++position) {
    const auto block = philox4x32::bijection(
        {position, 0, static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
        philox4x32::key_of(seed));
    for (const auto word : block) EXPECT_EQ(engine(), word);
  }
}

TEST(PhiloxTest, DiscardSkipsExactly) {
  for (const std::uint64_t skip : {0ULL, 1ULL, 3ULL, 4ULL, 5ULL, 1001ULL, (1ULL << 34) + 3}) {
    philox4x32 stepped(7, 1), jumped(7, 1);
    stepped();  // start mid-group to exercise the buffered words
    jumped();
    if (skip < 5000) {
      for (std::uint64_t i = 0; i < skip; ++i) stepped();
    } else {  // compare against the counter arithmetic directly
      stepped.discard(skip);
    }
    jumped.discard(skip);
    EXPECT_EQ(stepped(), jumped()) << "skip " << skip;
  }
}

TEST(PhiloxTest, VectorisedStreamEqualsTheEngine) {
  // The fill's block streams must be the same words as philox4x32(seed, block), however the
  // requests are split (partial groups included).
  verinit::detail::philox_stream stream(42, 9);
  philox4x32 engine(42, 9);
  std::vector<std::uint32_t> words(1000);
  std::size_t done = 0;
  for (const std::size_t request : {1, 3, 17, 64, 256, 659}) {
    stream.generate(std::span(words.data() + done, request));
    done += request;
  }
  ASSERT_EQ(done, words.size());
  for (std::size_t i = 0; i < words.size(); ++i) ASSERT_EQ(words[i], engine()) << i;
}

TEST(PhiloxTest, VectorisedStreamCarriesIntoTheHighCounterWord) {
  // Groups straddling position 2^32 must carry into counter word 1.
  philox4x32 engine(3, 0);
  const std::uint64_t first = (1ULL << 32) - 2;
  engine.discard(4 * first);
  std::uint32_t words[16];
  verinit::detail::philox_groups(philox4x32::key_of(3), first, 0, 0, words, 2);
  verinit::detail::philox_groups(philox4x32::key_of(3), first + 2, 0, 0, words + 8, 2);
  for (const auto word : words) EXPECT_EQ(word, engine());
}

TEST(PhiloxTest, VectorKernelEqualsTheBijectionForEveryGroupCount) {
  // philox_groups runs 16 counters per vector step (hand-written AVX-512 where the CPU has it,
  // the portable loop elsewhere): every count of groups, full steps and partial tails, must
  // give the scalar bijection of each counter in order, with the stream in counter words 2-3.
  const auto key = philox4x32::key_of(0x5eed);
  const std::uint32_t stream_lo = 0x89abcdefu, stream_hi = 0x01234567u;
  // Both kernels: the portable loop always, the AVX-512 one where the CPU has it.
  for (const bool vector : {false, true})
    for (const std::uint64_t first : {0ULL, 12345ULL, (7ULL << 32) + 100}) {
      for (std::size_t groups = 1; groups <= 50; ++groups) {
        std::vector<std::uint32_t> words(4 * groups + 4, 0xdeadbeefu);
        verinit::detail::philox_groups(key, first, stream_lo, stream_hi, words.data(), groups,
                                       vector);
        for (std::size_t g = 0; g < groups; ++g) {
          const std::uint64_t counter = first + g;
          const auto block = philox4x32::bijection(
              {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
               stream_lo, stream_hi},
              key);
          for (std::size_t j = 0; j < 4; ++j)
            ASSERT_EQ(words[4 * g + j], block[j])
                << "vector " << vector << " first " << first << " groups " << groups;
        }
        for (std::size_t j = 4 * groups; j < words.size(); ++j)
          ASSERT_EQ(words[j], 0xdeadbeefu) << "wrote past the last group";
      }
    }
}

TEST(PhiloxTest, WorksAsABoostRandomEngine) {
  philox4x32 engine(1);
  boost::random::normal_distribution<double> normal;
  double sum = 0;
  for (int i = 0; i < 1000; ++i) sum += normal(engine);
  EXPECT_LT(std::abs(sum / 1000), 0.2);  // 6.3 standard errors: a smoke check of the concept
}

}  // namespace
