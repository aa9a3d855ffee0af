// The verinit executable: exit codes, one-line messages, and the files it writes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_support.hpp"

namespace {

using namespace verinit::cli_test;

class CliTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("verinit_cli_test_" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string out(const char* name) const { return (dir_ / name).string(); }
};

TEST_F(CliTest, SampleWritesANpyFileOfTheShape) {
  const auto r = run("sample --scheme he_normal --shape 64,32,3,3 --seed 1 --out " + out("w.npy"));
  EXPECT_EQ(r.status, 0) << r.out;
  std::ifstream file(out("w.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), {});
  EXPECT_NE(bytes.find("'shape': (64, 32, 3, 3)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 128 + 4u * 64 * 32 * 9);
}

TEST_F(CliTest, SampleIsDeterministicAcrossThreadCounts) {
  ASSERT_EQ(run("sample --scheme normal --shape 300,1000 --threads 1 --out " + out("a.npy")).status,
            0);
  ASSERT_EQ(run("sample --scheme normal --shape 300,1000 --threads 2 --out " + out("b.npy")).status,
            0);
  std::ifstream a(out("a.npy"), std::ios::binary), b(out("b.npy"), std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(a)), {}),
            std::string((std::istreambuf_iterator<char>(b)), {}));
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), {});
}

TEST_F(CliTest, SixteenBitSamplesGoToSafetensorsAndNpy) {
  // bfloat16 to safetensors: the header names the tensor, its dtype and shape, pads the data
  // to 8 bytes, and the same bits come out on 1 and 2 threads.
  const std::string args = "sample --scheme he_normal --shape 256,512 --dtype bfloat16 --seed 3";
  ASSERT_EQ(run(args + " --threads 1 --name fc.weight --out " + out("a.safetensors")).status, 0);
  ASSERT_EQ(run(args + " --threads 2 --name fc.weight --out " + out("b.safetensors")).status, 0);
  const std::string a = read_file(out("a.safetensors"));
  EXPECT_EQ(a, read_file(out("b.safetensors")));
  ASSERT_GE(a.size(), 8u);
  std::uint64_t header = 0;
  std::memcpy(&header, a.data(), 8);
  EXPECT_EQ((8 + header) % 8, 0u);
  EXPECT_EQ(a.size(), 8 + header + 2u * 256 * 512);
  const std::string json = a.substr(8, header);
  EXPECT_NE(
      json.find(R"("fc.weight":{"data_offsets":[0,262144],"dtype":"BF16","shape":[256,512]})"),
      std::string::npos)
      << json;
  // float16 to .npy ('<f2'); float16 and bfloat16 differ, and are not float32's first bytes.
  ASSERT_EQ(run("sample --scheme he_normal --shape 256,512 --dtype float16 --seed 3 --out " +
                out("h.npy"))
                .status,
            0);
  const std::string h = read_file(out("h.npy"));
  EXPECT_NE(h.find("'descr': '<f2'"), std::string::npos);
  EXPECT_EQ(h.size(), 128 + 2u * 256 * 512);
  EXPECT_NE(h.substr(128, 64), a.substr(8 + header, 64));
}

TEST_F(CliTest, Float64AndKerasLayout) {
  const auto r =
      run("sample --scheme 'variance_scaling(mode=fan_avg)' --shape 3,3,16,32 --layout keras "
          "--dtype float64 --out " +
          out("k.npy"));
  EXPECT_EQ(r.status, 0) << r.out;
  std::ifstream file(out("k.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), {});
  EXPECT_NE(bytes.find("'<f8'"), std::string::npos);
}

struct bad_case {
  const char* name;
  const char* arguments;
  const char* message_part;
};

class CliBadInputTest : public CliTest, public ::testing::WithParamInterface<bad_case> {};

TEST_P(CliBadInputTest, ExitsTwoWithOneLineNamingTheValue) {
  const auto r = run(std::string(GetParam().arguments)
                         .replace(std::string(GetParam().arguments).find("OUT"), 3, out("x.npy")));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(GetParam().message_part), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out("x.npy")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliBadInputTest,
    ::testing::Values(
        bad_case{"UnknownScheme", "sample --scheme nope --shape 3,3 --out OUT", "'nope'"},
        bad_case{"UnknownKey", "sample --scheme 'normal(sd=1)' --shape 3,3 --out OUT", "'sd'"},
        bad_case{"NanStd", "sample --scheme 'normal(std=nan)' --shape 3,3 --out OUT", "std is nan"},
        bad_case{"NegativeStd", "sample --scheme 'normal(std=-2)' --shape 3,3 --out OUT",
                 "std is -2"},
        bad_case{"EmptyInterval", "sample --scheme 'uniform(a=1,b=0)' --shape 3,3 --out OUT",
                 "a is 1, but must be < b = 0"},
        bad_case{"ZeroDim", "sample --scheme normal --shape 3,0 --out OUT", "dim 1 is 0"},
        bad_case{"NegativeDim", "sample --scheme normal --shape 3,-4 --out OUT", "dim 1 is -4"},
        bad_case{"FanSchemeOnOneDim", "sample --scheme he_normal --shape 10 --out OUT",
                 "number of dims is 1"},
        bad_case{"UnknownLayout", "sample --scheme normal --shape 3,3 --layout tf --out OUT",
                 "'tf'"},
        bad_case{"UnknownDtype", "sample --scheme normal --shape 3,3 --dtype int8 --out OUT",
                 "'int8'"},
        bad_case{"NegativeSeed", "sample --scheme normal --shape 3,3 --seed -1 --out OUT",
                 "--seed"},
        bad_case{"NegativeThreads", "sample --scheme normal --shape 3,3 --threads -1 --out OUT",
                 "threads is -1"},
        bad_case{"TooManyThreads", "sample --scheme normal --shape 3,3 --threads 100000 --out OUT",
                 "threads is 100000"},
        bad_case{"HugeTensor", "sample --scheme normal --shape 100000000,100000000,1000 --out OUT",
                 "element count"},
        bad_case{"MissingDirectory",
                 "sample --scheme normal --shape 3,3 --out /nonexistent/dir/OUT",
                 "/nonexistent/dir"},
        bad_case{"MissingScheme", "sample --shape 3,3 --out OUT", "--scheme"},
        bad_case{"BFloat16ToNpy", "sample --scheme normal --shape 3,3 --dtype bfloat16 --out OUT",
                 "numpy has no bfloat16; write it with --out FILE.safetensors"},
        bad_case{"UnknownExtension", "sample --scheme normal --shape 3,3 --out OUT.txt",
                 "a file ending in .npy or .safetensors"},
        bad_case{"OverflowsFloat32", "sample --scheme 'normal(std=1e308)' --shape 3,3 --out OUT",
                 "the law overflows float32"},
        bad_case{"OverflowsFloat16",
                 "sample --scheme 'normal(std=1e5)' --shape 3,3 --dtype float16 --out OUT",
                 "float16's largest finite value (65504)"},
        bad_case{"UnderflowsFloat16",
                 "sample --scheme 'normal(std=1e-9)' --shape 3,3 --dtype float16 --out OUT",
                 "below float16's resolution"},
        bad_case{"UnknownCommand", "bogus --out OUT", "'bogus'"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(CliTest, ListShowsEverySchemeAndParsesAsJson) {
  const auto text = run("list");
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("kaiming_uniform"), std::string::npos);
  EXPECT_NE(text.out.find("torch_linear"), std::string::npos);
  const auto json = run("list --json");
  ASSERT_EQ(json.status, 0);
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_GE(doc["schemes"].size(), 22u);
  bool found = false;
  for (const auto& s : doc["schemes"])
    if (s["name"] == "sparse") {
      found = true;
      EXPECT_EQ(s["params"][0]["key"], "sparsity");
      EXPECT_EQ(s["params"][0]["required"], true);
    }
  EXPECT_TRUE(found);
}

TEST_F(CliTest, HelpOnEveryLevelExitsZero) {
  for (const char* arguments : {"--help", "sample --help", "list --help", "demo --help",
                                "report --help", "propagate --help"}) {
    const auto r = run(arguments);
    EXPECT_EQ(r.status, 0) << arguments;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << arguments;
  }
  EXPECT_EQ(run("").status, 2);
}

}  // namespace

namespace {

class VerifyCliTest : public CliTest {};

TEST_F(VerifyCliTest, OneSchemePassesAndWritesJson) {
  const auto r =
      run("verify --scheme he_normal --shape 256,512 --samples 1000000 --json " + out("r.json"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("PASSED"), std::string::npos);
  std::ifstream file(out("r.json"));
  const auto doc = nlohmann::json::parse(file);
  EXPECT_EQ(doc["passed"], true);
  EXPECT_EQ(doc["alpha"], 1e-6);
  const auto& scheme = doc["schemes"][0];
  EXPECT_EQ(scheme["scheme"], "he_normal");
  EXPECT_EQ(scheme["n"], 1048576);
  for (const char* key : {"shape", "layout", "dtype", "tests", "summary"})
    EXPECT_TRUE(scheme.contains(key)) << key;
  EXPECT_FALSE(scheme.contains("timing"));  // timings sit in one place: the top-level object
  EXPECT_EQ(doc["timing"]["schemes"].size(), 1u);
  std::vector<std::string> names;
  for (const auto& t : scheme["tests"]) {
    names.push_back(t["name"]);
    for (const char* key : {"statistic", "p_value", "passed"}) EXPECT_TRUE(t.contains(key)) << key;
  }
  for (const char* name : {"ks", "anderson_darling", "variance", "mean", "support", "extreme",
                           "autocorrelation", "repeated_runs"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
}

TEST_F(VerifyCliTest, ReportDirectoryAndItsRebuildFromJsonAreIdentical) {
  const auto r = run("verify --scheme 'orthogonal(gain=2)' --shape 16,8 --samples 4096 --report " +
                     out("report"));
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* name : {"index.html", "summary.md", "results.json", "junit.xml"})
    EXPECT_TRUE(std::filesystem::is_regular_file(dir_ / "report" / name)) << name;
  const auto again = run("report --from " + out("report/results.json") + " --out " + out("again"));
  ASSERT_EQ(again.status, 0) << again.out;
  const auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  EXPECT_EQ(read(dir_ / "report" / "index.html"), read(dir_ / "again" / "index.html"));
  EXPECT_EQ(read(dir_ / "report" / "junit.xml"), read(dir_ / "again" / "junit.xml"));
  // Same seed, second run: only the timing differs.
  ASSERT_EQ(run("verify --scheme 'orthogonal(gain=2)' --shape 16,8 --samples 4096 --report " +
                out("second"))
                .status,
            0);
  auto first = nlohmann::json::parse(read(dir_ / "report" / "results.json"));
  auto second = nlohmann::json::parse(read(dir_ / "second" / "results.json"));
  first.erase("timing");
  second.erase("timing");
  EXPECT_EQ(first, second);
  EXPECT_EQ(read(dir_ / "report" / "junit.xml"), read(dir_ / "second" / "junit.xml"));
}

TEST_F(VerifyCliTest, MemoryBudgetSwitchesToStreamingAndIsChecked) {
  const auto r = run("verify --scheme he_normal --shape 1000,1000 --samples 2000000 --memory 8M");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("streaming"), std::string::npos);
  for (const char* bad : {"--memory 2X", "--memory -5G", "--memory 10", "--memory G"}) {
    const auto b = run(std::string("verify --scheme he_normal --shape 10,10 ") + bad);
    EXPECT_EQ(b.status, 2) << bad;
    EXPECT_NE(b.out.find("--memory"), std::string::npos) << bad;
  }
}

TEST_F(VerifyCliTest, ReportErrorsExitTwo) {
  const auto missing = run("report --from " + out("none.json") + " --out " + out("r"));
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.out.find("none.json"), std::string::npos);
  std::ofstream(out("bad.json")) << "{\"passed\": true}";
  const auto bad = run("report --from " + out("bad.json") + " --out " + out("r"));
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("'seed' is missing"), std::string::npos) << bad.out;
  std::filesystem::create_directories(dir_ / "mine");
  std::ofstream(out("mine/notes.txt")) << "keep";
  const auto clobber = run("verify --scheme he_normal --shape 10,10 --report " + out("mine"));
  EXPECT_EQ(clobber.status, 2);
  EXPECT_NE(clobber.out.find("holds files other than a verinit report"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "mine" / "notes.txt"));
}

TEST_F(VerifyCliTest, PropagatePrintsEveryConfigurationAndChecksItsOptions) {
  const auto r =
      run("propagate --depth 20 --width 32 --batch 16 --seeds 1 --json " + out("p.json"));
  EXPECT_TRUE(r.status == 0 || r.status == 1) << r.out;  // too small a network to insist
  for (const char* label : {"He + ReLU", "LeCun + SELU", "zeros + ReLU", "Xavier + ReLU"})
    EXPECT_NE(r.out.find(label), std::string::npos) << label;
  std::ifstream file(out("p.json"));
  const auto doc = nlohmann::json::parse(file);
  EXPECT_EQ(doc["propagation"]["cases"].size(), 10u);
  const auto bad = run("propagate --depth 5");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("depth"), std::string::npos);
}

TEST_F(VerifyCliTest, InputFileFromAnotherSamplerIsChecked) {
  // Samples of lecun_uniform claimed to be he_uniform: the gain dropped. Exit 1.
  ASSERT_EQ(run("sample --scheme lecun_uniform --shape 1000,1000 --out " + out("w.npy")).status, 0);
  const auto bad = run("verify --input " + out("w.npy") + " --expect he_uniform");
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_NE(bad.out.find("FAILED"), std::string::npos);
  const auto good = run("verify --input " + out("w.npy") + " --expect lecun_uniform");
  EXPECT_EQ(good.status, 0) << good.out;
  // Fans from --shape instead of the array's shape.
  const auto reshaped = run("verify --input " + out("w.npy") +
                            " --expect lecun_uniform --shape 1000,10,10");  // fan_in 100, not 1000
  EXPECT_EQ(reshaped.status, 1) << reshaped.out;
}

TEST_F(VerifyCliTest, SafetensorsInputIsVerifiedInPlace) {
  ASSERT_EQ(run("sample --scheme he_normal --shape 500,400 --name layer.weight --out " +
                out("w.safetensors"))
                .status,
            0);
  const auto pass = run("verify --input " + out("w.safetensors") + " --expect he_normal");
  EXPECT_EQ(pass.status, 0) << pass.out;
  const auto named =
      run("verify --input " + out("w.safetensors") + " --tensor layer.weight --expect he_normal");
  EXPECT_EQ(named.status, 0) << named.out;
  const auto wrong = run("verify --input " + out("w.safetensors") + " --expect xavier_normal");
  EXPECT_EQ(wrong.status, 1) << wrong.out;
  const auto missing =
      run("verify --input " + out("w.safetensors") + " --tensor bias --expect he_normal");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.out.find("has no tensor 'bias' (it has: layer.weight)"), std::string::npos)
      << missing.out;
  // 16-bit weights are verified against the law rounded to their grid.
  ASSERT_EQ(run("sample --scheme he_normal --shape 500,400 --dtype bfloat16 --out " +
                out("b.safetensors"))
                .status,
            0);
  const auto low = run("verify --input " + out("b.safetensors") + " --expect he_normal");
  EXPECT_EQ(low.status, 0) << low.out;
  EXPECT_NE(low.out.find("chi_square"), std::string::npos) << low.out;
  const auto low_wrong = run("verify --input " + out("b.safetensors") + " --expect xavier_normal");
  EXPECT_EQ(low_wrong.status, 1) << low_wrong.out;
  // Structured schemes in 16 bits: exact ones, orthogonal and sparse are verified.
  for (const char* scheme : {"eye", "ones", "orthogonal(gain=2)", "sparse(sparsity=0.1)"}) {
    const auto structured =
        run(std::string("verify --scheme '") + scheme + "' --shape 64,64 --dtype float16");
    EXPECT_EQ(structured.status, 0) << scheme << structured.out;
  }
}

TEST_F(VerifyCliTest, SixteenBitSchemesVerifyAndFloat32OnTheirGridIsRecognised) {
  const auto self =
      run("verify --scheme he_normal --shape 256,512 --dtype float16 --samples 1000000");
  EXPECT_EQ(self.status, 0) << self.out;
  // float16 samples written as float16 .npy, then verified: passes on the rounded law.
  ASSERT_EQ(
      run("sample --scheme xavier_uniform --shape 300,400 --dtype float16 --out " + out("h.npy"))
          .status,
      0);
  const auto h = run("verify --input " + out("h.npy") + " --expect xavier_uniform");
  EXPECT_EQ(h.status, 0) << h.out;
}

TEST_F(VerifyCliTest, AllZeroSparseIsDecidedByItsPattern) {
  // sparsity = 1 leaves no non-zero to test (this used to crash on an empty KS).
  const auto r = run("verify --scheme 'sparse(sparsity=1)' --shape 10,10 --samples 100");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("sparsity"), std::string::npos);
}

TEST_F(VerifyCliTest, NonFiniteSamplesAreAFailingVerdictThatSaysHowMany) {
  // A float32 .npy of 1000 zeros-and-NaNs, written by hand.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream file(out("nan.npy"), std::ios::binary);
  file.write("\x93NUMPY\x01\x00", 8);
  file.put(static_cast<char>(header.size()));
  file.put(0);
  file << header;
  for (int i = 0; i < 1000; ++i) {
    const float v = i % 100 == 0 ? NAN : 0.001f * static_cast<float>(i - 500);
    file.write(reinterpret_cast<const char*>(&v), 4);
  }
  file.close();
  const auto r = run("verify --input " + out("nan.npy") + " --expect 'uniform(a=-1,b=1)'");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("10 non-finite"), std::string::npos) << r.out;
}

