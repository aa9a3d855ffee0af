// checkpoint: .npz archives built here byte by byte from PKWARE's APPNOTE.TXT (stored,
// deflated with zlib, Zip64 records and extra fields as Python's zipfile writes them for
// numpy.savez), Hugging Face's sharded safetensors (an index and its shards), directories, and
// every way each reader rejects a file.
#include "verinit/io/checkpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "verinit/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using verinit::io::checkpoint;
using verinit::io::checkpoint_views;

template <class T>
std::string bytes_of(const std::vector<T>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)};
}

// An .npy array: version 1.0, the dict padded with spaces and a newline to 64 bytes.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data,
                bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size() & 0xff) +
         static_cast<char>(dict.size() >> 8) + dict + data;
}

std::string le(std::uint64_t value, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

std::string raw_deflate(const std::string& data) {
  z_stream s{};
  deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, data.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

struct member {
  std::string name;  // the zip name ("w.npy")
  std::string data;  // the .npy bytes
  bool deflate = false;
};

// A zip archive of `members`. zip64: every header's sizes and offset deferred to a Zip64 extra
// field (as Python's zipfile does with force_zip64), and the Zip64 end record and locator.
std::string zip(const std::vector<member>& members, bool zip64 = false) {
  std::string body, directory;
  for (const auto& m : members) {
    const std::string stored = m.deflate ? raw_deflate(m.data) : m.data;
    const auto crc =
        crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size()));
    const std::uint64_t offset = body.size();
    const std::string extra =
        zip64 ? le(1, 2) + le(24, 2) + le(m.data.size(), 8) + le(stored.size(), 8) + le(offset, 8)
              : "";
    const std::string local_extra =
        zip64 ? le(1, 2) + le(16, 2) + le(m.data.size(), 8) + le(stored.size(), 8) : "";
    const std::uint64_t usize = zip64 ? 0xffffffff : m.data.size();
    const std::uint64_t csize = zip64 ? 0xffffffff : stored.size();
    const std::string common = le(m.deflate ? 8 : 0, 2) + le(0, 4) /* time, date */ + le(crc, 4) +
                               le(csize, 4) + le(usize, 4) + le(m.name.size(), 2);
    body += le(0x04034b50, 4) + le(45, 2) + le(0, 2) + common + le(local_extra.size(), 2) + m.name +
            local_extra + stored;
    directory += le(0x02014b50, 4) + le(45, 2) + le(45, 2) + le(0, 2) + common +
                 le(extra.size(), 2) + le(0, 2) /* comment */ + le(0, 2) /* disk */ + le(0, 2) +
                 le(0, 4) + le(zip64 ? 0xffffffff : offset, 4) + m.name + extra;
  }
  std::string out = body + directory;
  const std::uint64_t n = members.size();
  if (zip64) {
    const std::uint64_t record = out.size();
    out += le(0x06064b50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4) + le(n, 8) +
           le(n, 8) + le(directory.size(), 8) + le(body.size(), 8);
    out += le(0x07064b50, 4) + le(0, 4) + le(record, 8) + le(1, 4);
  }
  out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(zip64 ? 0xffff : n, 2) +
         le(zip64 ? 0xffff : n, 2) + le(zip64 ? 0xffffffff : directory.size(), 4) +
         le(zip64 ? 0xffffffff : body.size(), 4) + le(0, 2);
  return out;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verinit_checkpoint_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& bytes) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  // The message of opening `path` (and viewing every tensor), or "" if it succeeds.
  static std::string error_of(const fs::path& path) {
    try {
      const auto file = checkpoint::open(path);
      for (const auto& e : file.tensors()) {
        verinit::tensor_buffer fallback;
        if (e.type) (void)file.view(e, fallback);
      }
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
  const std::vector<float> weights_{1.5f, -2.0f, 0.25f, 3.0f, -0.5f, 8.0f};
  const std::vector<std::int64_t> count_{7};
};

TEST_F(CheckpointTest, ReadsStoredDeflatedAndZip64Npz) {
  const std::vector<member> members{
      {"layer.weight.npy", npy("<f4", "(2, 3)", bytes_of(weights_))},
      {"bn.num_batches_tracked.npy", npy("<i8", "()", bytes_of(count_))}};
  for (const bool deflate : {false, true})
    for (const bool zip64 : {false, true}) {
      auto m = members;
      for (auto& one : m) one.deflate = deflate;
      const auto path = write("m.npz", zip(m, zip64));
      const auto file = checkpoint::open(path);
      EXPECT_EQ(file.format(), "npz");
      ASSERT_EQ(file.tensors().size(), 2u);
      const auto& w = file.tensors()[0];
      EXPECT_EQ(w.name, "layer.weight");
      EXPECT_EQ(w.dtype_name, "F32");
      EXPECT_EQ(w.shape, (verinit::tensor_shape{2, 3}));
      EXPECT_EQ(w.bytes, 24u);
      EXPECT_EQ(w.file, path);
      const auto& n = *file.find("bn.num_batches_tracked");
      EXPECT_EQ(n.dtype_name, "I64");
      EXPECT_FALSE(n.type.has_value());
      EXPECT_TRUE(n.shape.empty());
      EXPECT_EQ(n.bytes, 8u);
      verinit::tensor_buffer fallback;
      const auto view = file.view(w, fallback);
      const auto got = view.elements<float>();
      EXPECT_EQ(std::vector<float>(got.begin(), got.end()), weights_)
          << "deflate " << deflate << " zip64 " << zip64;
      // Deflated members are inflated into the fallback.
      if (deflate) {
        EXPECT_EQ(view.bytes.data(), fallback.bytes.data());
      }
      EXPECT_THAT(error_of(path), "");
      verinit::tensor_buffer ignored;
      try {
        (void)file.view(n, ignored);
        ADD_FAILURE() << "an integer tensor was viewed as floats";
      } catch (const std::runtime_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("dtype '<i8'"));
      }
    }
}

