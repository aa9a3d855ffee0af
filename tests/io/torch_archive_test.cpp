// The .pt reader (torch_archive, torch_pickle) through checkpoint: files torch 1.13 wrote here
// and files with torch 2.x's additions (tests/data/make_pt_reference.py writes both, and
// expected.json, what torch.load returns for each), read bit for bit; then a table of hostile
// files built byte by byte, each refused in one line, naming the opcode, GLOBAL or value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "verinit/io/checkpoint.hpp"
#include "verinit/io/tensor_file.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using verinit::io::checkpoint;
using verinit::io::checkpoint_views;

const fs::path data_dir = fs::path(VERINIT_DATA_DIR) / "pt";

std::uint32_t crc_of(std::span<const std::byte> bytes) {
  return static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

nlohmann::json expected() {
  std::ifstream in(data_dir / "expected.json");
  return nlohmann::json::parse(in);
}

// ---- torch's own files ------------------------------------------------------------------------

TEST(TorchArchive, ReadsEveryFileAsTorchLoadDoes) {
  const auto all = expected();
  ASSERT_EQ(all["read"].size(), 8u);
  for (const auto& [file, want] : all["read"].items()) {
    SCOPED_TRACE(file);
    const checkpoint ckpt = checkpoint::open(data_dir / file);
    EXPECT_EQ(ckpt.format(), "pt");
    const auto tensors = ckpt.tensors();
    ASSERT_EQ(tensors.size(), want["tensors"].size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      const auto& w = want["tensors"][i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(t.name, w["name"].get<std::string>());  // the state_dict's order and names
      EXPECT_EQ(t.dtype_name, w["dtype"].get<std::string>());
      EXPECT_EQ(t.shape, w["shape"].get<std::vector<std::int64_t>>());
      EXPECT_EQ(t.bytes, w["bytes"].get<std::uint64_t>());
      std::optional<verinit::dtype> bits16;
      if (t.dtype_name == "I16") bits16 = verinit::dtype::bfloat16;
      if ((!t.type && !bits16) || !t.withheld.empty()) continue;  // withheld: never read
      verinit::tensor_buffer fallback;
      const auto view = ckpt.view(t, fallback, bits16);
      EXPECT_EQ(view.bytes.size(), t.bytes);
      EXPECT_EQ(crc_of(view.bytes), w["crc32"].get<std::uint32_t>()) << "bytes differ from torch's";
    }
  }
}

TEST(TorchArchive, TiesTensorsOnOneStorageAndGeometry) {
  const checkpoint ckpt = checkpoint::open(data_dir / "state_dict.pt");
  const auto* head = ckpt.find("head.weight");
  const auto* emb = ckpt.find("emb.weight");
  ASSERT_NE(head, nullptr);
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(head->storage, emb);
  EXPECT_EQ(emb->storage, emb);
  EXPECT_EQ(ckpt.find("fc.weight")->storage, nullptr);
  // Views of storages larger than the tensor (a transpose, a slice) are read by their strides.
  EXPECT_TRUE(ckpt.find("view_T")->withheld.empty());
  EXPECT_TRUE(ckpt.find("tail")->withheld.empty());
  // The held views: the tied tensor has its first's.
  const checkpoint_views views(ckpt, 1 << 20);
  const auto index = [&](const verinit::io::checkpoint_entry* e) {
    return static_cast<std::size_t>(e - ckpt.tensors().data());
  };
  EXPECT_EQ(views[index(head)]->bytes.data(), views[index(emb)]->bytes.data());
}

TEST(TorchArchive, WithholdsOverlappingViewsAndRepeatedElements) {
  const checkpoint ckpt = checkpoint::open(data_dir / "views.pt");
  for (const char* disjoint : {"q", "k", "v"}) EXPECT_TRUE(ckpt.find(disjoint)->withheld.empty());
  EXPECT_THAT(ckpt.find("cols")->withheld, HasSubstr("shares elements with 'q'"));
  EXPECT_THAT(ckpt.find("rep")->withheld, HasSubstr("repeat elements"));
  const checkpoint_views views(ckpt, 1 << 20);
  EXPECT_FALSE(views[3].has_value());  // cols: never viewed
  EXPECT_THAT([&] { (void)verinit::io::tensor_file::open(data_dir / "views.pt", "rep"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("is not verified")));
}

TEST(TorchArchive, FindsTheStateDictOfATrainingCheckpoint) {
  const checkpoint ckpt = checkpoint::open(data_dir / "training.pt");
  EXPECT_EQ(ckpt.tensors().size(), 9u);
  EXPECT_EQ(ckpt.tensors()[0].name, "fc.weight");  // the state_dict's own names, no "model."
  std::vector<std::string> notes(ckpt.notes().begin(), ckpt.notes().end());
  EXPECT_THAT(notes, ::testing::Contains(HasSubstr("'epoch' (int)")));
  EXPECT_THAT(notes, ::testing::Contains(HasSubstr("'optimizer' (dict of 2 entries)")));
  // By its key, and a key that is not there.
  EXPECT_EQ(checkpoint::open(data_dir / "training.pt", {"model"}).tensors().size(), 9u);
  EXPECT_THAT([&] { (void)checkpoint::open(data_dir / "training.pt", {"ema"}); },
              ::testing::ThrowsMessage<std::runtime_error>(
                  HasSubstr("no dict under the key 'ema' (its keys: 'epoch' (int)")));
  EXPECT_THAT([&] { (void)checkpoint::open(data_dir / "training.pt", {"optimizer"}); },
              ::testing::Throws<std::runtime_error>());  // a dict, but of no tensors: nothing
}

TEST(TorchArchive, RefusesWhatItDoesNotReadSayingWhatToDo) {
  const auto all = expected();
  ASSERT_EQ(all["refused"].size(), 4u);
  for (const auto& [file, words] : all["refused"].items()) {
    SCOPED_TRACE(file);
    try {
      (void)checkpoint::open(data_dir / file);
      ADD_FAILURE() << "read";
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_THAT(message, HasSubstr(words.get<std::string>()));
      EXPECT_THAT(message, HasSubstr(file));
      EXPECT_EQ(message.find('\n'), std::string::npos);
      EXPECT_EQ(message.find("safe"), std::string::npos);  // verinit is not a scanner
    }
  }
}

// ---- hostile files, built here ----------------------------------------------------------------

std::string le(std::uint64_t value, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

struct record {
  std::string name;
  std::string data;
  int method = 0;  // 0 stored; 8 claims deflate
};

// A zip of stored records (as torch.save: CRC and sizes in the central directory).
std::string zip(const std::vector<record>& records) {
  std::string body, directory;
  for (const auto& r : records) {
    const auto crc =
        crc32(0, reinterpret_cast<const Bytef*>(r.data.data()), static_cast<uInt>(r.data.size()));
    const std::uint64_t offset = body.size();
    const std::string common = le(static_cast<std::uint64_t>(r.method), 2) + le(0, 4) + le(crc, 4) +
                               le(r.data.size(), 4) + le(r.data.size(), 4) + le(r.name.size(), 2);
    body += le(0x04034b50, 4) + le(20, 2) + le(0, 2) + common + le(0, 2) + r.name + r.data;
    directory += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + common + le(0, 2) +
                 le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(offset, 4) + r.name;
  }
  return body + directory + le(0x06054b50, 4) + le(0, 4) + le(records.size(), 2) +
         le(records.size(), 2) + le(directory.size(), 4) + le(body.size(), 4) + le(0, 2);
}

// Pickle pieces (Python's Lib/pickletools.py).
std::string str(const std::string& text) { return "X" + le(text.size(), 4) + text; }
std::string integer(std::int64_t n) {
  if (n >= 0 && n < 256) return "K" + le(static_cast<std::uint64_t>(n), 1);
  return std::string("\x8a\x08", 2) + le(static_cast<std::uint64_t>(n), 8);  // LONG1
}
std::string global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
std::string tuple(const std::vector<std::string>& items) {
  std::string out = "(";
  for (const auto& i : items) out += i;
  return out + "t";
}
const std::string proto = std::string("\x80\x02", 2);
const std::string ordered_dict = global("collections", "OrderedDict") + ")R";

std::string tensor(const std::string& key, const std::string& storage, std::int64_t numel,
                   std::int64_t offset, const std::vector<std::int64_t>& size,
                   const std::vector<std::int64_t>& stride) {
  std::vector<std::string> sizes, strides;
  for (const auto s : size) sizes.push_back(integer(s));
  for (const auto s : stride) strides.push_back(integer(s));
  return global("torch._utils", "_rebuild_tensor_v2") +
         tuple({tuple({str("storage"), global("torch", storage), str(key), str("cpu"),
                       integer(numel)}) +
                    "Q",
                integer(offset), tuple(sizes), tuple(strides), "\x89", ordered_dict}) +
         "R";
}

// A state_dict of {name: tensor pickle}.
std::string state_dict(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = proto + ordered_dict + "(";
  for (const auto& [name, value] : items) out += str(name) + value;
  return out + "u.";
}

std::string floats(std::size_t n) { return std::string(4 * n, '\0'); }

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verinit_torch_archive_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The one-line error of reading `bytes` as "m.pt" (and viewing each float tensor, storages'
  // CRC-32s checked), or "".
  std::string error_of(const std::string& bytes) const {
    const fs::path path = dir_ / "m.pt";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    try {
      const auto file = checkpoint::open(path, {.key = "", .check_crc = true});
      for (const auto& e : file.tensors()) {
        verinit::tensor_buffer fallback;
        if (e.type && e.withheld.empty()) (void)file.view(e, fallback);
      }
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_THAT(message, HasSubstr("'" + path.string() + "'"));
      return message;
    }
    return "";
  }
  // An archive "m/" holding data.pkl and storage 0 of 4 floats.
  std::string archive(const std::string& pickle, std::vector<record> more = {}) const {
    std::vector<record> records{
        {"m/data.pkl", pickle}, {"m/data/0", floats(4)}, {"m/version", "3\n"}};
    records.insert(records.end(), more.begin(), more.end());
    return zip(records);
  }

  fs::path dir_;
};

TEST_F(HostileTest, AWellFormedArchiveIsRead) {
  EXPECT_EQ(
      error_of(archive(state_dict({{"w", tensor("0", "FloatStorage", 4, 0, {2, 2}, {2, 1})}}))),
      "");
}

TEST_F(HostileTest, GlobalsOutsideTheTableAreNeverImported) {
  for (const auto& [module, name] :
       std::vector<std::pair<std::string, std::string>>{{"os", "system"},
                                                        {"builtins", "eval"},
                                                        {"posix", "system"},
                                                        {"torch", "load"},
                                                        {"torch._utils", "_rebuild_qtensor"},
                                                        {"__main__", "Net"}}) {
    const std::string pickle = proto + global(module, name) + tuple({str("echo pwned")}) + "R.";
    EXPECT_THAT(error_of(archive(pickle)), HasSubstr("GLOBAL '" + module + "." + name + "'"));
  }
}

TEST_F(HostileTest, OpcodesAStateDictDoesNotUseAreRefused) {
  // INST, OBJ, NEWOBJ, STACK_GLOBAL, BINBYTES, FRAME, EMPTY_SET, PERSID (text), EXT1.
  for (const char op : {'i', 'o', '\x81', '\x93', 'B', '\x95', '\x8f', 'P', '\x82'}) {
    const std::string message = error_of(archive(proto + std::string(1, op) + "xx\n.\n"));
    EXPECT_THAT(message, HasSubstr("not one torch.save writes")) << static_cast<int>(op);
    EXPECT_THAT(message, HasSubstr("at byte 2"));
  }
  EXPECT_THAT(error_of(archive("\x80\x04" + ordered_dict + ".")), HasSubstr("pickle protocol 4"));
  EXPECT_THAT(error_of(archive(ordered_dict + ".")), HasSubstr("does not begin with PROTO 2"));
}

TEST_F(HostileTest, MemoBombsAndDeepNestingStayBounded) {
  // BINGET doubling: t = (t, t) sixty times would be 2^60 values if copied; shared, it is 60
  // tuples, and the nesting limit stops it.
  const std::string put0("q\0", 2), get0("h\0", 2);
  std::string bomb = proto + ")" + put0;
  for (int i = 0; i < 100; ++i) bomb += get0 + get0 + "\x86" + put0;  // TUPLE2
  EXPECT_THAT(error_of(archive(bomb + ".")), HasSubstr("nested 65 deep"));
  // Shared without nesting: a million references to one list stay a million references.
  std::string wide = proto + "]" + put0 + "(";
  for (int i = 0; i < 1000000; ++i) wide += get0;
  EXPECT_THAT(error_of(archive(wide + "l.")), HasSubstr("not one torch.save writes"));  // LIST
  EXPECT_THAT(error_of(archive(proto + std::string(300, '(') + ".")), HasSubstr("MARKs open"));
  std::string deep = proto + ")";
  for (int i = 0; i < 100; ++i) deep += "\x85";  // TUPLE1
  EXPECT_THAT(error_of(archive(deep + ".")), HasSubstr("deep"));
  EXPECT_THAT(error_of(archive(proto + std::string("h\x05.", 3))),
              HasSubstr("memo entry 5 was never stored"));
}

TEST_F(HostileTest, LyingLengthsAndTruncatedArguments) {
  EXPECT_THAT(error_of(archive(proto + "X" + le(0xfffffff0, 4) + "abc.")),
              HasSubstr("more than the 1048576 accepted"));
  EXPECT_THAT(error_of(archive(proto + "X" + le(100, 4) + "abc")), HasSubstr("truncated"));
  EXPECT_THAT(error_of(archive(proto + "\x8a\x09" + std::string(9, '\xff') + ".")),
              HasSubstr("beyond 64 bits"));
  EXPECT_THAT(error_of(archive(proto + "N")), HasSubstr("without STOP"));
  EXPECT_THAT(error_of(archive(proto + "N.junk")), HasSubstr("4 bytes after STOP"));
  EXPECT_THAT(error_of(archive(proto + "NN.")), HasSubstr("2 values on the stack"));
}

TEST_F(HostileTest, TypeConfusionIsRefused) {
  EXPECT_THAT(error_of(archive(proto + ")" + str("k") + str("v") + "s.")),
              HasSubstr("SETITEM on a tuple, not a dict"));
  EXPECT_THAT(error_of(archive(proto + "}" + str("v") + "a.")), HasSubstr("APPEND on a dict"));
  const std::string t = tensor("0", "FloatStorage", 4, 0, {4}, {1});
  EXPECT_THAT(error_of(archive(proto + t + "}b.")), HasSubstr("BUILD on a tensor"));
  EXPECT_THAT(
      error_of(archive(proto + global("collections", "OrderedDict") + "(" + str("x") + "tR.")),
      HasSubstr("OrderedDict called with arguments"));
  EXPECT_THAT(
      error_of(archive(
          proto + tuple({str("storage"), str("FloatStorage"), str("0"), str("cpu"), integer(4)}) +
          "Q.")),
      HasSubstr("storage class is not one of torch's"));
  EXPECT_THAT(error_of(archive(proto + str("x") + "Q.")), HasSubstr("persistent id other than"));
  EXPECT_THAT(error_of(archive(proto + global("torch._utils", "_rebuild_tensor_v2") +
                               tuple({integer(1)}) + "R.")),
              HasSubstr("with 1 arguments"));
  // A key twice in the state_dict: torch would keep the last; verinit refuses to guess.
  EXPECT_THAT(error_of(archive(state_dict({{"w", t}, {"w", t}}))),
              HasSubstr("repeats the key 'w'"));
}

TEST_F(HostileTest, StoragesAndExtentsAreCheckedBeforeAnyByteIsRead) {
  const auto one = [&](const std::string& t) { return archive(state_dict({{"w", t}})); };
  EXPECT_THAT(error_of(one(tensor("../x", "FloatStorage", 4, 0, {4}, {1}))),
              HasSubstr("storage key '../x' is not a decimal number"));
  EXPECT_THAT(error_of(one(tensor("7", "FloatStorage", 4, 0, {4}, {1}))),
              HasSubstr("'m/data/7' is missing"));
  EXPECT_THAT(error_of(one(tensor("0", "FloatStorage", 4, 0, {10}, {1}))),
              HasSubstr("reaches element 9 of storage 'data/0', which has 4"));
  EXPECT_THAT(error_of(one(tensor("0", "FloatStorage", 4, 3, {2, 2}, {1, 1}))),
              HasSubstr("reaches element 5"));
  EXPECT_THAT(error_of(one(tensor("0", "FloatStorage", 4, 9, {0}, {1}))),
              HasSubstr("starts at element 9"));  // the size-0 short cut (pytorch#183381)
  EXPECT_THAT(error_of(one(tensor("0", "FloatStorage", 4, 0, {2}, {-1}))),
              HasSubstr("neither may be negative"));
  EXPECT_THAT(error_of(one(tensor("0", "FloatStorage", 0x4000000000000001, 0, {1}, {1}))),
              HasSubstr("overflow 64 bits"));  // 0x4000000000000001 * 4 wraps to 4 (#181310)
  EXPECT_THAT(error_of(one(tensor("0", "FloatStorage", 5, 0, {4}, {1}))),
              HasSubstr("has 16 bytes, but the pickle says 20"));
  EXPECT_THAT(
      error_of(one(tensor("0", "FloatStorage", 4, 0, {1LL << 31, 1LL << 31, 4}, {0, 0, 1}))),
      HasSubstr("past 2^62"));
  EXPECT_THAT(error_of(archive(state_dict({{"a", tensor("0", "FloatStorage", 4, 0, {4}, {1})},
                                           {"b", tensor("0", "IntStorage", 4, 0, {4}, {1})}}))),
              HasSubstr("reads storage 'data/0' as int32, but tensor 'a' reads it as float32"));
}

// Files on which torch.load and a careless reader would disagree (found in review).
TEST_F(HostileTest, NothingTorchLoadWouldReadOtherwiseIsAccepted) {
  const std::string a = tensor("0", "FloatStorage", 4, 0, {4}, {1});
  const std::string sd = ordered_dict + "(" + str("w") + a + "u";
  // A root key twice: Python keeps the last value, so verinit refuses to pick.
  EXPECT_THAT(
      error_of(archive(proto + "}(" + str("state_dict") + sd + str("state_dict") + sd + "u.")),
      HasSubstr("its root dict repeats the key 'state_dict'"));
  // A Parameter rebuilt with a state: torch sets it as attributes ({'data': t} replaces t).
  const std::string with_state = global("torch._utils", "_rebuild_parameter_with_state") +
                                 tuple({a, "\x89", ordered_dict, "}" + str("data") + a + "s"}) +
                                 "R";
  EXPECT_THAT(error_of(archive(state_dict({{"w", with_state}}))),
              HasSubstr("with a state (dict setting 'data')"));
  const std::string from_type = global("torch._tensor", "_rebuild_from_type_v2") +
                                tuple({global("torch._utils", "_rebuild_parameter"),
                                       global("torch.nn.parameter", "Parameter"),
                                       tuple({a, "\x88", ordered_dict}), "}" + str("x") + "Ns"}) +
                                "R";
  EXPECT_THAT(error_of(archive(state_dict({{"w", from_type}}))), HasSubstr("with a state"));
  const std::string plain =
      global("torch._tensor", "_rebuild_from_type_v2") +
      tuple({global("torch._utils", "_rebuild_parameter"),
             global("torch.nn.parameter", "Parameter"), tuple({a, "\x88", ordered_dict}), "}"}) +
      "R";
  EXPECT_EQ(error_of(archive(state_dict({{"w", plain}}))), "");
  // A legacy file with a zip after it: torch.load reads the legacy part (it takes a file for a
  // zip only if it begins with a local header).
  EXPECT_THAT(error_of("\x80\x02L1950L\n." + archive(state_dict({{"w", a}}))),
              HasSubstr("does not begin with a zip local header"));
}

TEST_F(HostileTest, EveryCountIsBoundedBeforeItIsHeld) {
  // More dims than any tensor has, in a tuple torch would rebuild: refused before it is copied.
  const std::vector<std::int64_t> ones(65, 1);
  EXPECT_THAT(error_of(archive(state_dict({{"w", tensor("0", "FloatStorage", 4, 0, ones, ones)}}))),
              HasSubstr("a tensor of 65 dims, more than the 64 accepted"));
  // An expanded view whose byte count would wrap: 2^61 + 1 float64 elements of one value.
  EXPECT_THAT(error_of(zip({{"m/data.pkl", state_dict({{"w", tensor("0", "DoubleStorage", 1, 0,
                                                                    {(1LL << 61) + 1}, {0})}})},
                            {"m/data/0", std::string(8, '\0')}})),
              HasSubstr("overflow 64 bits"));
  // An empty tensor whose other sizes multiply past 64 bits: read, no overflow (UBSan).
  EXPECT_EQ(error_of(archive(state_dict(
                {{"w", tensor("0", "FloatStorage", 4, 0, {0, 1LL << 40, 1LL << 40}, {1, 1, 1})}}))),
            "");
}

TEST_F(HostileTest, ATensorTiedToAWithheldViewIsWithheld) {
  const fs::path path = dir_ / "tied.pt";
  std::ofstream(path, std::ios::binary)
      << zip({{"m/data.pkl", state_dict({{"a", tensor("0", "FloatStorage", 8, 0, {4}, {1})},
                                         {"b", tensor("0", "FloatStorage", 8, 2, {4}, {1})},
                                         {"c", tensor("0", "FloatStorage", 8, 2, {4}, {1})}})},
              {"m/data/0", floats(8)}});
  const checkpoint ckpt = checkpoint::open(path);
  EXPECT_TRUE(ckpt.find("a")->withheld.empty());
  EXPECT_THAT(ckpt.find("b")->withheld, HasSubstr("shares elements with 'a'"));
  EXPECT_EQ(ckpt.find("c")->withheld, ckpt.find("b")->withheld);
  verinit::tensor_buffer fallback;
  EXPECT_THAT([&] { (void)ckpt.view(*ckpt.find("c"), fallback); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("is not read")));
}

TEST_F(HostileTest, TheArchiveItselfIsChecked) {
  const std::string pickle = state_dict({{"w", tensor("0", "FloatStorage", 4, 0, {4}, {1})}});
  EXPECT_THAT(error_of(archive(pickle, {{"m/data.pkl", pickle}})), HasSubstr("appears twice"));
  EXPECT_THAT(error_of(archive(pickle, {{"other/data.pkl", pickle}})),
              HasSubstr("outside the archive's folder 'm/'"));
  EXPECT_THAT(error_of(zip({{"data.pkl", pickle}})), HasSubstr("is not in a folder"));
  EXPECT_THAT(error_of(zip({{"m/version", "3\n"}})), HasSubstr("no data.pkl record"));
  EXPECT_THAT(error_of(archive(pickle, {{"m/constants.pkl", pickle}})),
              HasSubstr("TorchScript archive"));
  EXPECT_THAT(error_of(archive(pickle, {{"m/byteorder", "middle"}})),
              HasSubstr("byteorder record is 'middle'"));
  // Deflate data in a member marked stored is just bytes: the pickle they are not.
  std::string squeezed(pickle.size() + 64, '\0');
  uLongf length = squeezed.size();
  compress(reinterpret_cast<Bytef*>(squeezed.data()), &length,
           reinterpret_cast<const Bytef*>(pickle.data()), pickle.size());
  squeezed.resize(length);
  EXPECT_THAT(error_of(zip({{"m/data.pkl", squeezed}, {"m/data/0", floats(4)}})),
              HasSubstr("does not begin with PROTO 2"));
  // A member that says it is deflated.
  EXPECT_THAT(error_of(zip({{"m/data.pkl", pickle, 8}, {"m/data/0", floats(4)}})),
              HasSubstr("is compressed"));
  // A flipped byte in a storage: its CRC-32, when asked for; in the pickle, always.
  std::string bytes = archive(pickle);
  const auto at = bytes.find(floats(4), bytes.find("m/data/0"));
  bytes[at + 3] = '\x01';
  EXPECT_THAT(error_of(bytes), HasSubstr("does not match its CRC-32"));
  const fs::path path = dir_ / "flipped.pt";
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(checkpoint::open(path).tensors().size(), 1u);
  bytes = archive(pickle);
  bytes[bytes.find("_rebuild_tensor_v2") + 3] = 'X';
  EXPECT_THAT(error_of(bytes), HasSubstr("data.pkl': its CRC-32 does not match"));
}

TEST_F(HostileTest, TruncationAtEveryByteIsAnError) {
  const std::string whole =
      archive(state_dict({{"w", tensor("0", "FloatStorage", 4, 0, {2, 2}, {2, 1})}}));
  ASSERT_EQ(error_of(whole), "");
  for (std::size_t n = 0; n < whole.size(); ++n)
    EXPECT_NE(error_of(whole.substr(0, n)), "") << n << " bytes";
}

}  // namespace