TEST_F(VerifyCliTest, UsageAndInputErrorsExitTwo) {
  for (const std::string arguments :
       {"verify --battery huge", "verify --scheme nope --shape 3,3", "verify --scheme he_normal",
        "verify --input /nonexistent.npy --expect he_normal", "verify --input x.npy",
        "verify --alpha 2", "verify --alpha -1",
        "verify --scheme normal --shape 3,3 --input x.npy --expect normal",
        "verify --scheme normal --shape 3,3 --samples 0",
        "verify --scheme normal --shape 3,3 --dtype int8", "verify --threads -2",
        "verify --tensor w --scheme normal --shape 3,3",
        "verify --input /nonexistent.safetensors --expect he_normal"}) {
    const auto r = run(arguments);
    EXPECT_EQ(r.status, 2) << arguments << "\n" << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << arguments << "\n" << r.out;
  }
  // A file that is not .npy: named in the message.
  { std::ofstream(out("junk.npy")) << "junk"; }
  const auto r = run("verify --input " + out("junk.npy") + " --expect normal");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("junk.npy"), std::string::npos);
}

// The results document of a run, without what may differ between thread counts: the timings
// and the thread count itself.
nlohmann::json numbers_of(const std::string& path) {
  std::ifstream file(path);
  auto doc = nlohmann::json::parse(file);
  doc.erase("timing");
  doc.erase("threads");
  return doc;
}