TEST_F(CheckpointTest, ViewsAnAlignedStoredMemberInPlace) {
  // "ab.npy" puts the data at byte 30 + 6 + 64 = 100 of the file, a multiple of 4; the
  // mapping is page-aligned, so the floats are read where they lie.
  const auto path = write("m.npz", zip({{"ab.npy", npy("<f4", "(6,)", bytes_of(weights_))}}));
  const auto file = checkpoint::open(path);
  verinit::tensor_buffer fallback;
  const auto view = file.view(file.tensors()[0], fallback);
  EXPECT_TRUE(fallback.bytes.empty());
  EXPECT_EQ(std::memcmp(view.bytes.data(), weights_.data(), 24), 0);
}

TEST_F(CheckpointTest, ViewsEveryTensorWithinAMemoryBudgetSpillingTheRestToATemporaryFile) {
  // Three deflated float tensors (24 bytes each once inflated), an integer one and an aligned
  // stored one: the stored one is viewed in the mapping, the deflated ones copied, into memory
  // while the copies total at most the budget and beyond it into an unlinked temporary file;
  // the values are the same wherever they are held.
  std::vector<member> members;
  std::vector<std::vector<float>> values;
  members.push_back({"ab.npy", npy("<f4", "(6,)", bytes_of(weights_))});  // aligned, stored
  for (int k = 0; k < 3; ++k) {
    values.push_back(weights_);
    for (float& v : values.back()) v += static_cast<float>(k);
    members.push_back(
        {"d" + std::to_string(k) + ".npy", npy("<f4", "(2, 3)", bytes_of(values.back())), true});
  }
  members.push_back({"count.npy", npy("<i8", "()", bytes_of(count_))});
  const auto path = write("m.npz", zip(members));
  const auto file = checkpoint::open(path);
  const fs::path spill = dir_ / "spill";
  fs::create_directories(spill);
  for (const std::int64_t budget : {std::int64_t{0}, std::int64_t{30}, std::int64_t{1} << 20}) {
    const checkpoint_views views(file, budget, spill);
    EXPECT_EQ(views.bytes_in_memory(), budget == 0 ? 0u : budget == 30 ? 24u : 72u) << budget;
    EXPECT_EQ(views.bytes_spilled() > 0, budget < 72) << budget;
    ASSERT_TRUE(views[0].has_value());
    EXPECT_EQ(std::memcmp(views[0]->bytes.data(), weights_.data(), 24), 0);
    for (std::size_t k = 0; k < 3; ++k) {
      ASSERT_TRUE(views[k + 1].has_value());
      EXPECT_EQ(views[k + 1]->shape, (verinit::tensor_shape{2, 3}));
      const auto got = views[k + 1]->elements<float>();
      EXPECT_EQ(std::vector<float>(got.begin(), got.end()), values[k]) << budget << " " << k;
    }
    EXPECT_FALSE(views[4].has_value());
    // The temporary file is never linked into the directory.
    EXPECT_TRUE(fs::is_empty(spill));
  }
  // Where nothing can be written: one line naming the directory.
  try {
    const checkpoint_views views(file, 0, dir_ / "missing");
    ADD_FAILURE() << "spilled into a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot write a temporary file in '" +
                                    (dir_ / "missing").string() + "'"));
  }
}

