// verinit verify under MPI (mpiexec -n R, R = 1, 2, 3 on this machine, oversubscribed): the JSON
// is the one process's bit for bit (timing aside) for sampled cases in memory and streamed,
// float and 16-bit, and for a checkpoint of three shards; a tensor copied into another and a
// NaN tensor fail named; an input error exits 2 on every rank, nothing left waiting.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>

#include "cli_support.hpp"

namespace {

using namespace verinit::cli_test;

// mpiexec on this machine: as root if need be, more ranks than cores, shared memory only
// (../shared/research/distributed.md: the UCX probe costs 0.2 s and finds nothing here).
std::string mpiexec(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader " +
         std::string(VERINIT_MPIEXEC) + " " + VERINIT_MPIEXEC_NUMPROC_FLAG + " " +
         std::to_string(ranks) + " ";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The results document up to its timing (written last).
std::string without_timing(const std::string& path) {
  const std::string text = read_text(path);
  return text.substr(0, text.find("\n  \"timing\""));
}

class MpiTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("verinit_mpi_test_" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string out(const std::string& name) const { return (dir_ / name).string(); }

  // `arguments` (with --json) on one process, then under mpiexec -n for each of `counts`: the
  // same results.
  void expect_same_on_every_rank_count(const std::string& arguments, int status,
                                       std::initializer_list<int> counts = {1, 2, 3}) {
    const auto serial = run(arguments + " --json " + out("serial.json"));
    ASSERT_EQ(serial.status, status) << serial.out;
    const std::string expected = without_timing(out("serial.json"));
    ASSERT_GT(expected.size(), 100U);
    for (const int ranks : counts) {
      const std::string json = out("r" + std::to_string(ranks) + ".json");
      const auto split = run(arguments + " --json " + json, mpiexec(ranks));
      EXPECT_EQ(split.status, status) << ranks << " ranks: " << split.out;
      EXPECT_EQ(without_timing(json), expected) << ranks << " ranks";
      const auto doc = nlohmann::json::parse(read_text(json));
      EXPECT_EQ(doc["timing"]["shares"].size(), static_cast<std::size_t>(ranks));
      // Rank 0 alone prints the results.
      EXPECT_EQ(split.out.find("PASSED"), split.out.rfind("PASSED")) << split.out;
    }
  }
};

TEST_F(MpiTest, TheSmokeBatteryIsTheSerialJsonOnOneTwoThreeRanks) {
  expect_same_on_every_rank_count("verify --battery smoke --threads 2", 0);
}

TEST_F(MpiTest, StreamedCasesSplitByPieceRangesAreTheSerialJson) {
  // 10^7 float32 weights under a 16 MiB budget: 10 pieces of 10^6, dealt as ranges.
  expect_same_on_every_rank_count(
      "verify --scheme he_normal --shape 256,512 --samples 10000000 --memory 16M --threads 2", 0);
  // bfloat16: the histograms summed, the pieces' lag-1 records replayed in order.
  expect_same_on_every_rank_count(
      "verify --scheme xavier_uniform --shape 256,512 --dtype bfloat16 --samples 4000000 "
      "--memory 4M --threads 1",
      0, {3});
}

TEST_F(MpiTest, ACheckpointOfThreeShardsIsTheSerialJsonAndNamesCopiesAndNaNs) {
  const auto w0 = sampled("--scheme he_normal --shape 128,256 --seed 1", out("a.npy"), 128 * 256);
  const auto w1 = sampled("--scheme he_normal --shape 128,256 --seed 2", out("b.npy"), 128 * 256);
  const auto w2 = sampled("--scheme he_normal --shape 128,256 --seed 3", out("c.npy"), 128 * 256);
  write_checkpoint(out("model-00001-of-00003.safetensors"), {{"layer0.weight", w0}}, {{128, 256}},
                   false);
  write_checkpoint(out("model-00002-of-00003.safetensors"), {{"layer1.weight", w1}}, {{128, 256}},
                   false);
  write_checkpoint(out("model-00003-of-00003.safetensors"), {{"layer2.weight", w2}}, {{128, 256}},
                   false);
  const auto index = [&](const std::string& name) {
    std::ofstream(out(name)) << R"({"metadata": {}, "weight_map": {
        "layer0.weight": "model-00001-of-00003.safetensors",
        "layer1.weight": "model-00002-of-00003.safetensors",
        "layer2.weight": "model-00003-of-00003.safetensors"}})";
  };
  index("model.safetensors.index.json");
  std::ofstream(out("rules.toml")) << "[[rule]]\nmatch = '*.weight'\nexpect = 'he_normal'\n"
                                      "[[rule]]\nmatch = '*.num_batches_tracked'\nskip = true\n";
  const std::string arguments = "verify --input " + out("model.safetensors.index.json") +
                                " --rules " + out("rules.toml") + " --threads 2";
  expect_same_on_every_rank_count(arguments, 0);

  // Shard 3 holds a copy of layer 0 (every rank seeded alike), shard 2 NaN in one weight.
  auto nan = w1;
  nan[4097] = std::numeric_limits<float>::quiet_NaN();
  write_checkpoint(out("model-00002-of-00003.safetensors"), {{"layer1.weight", nan}}, {{128, 256}},
                   false);
  write_checkpoint(out("model-00003-of-00003.safetensors"), {{"layer2.weight", w0}}, {{128, 256}},
                   false);
  expect_same_on_every_rank_count(arguments, 1, {3});
  const auto failed = run(arguments, mpiexec(3));
  EXPECT_EQ(failed.status, 1) << failed.out;
  EXPECT_NE(failed.out.find("FAIL  layer0.weight"), std::string::npos) << failed.out;
  EXPECT_NE(failed.out.find("FAIL  layer1.weight"), std::string::npos) << failed.out;
  EXPECT_NE(failed.out.find("FAIL  layer2.weight"), std::string::npos) << failed.out;
  const auto doc = nlohmann::json::parse(read_text(out("r3.json")));
  const auto note_of = [&](int c, const char* test) {
    for (const auto& t : doc["schemes"][c]["tests"])
      if (t["name"] == test)
        return t["note"].get<std::string>() + (t["passed"] ? " PASS" : " FAIL");
    return std::string("no ") + test;
  };
  EXPECT_NE(note_of(0, "distinct").find("'layer2.weight'"), std::string::npos)
      << note_of(0, "distinct");
  EXPECT_NE(note_of(2, "distinct").find("'layer0.weight'"), std::string::npos)
      << note_of(2, "distinct");
  EXPECT_EQ(note_of(1, "distinct"), "no distinct");
  EXPECT_NE(note_of(1, "support").find("FAIL"), std::string::npos) << note_of(1, "support");
}

TEST_F(MpiTest, InputErrorsExitTwoOnEveryRank) {
  const auto missing = run(
      "verify --input " + out("absent.safetensors") + " --rules " + out("absent.toml"), mpiexec(2));
  EXPECT_NE(missing.status, 0) << missing.out;
  EXPECT_NE(missing.out.find("verinit: "), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("absent"), std::string::npos) << missing.out;
  const auto usage = run("verify --alpha 2", mpiexec(2));
  EXPECT_EQ(usage.status, 2) << usage.out;
  EXPECT_NE(usage.out.find("alpha"), std::string::npos) << usage.out;
}

}  // namespace