TEST_F(VerifyCliTest, SlowJsonIsTheSameBitsOnOneTwoThreeAndSevenThreads) {
  // Every number, written with 17 digits: bitwise. For --scheme (streamed too) and --input.
  ASSERT_EQ(run("sample --scheme 'kaiming_uniform(a=0.2)' --shape 64,32,3,3 --out " + out("w.npy"))
                .status,
            0);
  for (const std::string& arguments :
       {std::string("verify --scheme he_normal --shape 256,512 --samples 600000"),
        std::string("verify --scheme he_normal --shape 256,512 --samples 600000 --memory 1M"),
        std::string("verify --scheme 'glorot_normal(gain=1.5)' --shape 3,3,64,128 --layout keras "
                    "--dtype float64 --samples 300000"),
        "verify --input " + out("w.npy") + " --expect 'kaiming_uniform(a=0.2)'"}) {
    nlohmann::json first;
    for (const int threads : {1, 2, 3, 7}) {
      const auto r =
          run(arguments + " --threads " + std::to_string(threads) + " --json " + out("t.json"));
      ASSERT_EQ(r.status, 0) << arguments << "\n" << r.out;
      const auto doc = numbers_of(out("t.json"));
      if (threads == 1)
        first = doc;
      else
        EXPECT_EQ(doc.dump(), first.dump()) << arguments << " on " << threads << " threads";
    }
  }
}