TEST_F(CheckpointTest, ByteSwapsAndReordersWhatIsNotLittleEndianCOrder) {
  std::vector<float> big = weights_;
  for (auto& x : big) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    bits = __builtin_bswap32(bits);
    std::memcpy(&x, &bits, 4);
  }
  // Column-major (2, 3): the columns in turn.
  const std::vector<float> columns{weights_[0], weights_[3], weights_[1],
                                   weights_[4], weights_[2], weights_[5]};
  const auto path = write("m.npz", zip({{"big.npy", npy(">f4", "(2, 3)", bytes_of(big))},
                                        {"f.npy", npy("<f4", "(2, 3)", bytes_of(columns), true)}}));
  const auto file = checkpoint::open(path);
  for (const auto& e : file.tensors()) {
    verinit::tensor_buffer fallback;
    const auto got = file.view(e, fallback).elements<float>();
    EXPECT_EQ(std::vector<float>(got.begin(), got.end()), weights_) << e.name;
  }
}

TEST_F(CheckpointTest, ViewsSixteenBitPatternsAsTheNamedDtype) {
  const std::vector<std::uint16_t> bits{0x3f80, 0xbf80, 0x4000};  // bfloat16 1, -1, 2
  const auto path = write("m.npz", zip({{"w.npy", npy("<u2", "(3,)", bytes_of(bits))}}));
  const auto file = checkpoint::open(path);
  EXPECT_EQ(file.tensors()[0].dtype_name, "U16");
  verinit::tensor_buffer fallback;
  const auto view = file.view(file.tensors()[0], fallback, verinit::dtype::bfloat16);
  EXPECT_EQ(view.type, verinit::dtype::bfloat16);
  EXPECT_EQ(view.bytes.size(), 6u);
  EXPECT_EQ(std::memcmp(view.bytes.data(), bits.data(), 6), 0);
}