// The smoke battery on 1, 2, 3 and 7 threads: ~30 s, so a test of its own, outside the
// sanitizer run (see tests/CMakeLists.txt).
TEST_F(VerifyCliTest, SlowBatteryJsonIsTheSameBitsOnAnyThreadCount) {
  nlohmann::json first;
  for (const int threads : {1, 2, 3, 7}) {
    const auto r = run("verify --battery smoke --threads " + std::to_string(threads) + " --json " +
                       out("smoke.json"));
    ASSERT_EQ(r.status, 0) << r.out;
    const auto doc = numbers_of(out("smoke.json"));
    if (threads == 1)
      first = doc;
    else
      EXPECT_EQ(doc.dump(), first.dump()) << threads << " threads";
  }
}

}  // namespace

namespace {

// bfloat16 weights as an .npy of their bit patterns ('<u2'), made from a safetensors file.
void write_bits_npy(const std::string& safetensors, const std::string& npy, std::size_t count) {
  std::ifstream in(safetensors, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  std::uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  const std::string data = bytes.substr(8 + header, count * 2);
  std::string dict =
      "{'descr': '<u2', 'fortran_order': False, 'shape': (" + std::to_string(count) + ",), }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::ofstream out(npy, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(dict.size() & 0xff));
  out.put(static_cast<char>(dict.size() >> 8));
  out << dict << data;
}

TEST_F(CliTest, SixteenBitPatternsAreReadWithInputDtype) {
  ASSERT_EQ(run("sample --scheme he_normal --shape 500,400 --dtype bfloat16 --out " +
                out("b.safetensors"))
                .status,
            0);
  write_bits_npy(out("b.safetensors"), out("bits.npy"), 200'000);
  const auto pass = run("verify --input " + out("bits.npy") +
                        " --input-dtype bfloat16 --expect he_normal --shape 500,400");
  EXPECT_EQ(pass.status, 0) << pass.out;
  EXPECT_NE(pass.out.find("bfloat16"), std::string::npos) << pass.out;
  const auto unnamed = run("verify --input " + out("bits.npy") + " --expect he_normal");
  EXPECT_EQ(unnamed.status, 2);
  EXPECT_NE(unnamed.out.find("--input-dtype bfloat16 or float16"), std::string::npos)
      << unnamed.out;
  const auto wide =
      run("verify --input " + out("bits.npy") + " --input-dtype float32 --expect he_normal");
  EXPECT_EQ(wide.status, 2);
  EXPECT_NE(wide.out.find("--input-dtype is 'float32'"), std::string::npos) << wide.out;
  const auto alone = run("verify --scheme normal --shape 10,10 --input-dtype bfloat16");
  EXPECT_EQ(alone.status, 2) << alone.out;
}

}  // namespace

namespace {

TEST_F(CliTest, IdentifyRanksTheSchemeThatMadeATensorFirst) {
  ASSERT_EQ(
      run("sample --scheme 'kaiming_uniform(mode=fan_out)' --shape 300,200 --out " + out("w.npy"))
          .status,
      0);
  const auto r = run("identify --input " + out("w.npy") + " --top 3 --json " + out("id.json"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("  1  PASS  kaiming_uniform(mode=fan_out)  D "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  2  FAIL  "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("  4  "), std::string::npos) << r.out;  // --top 3
  std::ifstream json_file(out("id.json"));
  const auto doc = nlohmann::json::parse(json_file);
  EXPECT_EQ(doc["candidates"][0]["scheme"], "kaiming_uniform(mode=fan_out)");
  EXPECT_EQ(doc["candidates"][0]["layout"], "torch");
  EXPECT_TRUE(doc["candidates"][0]["passed"]);
  EXPECT_GT(doc["candidates"].size(), 10u);
  EXPECT_LT(doc["candidates"][0]["statistic"].get<double>(),
            doc["candidates"][1]["statistic"].get<double>());
  // Values no scheme makes: exit 1 and says so; bad options exit 2.
  ASSERT_EQ(run("sample --scheme 'uniform(a=3,b=4)' --shape 300,200 --out " + out("u.npy")).status,
            0);
  const auto none = run("identify --input " + out("u.npy"));
  EXPECT_EQ(none.status, 1) << none.out;
  EXPECT_NE(none.out.find("no scheme of the catalogue fits"), std::string::npos) << none.out;
  EXPECT_EQ(run("identify --input " + out("w.npy") + " --top 0").status, 2);
  EXPECT_EQ(run("identify --input " + out("absent.npy")).status, 2);
}

TEST_F(CliTest, VerifiesACheckpointByItsRules) {
  const auto weight =
      sampled("--scheme torch_linear --shape 256,512 --seed 1", out("w.npy"), 256 * 512);
  const auto bias = sampled(
      "--scheme 'uniform(a=-0.044194173824159216,b=0.044194173824159216)' "
      "--shape 256 --seed 2",
      out("b.npy"), 256);
  auto doubled = weight;
  for (auto& x : doubled) x *= 2;
  write_checkpoint(out("m.safetensors"),
                   {{"fc.weight", weight}, {"fc.bias", bias}, {"head.weight", doubled}},
                   {{256, 512}, {256}, {256, 512}});
  std::ofstream(out("rules.toml")) << "[[rule]]\nmatch = '*.num_batches_tracked'\nskip = true\n"
                                      "[[rule]]\nmatch = '*.bias'\nexpect = 'torch_linear'\n"
                                      "fans_from = '{parent}.weight'\n"
                                      "[[rule]]\nmatch = '*.weight'\nexpect = 'torch_linear'\n";
  const auto listed = run("list-tensors --input " + out("m.safetensors"));
  EXPECT_EQ(listed.status, 0) << listed.out;
  EXPECT_NE(listed.out.find("bn.num_batches_tracked\tI64\t[]\t8"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("4 tensors"), std::string::npos);

  const auto bad = run("verify --input " + out("m.safetensors") + " --rules " + out("rules.toml") +
                       " --json " + out("m.json"));
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_NE(bad.out.find("FAIL  head.weight: "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("PASS  fc.bias: "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("skipped (1): bn.num_batches_tracked"), std::string::npos) << bad.out;
  std::ifstream json_file(out("m.json"));
  const auto doc = nlohmann::json::parse(json_file);
  EXPECT_EQ(doc["schemes"][2]["tensor"], "head.weight");
  EXPECT_EQ(doc["schemes"][2]["rule"], "*.weight");
  EXPECT_NE(doc["schemes"][2]["diagnosis"].get<std::string>().find("outside the law's support"),
            std::string::npos)
      << doc["schemes"][2].dump();

  // Without a rule for the biases: they are listed and fail the run.
  std::ofstream(out("partial.toml")) << "[[rule]]\nmatch = 'fc.weight'\nexpect = 'torch_linear'\n"
                                        "[[rule]]\nmatch = '*.num_batches_tracked'\nskip = true\n";
  const auto partial =
      run("verify --input " + out("m.safetensors") + " --rules " + out("partial.toml"));
  EXPECT_EQ(partial.status, 1) << partial.out;
  EXPECT_NE(partial.out.find("FAIL  no rule matches (2): fc.bias head.weight"), std::string::npos)
      << partial.out;

  // Bad rules and bad combinations: exit 2, one line.
  std::ofstream(out("bad.toml")) << "[[rule]]\nmatch = '*'\nexpect = 'kaiming_nromal'\n";
  const auto broken = run("verify --input " + out("m.safetensors") + " --rules " + out("bad.toml"));
  EXPECT_EQ(broken.status, 2);
  EXPECT_NE(broken.out.find("bad.toml: rule 1 ('*'): expect:"), std::string::npos) << broken.out;
  EXPECT_EQ(run("verify --input " + out("m.safetensors") + " --rules " + out("rules.toml") +
                " --expect normal")
                .status,
            2);
  EXPECT_EQ(
      run("verify --input " + out("m.safetensors") + " --rules " + out("missing.toml")).status, 2);
  std::ofstream(out("all.toml")) << "[[rule]]\nmatch = '*'\nexpect = 'torch_linear'\n";
  const auto ints = run("verify --input " + out("m.safetensors") + " --rules " + out("all.toml"));
  EXPECT_EQ(ints.status, 2);
  EXPECT_NE(ints.out.find("tensor 'bn.num_batches_tracked' is I64, not a weight"),
            std::string::npos)
      << ints.out;
}

}  // namespace