TEST_F(CheckpointTest, RefusesBadArchivesWithOneLineNamingTheProblem) {
  const std::string good = zip({{"w.npy", npy("<f4", "(2, 3)", bytes_of(weights_))}});
  const std::string deflated = zip({{"w.npy", npy("<f4", "(2, 3)", bytes_of(weights_)), true}});
  const auto at = [](const std::string& bytes, const std::string& signature) {
    return bytes.find(signature);
  };
  const std::string central = le(0x02014b50, 4);
  std::vector<std::pair<std::string, std::string>> cases;  // bytes, expected words
  cases.emplace_back(good.substr(0, good.size() - 5), "no end of central directory");
  cases.emplace_back(std::string(), "no end of central directory");
  {
    std::string b = good;
    b[at(b, central) + 8] = 1;  // the encryption flag
    cases.emplace_back(b, "is encrypted");
  }
  {
    std::string b = good;
    b[at(b, central) + 10] = 12;  // bzip2
    cases.emplace_back(b, "compression method 12");
  }
  {
    std::string b = good;
    b[at(b, central) + 16] ^= 0x55;  // the CRC
    cases.emplace_back(b, "CRC-32 does not match");
  }
  {
    std::string b = deflated;
    b[at(b, central) + 16] ^= 0x55;
    cases.emplace_back(b, "CRC-32 does not match");
  }
  {
    std::string b = deflated;
    const std::size_t data = 30 + 5;  // past the local header and its name
    for (std::size_t k = data; k < data + 8; ++k) b[k] = static_cast<char>(0xff);
    cases.emplace_back(b, "w.npy'");
  }
  {
    std::string b = deflated;  // the directory cuts the deflate stream short
    const std::size_t size_at = at(b, central) + 20;
    const auto compressed = static_cast<std::uint32_t>(static_cast<unsigned char>(b[size_at]));
    b.replace(size_at, 4, le(compressed - 6, 4));
    cases.emplace_back(b, "truncated");
  }
  {
    std::string b = deflated;  // a huge uncompressed size from a few bytes
    b.replace(at(b, central) + 24, 4, le(0xfffffff0, 4));
    cases.emplace_back(b, "beyond deflate's 1032:1");
  }
  {
    std::string b = good;  // the end record claims 60000 members
    b.replace(b.size() - 14, 4, le(60000, 2) + le(60000, 2));
    cases.emplace_back(b, "more than a central directory");
  }
  cases.emplace_back(zip({{"w.txt", "hello"}}), "is not an .npy array");
  cases.emplace_back(zip({{"w.npy", npy("<f4", "(2, 3)", bytes_of(weights_))},
                          {"w.npy", npy("<f4", "(2, 3)", bytes_of(weights_))}}),
                     "appears twice");
  cases.emplace_back(zip({{"w.npy", npy("<f4", "(2, 4)", bytes_of(weights_))}}),
                     "describes 32 bytes of data");
  cases.emplace_back(zip({{"w.npy", "not an array at all"}}), "bad magic");
  {
    std::string b = good;  // the local header's name differs from the directory's
    b[30] = 'x';
    cases.emplace_back(b, "local header disagrees");
  }
  {
    std::string b = good;  // the directory points its member past the directory
    b.replace(at(b, central) + 42, 4, le(1u << 20, 4));
    cases.emplace_back(b, "no local header at byte 1048576");
  }
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const auto path = write("bad.npz", cases[k].first);
    const std::string message = error_of(path);
    EXPECT_THAT(message, HasSubstr("cannot read '" + path.string() + "'")) << "case " << k;
    EXPECT_THAT(message, HasSubstr(cases[k].second)) << "case " << k;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "case " << k;
  }
}

class ShardedTest : public CheckpointTest {
 protected:
  // Two shards of safetensors and the index that maps a.weight, a.bias to the first and
  // b.weight to the second.
  fs::path write_sharded(const std::string& index_text = "") {
    using verinit::io::write_safetensors;
    const verinit::tensor_view w{
        verinit::dtype::float32, {2, 3}, std::as_bytes(std::span(weights_))};
    const verinit::tensor_view bias{
        verinit::dtype::float32, {3}, std::as_bytes(std::span(weights_).first(3))};
    const std::vector<std::pair<std::string, verinit::tensor_view>> first{{"a.weight", w},
                                                                          {"a.bias", bias}};
    const std::vector<std::pair<std::string, verinit::tensor_view>> second{{"b.weight", w}};
    write_safetensors(dir_ / "model-00001-of-00002.safetensors", first);
    write_safetensors(dir_ / "model-00002-of-00002.safetensors", second);
    return write("model.safetensors.index.json",
                 index_text.empty() ? R"({"metadata": {"total_size": 60}, "weight_map": {
                           "a.weight": "model-00001-of-00002.safetensors",
                           "a.bias": "model-00001-of-00002.safetensors",
                           "b.weight": "model-00002-of-00002.safetensors"}})"
                                    : index_text);
  }
};

TEST_F(ShardedTest, ReadsTheIndexAndItsShards) {
  const auto index = write_sharded();
  for (const auto& path : {index, dir_}) {  // the index, or the directory holding it
    const auto file = checkpoint::open(path);
    EXPECT_EQ(file.format(), "sharded safetensors");
    ASSERT_EQ(file.tensors().size(), 3u);
    EXPECT_EQ(file.tensors()[0].name, "a.weight");  // shard by shard, each in data order
    EXPECT_EQ(file.tensors()[2].name, "b.weight");
    EXPECT_EQ(file.tensors()[2].file, dir_ / "model-00002-of-00002.safetensors");
    const auto* bias = file.find("a.bias");
    ASSERT_NE(bias, nullptr);
    verinit::tensor_buffer fallback;
    const auto got = file.view(*bias, fallback).elements<float>();
    EXPECT_EQ(std::vector<float>(got.begin(), got.end()),
              std::vector<float>(weights_.begin(), weights_.begin() + 3));
    EXPECT_EQ(file.find("c"), nullptr);
  }
}

TEST_F(ShardedTest, RefusesAnIndexThatDisagreesWithItsShards) {
  const std::string shard1 = "model-00001-of-00002.safetensors";
  const std::string shard2 = "model-00002-of-00002.safetensors";
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"weight_map": {"a.weight": ")" + shard1 + R"(", "a.bias": ")" + shard1 +
           R"(", "b.weight": ")" + shard2 + R"(", "c.weight": ")" + shard2 + R"("}})",
       "maps tensor 'c.weight' to '" + shard2 + "', which does not hold it"},
      {R"({"weight_map": {"a.weight": ")" + shard1 + R"(", "b.weight": ")" + shard2 + R"("}})",
       "tensor 'a.bias' is not in the index"},
      {R"({"weight_map": {"a.weight": ")" + shard1 + R"(", "a.bias": ")" + shard2 +
           R"(", "b.weight": ")" + shard2 + R"("}})",
       "tensor 'a.bias' is mapped by the index to"},
      {R"({"weight_map": {"a.weight": "../elsewhere.safetensors"}})", "a plain file name"},
      {R"({"weight_map": {"a.weight": "missing.safetensors"}})",
       "shard 'missing.safetensors' is missing"},
      {R"({"weight_map": {"a.weight": ")" + shard1 + R"(", "a.weight": ")" + shard1 + R"("}})",
       "repeats the key 'a.weight'"},
      {R"({"weight_map": {"a.weight": 3}})", "to a number, not a shard file name"},
      {R"({"metadata": {}})", "\"weight_map\" object"},
      {R"({"weight_map": {}})", "maps no tensors"},
      {R"({"weight_map": )", "not valid JSON"},
  };
  for (const auto& [text, words] : cases) {
    const auto index = write_sharded(text);
    const std::string message = error_of(index);
    EXPECT_THAT(message, HasSubstr(words)) << text;
    EXPECT_THAT(message, HasSubstr("cannot read '")) << text;
    EXPECT_EQ(message.find('\n'), std::string::npos) << text;
  }
}

TEST_F(CheckpointTest, NamesWhatIsNoCheckpoint) {
  EXPECT_THAT(error_of(write("model.h5", "x")), HasSubstr("not a checkpoint by its name"));
  EXPECT_THAT(error_of(write("model.pt", "x")), HasSubstr("not a torch.save zip archive"));
  EXPECT_THAT(error_of(dir_), HasSubstr("a directory without model.safetensors"));
  EXPECT_THAT(error_of(dir_ / "absent.npz"), HasSubstr("no such file"));
  EXPECT_THAT(error_of(dir_ / "absent.safetensors"), HasSubstr("no such file"));
}

}  // namespace
