// The safetensors reader and writer: round trips of every dtype, files built by hand from the
// format's specification (https://github.com/huggingface/safetensors, README.md, "Format"),
// views in place and copied, and every way the reader rejects a file.
#include "verinit/io/safetensors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using verinit::io::safetensors_file;

std::string read_all(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), {}};
}

std::string le64(std::uint64_t value) {
  std::string bytes(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

template <class T>
std::string bytes_of(const std::vector<T>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)};
}

// A file of the format: the header's length (or `length`), the header, the data.
void write_file(const fs::path& path, const std::string& header, const std::string& data,
                std::optional<std::uint64_t> length = std::nullopt) {
  std::ofstream(path, std::ios::binary) << le64(length.value_or(header.size())) << header << data;
}

template <class T>
verinit::tensor_view view_of(const std::vector<T>& data, verinit::tensor_shape shape) {
  return {verinit::dtype_of<T>, std::move(shape), std::as_bytes(std::span(data))};
}

template <class T>
std::vector<T> values(const verinit::tensor_view& view) {
  const auto span = view.elements<T>();
  return {span.begin(), span.end()};
}

std::string open_error(const fs::path& path) {
  try {
    safetensors_file::open(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

class SafetensorsTest : public ::testing::Test {
 protected:
  fs::path dir_ =
      fs::temp_directory_path() / ("verinit_safetensors_test_" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a file of `header` and `data` and expects open() to throw a one-line
  // std::runtime_error naming the file and `problem`.
  void expect_rejected(const std::string& header, const std::string& data,
                       const std::string& problem,
                       std::optional<std::uint64_t> length = std::nullopt) {
    const fs::path path = dir_ / "bad.safetensors";
    write_file(path, header, data, length);
    const std::string message = open_error(path);
    EXPECT_THAT(message, AllOf(HasSubstr(path.string()), HasSubstr(problem)))
        << "header: " << header.substr(0, 200);
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // A header with one tensor "w" whose entry is `entry`, and `data`.
  void expect_entry_rejected(const std::string& entry, const std::string& data,
                             const std::string& problem) {
    expect_rejected(R"({"w":)" + entry + "}", data, problem);
  }
};

// ---- writer and round trips --------------------------------------------------------------------

TEST_F(SafetensorsTest, RoundTripsEveryDtypeShapeAndMetadata) {
  std::vector<verinit::float16_t> half;
  std::vector<verinit::bfloat16_t> brain;
  for (double v : {1.0, -0.5, 65504.0, 0.0, -2.0, 3.0}) {
    half.push_back(verinit::float16_t::round_from(v));
    brain.push_back(verinit::bfloat16_t::round_from(v * 1e30));
  }
  const std::vector<float> single{1.5f, -2.0f, 0.25f, 8.0f};
  const std::vector<double> scalar{3.141592653589793};
  const std::vector<double> none;
  const std::vector<std::pair<std::string, verinit::tensor_view>> tensors{
      {"layer.half", view_of(half, {2, 3})}, {"layer.brain", view_of(brain, {3, 1, 2})},
      {"a.single", view_of(single, {4})},    {"scalar", view_of(scalar, {})},
      {"empty", view_of(none, {2, 0})},      {"zz.last", view_of(single, {2, 2})},
  };
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "a \"quoted\" é"}};
  const fs::path path = dir_ / "all.safetensors";
  verinit::io::write_safetensors(path, tensors, metadata);

  const safetensors_file file = safetensors_file::open(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  verinit::tensor_buffer fallback;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& entry = file.tensors()[i];  // the given order is the data order
    const auto& [name, tensor] = tensors[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(entry.name, name);
    EXPECT_EQ(entry.type, tensor.type);
    EXPECT_EQ(entry.dtype_name, verinit::info(tensor.type).safetensors_name);
    EXPECT_EQ(entry.shape, tensor.shape);
    EXPECT_EQ(entry.bytes(), tensor.bytes.size());
    EXPECT_EQ(file.find(name), &entry);
    const verinit::tensor_view back = file.view(entry, fallback);
    EXPECT_EQ(back.type, tensor.type);
    EXPECT_EQ(back.shape, tensor.shape);
    ASSERT_EQ(back.bytes.size(), tensor.bytes.size());
    EXPECT_TRUE(std::equal(back.bytes.begin(), back.bytes.end(), tensor.bytes.begin()));
  }
  EXPECT_TRUE(fallback.bytes.empty());  // everything was aligned
  EXPECT_EQ(values<verinit::bfloat16_t>(file.view(*file.find("layer.brain"), fallback)), brain);
  EXPECT_EQ(file.find("missing"), nullptr);
}

TEST_F(SafetensorsTest, WritesAHeaderPaddedToEightThatTheFormatDescribes) {
  const std::vector<float> weights{1, 2, 3};  // 12 bytes: the next tensor is not 8-aligned
  const std::vector<double> bias{4, 5};
  const std::vector<std::pair<std::string, verinit::tensor_view>> tensors{
      {"weight", view_of(weights, {1, 3})}, {"bias", view_of(bias, {2})}};
  const fs::path path = dir_ / "w.safetensors";
  verinit::io::write_safetensors(path, tensors, {{"format", "pt"}});

  const std::string bytes = read_all(path);
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < 8; ++i)
    header_size |= std::uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  EXPECT_EQ((8 + header_size) % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + header_size + 12 + 16);
  const std::string header = bytes.substr(8, header_size);
  EXPECT_EQ(header.front(), '{');
  const std::size_t close = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);  // spaces only
  const auto json = nlohmann::json::parse(header);
  EXPECT_EQ(json["__metadata__"], (nlohmann::json{{"format", "pt"}}));
  EXPECT_EQ(json["weight"]["dtype"], "F32");
  EXPECT_EQ(json["weight"]["shape"], (nlohmann::json{1, 3}));
  EXPECT_EQ(json["weight"]["data_offsets"], (nlohmann::json{0, 12}));
  EXPECT_EQ(json["bias"]["dtype"], "F64");
  EXPECT_EQ(json["bias"]["data_offsets"], (nlohmann::json{12, 28}));
  EXPECT_EQ(bytes.substr(8 + header_size), bytes_of(weights) + bytes_of(bias));
}

TEST_F(SafetensorsTest, WritesAFileWithNoTensorsOrNoMetadata) {
  verinit::io::write_safetensors(dir_ / "none.safetensors", {}, {{"k", "v"}});
  const auto only_metadata = safetensors_file::open(dir_ / "none.safetensors");
  EXPECT_TRUE(only_metadata.tensors().empty());
  EXPECT_EQ(only_metadata.metadata().at("k"), "v");
  verinit::io::write_safetensors(dir_ / "empty.safetensors", {});
  EXPECT_EQ(read_all(dir_ / "empty.safetensors"), le64(8) + "{}      ");
  EXPECT_TRUE(safetensors_file::open(dir_ / "empty.safetensors").metadata().empty());
}

TEST_F(SafetensorsTest, ReplacesAnExistingFileAndLeavesNoTemporary) {
  const std::vector<float> data{1};
  const std::vector<std::pair<std::string, verinit::tensor_view>> tensors{
      {"x", view_of(data, {1})}};
  verinit::io::write_safetensors(dir_ / "r.safetensors", tensors);
  verinit::io::write_safetensors(dir_ / "r.safetensors", tensors);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), {}), 1);
}

TEST_F(SafetensorsTest, WriterRejectsBadNamesAndViews) {
  const std::vector<float> data{1, 2, 3};
  using tensors = std::vector<std::pair<std::string, verinit::tensor_view>>;
  const auto write = [&](const tensors& list, const std::map<std::string, std::string>& meta) {
    verinit::io::write_safetensors(dir_ / "bad.safetensors", list, meta);
  };
  const auto expect_invalid = [&](const tensors& list, const std::string& problem,
                                  const std::map<std::string, std::string>& meta = {}) {
    try {
      write(list, meta);
      ADD_FAILURE() << "no exception for " << problem;
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("write_safetensors"), HasSubstr(problem)));
    }
  };
  expect_invalid({{"", view_of(data, {3})}}, "empty");
  expect_invalid({{"a", view_of(data, {3})}, {"a", view_of(data, {3})}}, "'a' is a duplicate");
  expect_invalid({{"__metadata__", view_of(data, {3})}}, "other than the metadata key");
  expect_invalid({{"a", view_of(data, {2, 2})}}, "byte count of tensor 'a' is 12");
  expect_invalid({{"a", view_of(data, {-3})}}, "dim 0 of tensor 'a' is -3");
  expect_invalid({{"a", view_of(data, {4294967296, 4294967296})}}, "more than 2^64");
  expect_invalid({{"bad\xff", view_of(data, {3})}}, "UTF-8");
  expect_invalid({{"a", view_of(data, {3})}}, "UTF-8", {{"key", "value\xc3"}});
  EXPECT_FALSE(fs::exists(dir_ / "bad.safetensors"));

  try {
    verinit::io::write_safetensors(dir_ / "missing" / "e.safetensors",
                                   tensors{{"a", view_of(data, {3})}});
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("e.safetensors"));
  }
}

// ---- reader on hand-made files -----------------------------------------------------------------

TEST_F(SafetensorsTest, ReadsAHandMadeFileInDataOffsetOrder) {
  // Listed out of name order and out of data order; the header padded with spaces to 8.
  const std::vector<float> second{1, 2, 3, 4};
  const std::vector<double> first{-1.5};
  std::string header = R"({"zeta":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},)"
                       R"("__metadata__":{"format":"pt"},)"
                       R"("alpha":{"data_offsets":[0,8],"shape":[],"dtype":"F64"}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const fs::path path = dir_ / "hand.safetensors";
  write_file(path, header, bytes_of(first) + bytes_of(second));

  const safetensors_file file = safetensors_file::open(path);
  ASSERT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.tensors()[0].name, "alpha");
  EXPECT_EQ(file.tensors()[1].name, "zeta");
  EXPECT_EQ(file.tensors()[1].begin, 8u);
  EXPECT_EQ(file.tensors()[1].end, 24u);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  verinit::tensor_buffer fallback;
  const auto alpha = file.view(*file.find("alpha"), fallback);
  EXPECT_TRUE(alpha.shape.empty());  // a scalar
  EXPECT_EQ(values<double>(alpha), first);
  EXPECT_EQ(values<float>(file.view(*file.find("zeta"), fallback)), second);
}

TEST_F(SafetensorsTest, AcceptsLeadingWhitespaceAndAnEmptyHeader) {
  // The reference reader accepts a header padded at the front too.
  const std::vector<float> data{7};
  write_file(dir_ / "lead.safetensors",
             R"(   {"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", bytes_of(data));
  EXPECT_EQ(safetensors_file::open(dir_ / "lead.safetensors").tensors().size(), 1u);
  write_file(dir_ / "empty.safetensors", "{}", "");
  EXPECT_TRUE(safetensors_file::open(dir_ / "empty.safetensors").tensors().empty());
}

TEST_F(SafetensorsTest, ViewDoesNotCopyAlignedData) {
  const std::vector<float> data{1, 2, 3, 4};
  const std::vector<std::pair<std::string, verinit::tensor_view>> tensors{
      {"w", view_of(data, {4})}};
  verinit::io::write_safetensors(dir_ / "a.safetensors", tensors);
  const auto file = safetensors_file::open(dir_ / "a.safetensors");
  verinit::tensor_buffer fallback;
  const auto& entry = file.tensors()[0];
  const auto view = file.view(entry, fallback);
  EXPECT_EQ(view.bytes.data(), file.raw(entry).data());  // inside the mapping
  EXPECT_TRUE(fallback.bytes.empty());
  EXPECT_EQ(values<float>(view), data);
}

TEST_F(SafetensorsTest, ViewCopiesMisalignedData) {
  // A 57-byte header: the F32 data starts at file offset 65, not a multiple of 4.
  const std::vector<float> data{1.5f, -2.25f, 1e-30f};
  std::string header = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  header.append(57 - header.size(), ' ');
  write_file(dir_ / "odd.safetensors", header, bytes_of(data));
  const auto file = safetensors_file::open(dir_ / "odd.safetensors");
  verinit::tensor_buffer fallback;
  const auto& entry = file.tensors()[0];
  ASSERT_NE(reinterpret_cast<std::uintptr_t>(file.raw(entry).data()) % 4, 0u);
  const auto view = file.view(entry, fallback);
  EXPECT_EQ(view.bytes.data(), fallback.bytes.data());
  EXPECT_EQ(fallback.type, verinit::dtype::float32);
  EXPECT_EQ(fallback.shape, (verinit::tensor_shape{3}));
  EXPECT_EQ(values<float>(view), data);

  // A float16 tensor after an odd-sized BOOL tensor, with an aligned header.
  const std::vector<verinit::float16_t> half{verinit::float16_t::round_from(0.5),
                                             verinit::float16_t::round_from(-3)};
  std::string mixed = R"({"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},)"
                      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[3,7]}})";
  mixed.append((8 - mixed.size() % 8) % 8, ' ');
  write_file(dir_ / "mixed.safetensors", mixed, std::string("\x01\x00\x01", 3) + bytes_of(half));
  const auto second = safetensors_file::open(dir_ / "mixed.safetensors");
  verinit::tensor_buffer copy;
  EXPECT_EQ(values<verinit::float16_t>(second.view(*second.find("h"), copy)), half);
  EXPECT_EQ(copy.bytes.size(), 4u);
}

TEST_F(SafetensorsTest, ReadsIntegerTensorsRawAndRefusesToViewThem) {
  const std::vector<std::int64_t> ids{1, -2, 3};
  std::string header = R"({"ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},)"
                       R"("flag":{"dtype":"BOOL","shape":[],"data_offsets":[24,25]}})";
  const fs::path path = dir_ / "int.safetensors";
  write_file(path, header, bytes_of(ids) + "\x01");
  const auto file = safetensors_file::open(path);
  const auto* entry = file.find("ids");
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(entry->type.has_value());
  EXPECT_EQ(entry->dtype_name, "I64");
  const auto raw = file.raw(*entry);
  ASSERT_EQ(raw.size(), 24u);
  EXPECT_EQ(std::memcmp(raw.data(), ids.data(), 24), 0);
  EXPECT_EQ(file.raw(*file.find("flag"))[0], std::byte{1});
  verinit::tensor_buffer fallback;
  try {
    file.view(*entry, fallback);
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("'ids'"), HasSubstr("I64"),
                                HasSubstr("F16, BF16, F32, F64")));
  }
}

TEST_F(SafetensorsTest, ReadsEmptyTensors) {
  const std::vector<float> data{1, 2};
  std::string header = R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("a":{"dtype":"F32","shape":[0,5],"data_offsets":[8,8]},)"
                       R"("c":{"dtype":"F64","shape":[3,0],"data_offsets":[0,0]}})";
  write_file(dir_ / "e.safetensors", header, bytes_of(data));
  const auto file = safetensors_file::open(dir_ / "e.safetensors");
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors()[0].name, "c");
  EXPECT_EQ(file.tensors()[1].name, "b");
  EXPECT_EQ(file.tensors()[2].name, "a");
  verinit::tensor_buffer fallback;
  const auto empty = file.view(*file.find("a"), fallback);
  EXPECT_TRUE(empty.bytes.empty());
  EXPECT_EQ(empty.shape, (verinit::tensor_shape{0, 5}));
  EXPECT_TRUE(fallback.bytes.empty());
}

TEST_F(SafetensorsTest, MovesKeepTheMapping) {
  const std::vector<double> data{1, 2, 3};
  const std::vector<std::pair<std::string, verinit::tensor_view>> tensors{
      {"w", view_of(data, {3})}};
  verinit::io::write_safetensors(dir_ / "m.safetensors", tensors);
  verinit::io::write_safetensors(dir_ / "n.safetensors", tensors);
  safetensors_file file = safetensors_file::open(dir_ / "m.safetensors");
  safetensors_file moved(std::move(file));
  safetensors_file other = safetensors_file::open(dir_ / "n.safetensors");
  other = std::move(moved);
  verinit::tensor_buffer fallback;
  EXPECT_EQ(other.path(), dir_ / "m.safetensors");
  EXPECT_EQ(values<double>(other.view(other.tensors()[0], fallback)), data);
}

TEST_F(SafetensorsTest, RawRejectsAnEntryOfAnotherFile) {
  const std::vector<double> data{1, 2, 3};
  const std::vector<std::pair<std::string, verinit::tensor_view>> tensors{
      {"w", view_of(data, {3})}};
  verinit::io::write_safetensors(dir_ / "m.safetensors", tensors);
  const auto file = safetensors_file::open(dir_ / "m.safetensors");
  verinit::io::safetensors_entry foreign{"x", "F64", verinit::dtype::float64, {100}, 0, 800};
  EXPECT_THROW(file.raw(foreign), std::invalid_argument);
}

// ---- every way a file is rejected --------------------------------------------------------------

TEST_F(SafetensorsTest, RejectsMissingShortAndNonRegularFiles) {
  const fs::path missing = dir_ / "missing.safetensors";
  EXPECT_THAT(open_error(missing), AllOf(HasSubstr(missing.string()), HasSubstr("no such file")));
  EXPECT_THAT(open_error(dir_), AllOf(HasSubstr(dir_.string()), HasSubstr("not a regular file")));
  const fs::path short_file = dir_ / "short.safetensors";
  std::ofstream(short_file, std::ios::binary) << "abcde";
  EXPECT_THAT(open_error(short_file), AllOf(HasSubstr(short_file.string()),
                                            HasSubstr("has 5 bytes"), HasSubstr("at least 8")));
  std::ofstream(short_file, std::ios::binary | std::ios::trunc);
  EXPECT_THAT(open_error(short_file), HasSubstr("has 0 bytes"));
}

TEST_F(SafetensorsTest, RejectsBadHeaderLengths) {
  const std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  expect_rejected("", "", "header length is 0");
  expect_rejected(header, "abcd", "header length is 100000001, but must be at most 100000000",
                  100'000'001);
  // Within the limit but past the end of the file.
  expect_rejected(header, "abcd", "header length is 100000000, but the file has only 58 bytes",
                  100'000'000);
  expect_rejected(header, "", "header length is 200", 200);
  // A header claiming 2^63 and 2^64 - 1 bytes: no allocation, no overflow of 8 + N.
  expect_rejected(header, "abcd", "header length is 9223372036854775808", std::uint64_t{1} << 63);
  expect_rejected(header, "abcd", "header length is 18446744073709551615", ~std::uint64_t{0});
}

TEST_F(SafetensorsTest, RejectsHeadersThatAreNotAJsonObject) {
  expect_rejected(R"([{"x":1}])", "", "starts with '[' at byte 8, but must be a JSON object");
  expect_rejected("        ", "", "only whitespace");
  expect_rejected(R"({"x":)", "", "not valid JSON");
  expect_rejected(R"({} trailing)", "", "not valid JSON");
  expect_rejected(R"({"x" 1})", "", "not valid JSON at byte 13");
  expect_rejected("{\"bad\xff\":{}}", "", "UTF-8");
  expect_rejected("{\"a\":\"\x01\"}", "", "not valid JSON");  // a raw control character
}

TEST_F(SafetensorsTest, RejectsEntriesOfTheWrongShape) {
  const std::string data(16, '\0');
  expect_entry_rejected("3", data, "tensor 'w' is the number 3, but must be an object");
  expect_entry_rejected(R"("F32")", data, "tensor 'w' is a string, but must be an object");
  expect_entry_rejected(R"({"shape":[4],"data_offsets":[0,16]})", data, "tensor 'w' has no dtype");
  expect_entry_rejected(R"({"dtype":"F32","data_offsets":[0,16]})", data,
                        "tensor 'w' has no shape");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4]})", data, "tensor 'w' has no data_offsets");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16],"strides":[1]})", data,
                        "unknown key 'strides'");
  expect_entry_rejected(R"({"dtype":"F32","dtype":"F32","shape":[4],"data_offsets":[0,16]})", data,
                        "tensor 'w': dtype appears twice");
}

TEST_F(SafetensorsTest, RejectsValuesOfTheWrongType) {
  const std::string data(16, '\0');
  expect_entry_rejected(R"({"dtype":4,"shape":[4],"data_offsets":[0,16]})", data,
                        "dtype is the number 4, but must be a string");
  expect_entry_rejected(R"({"dtype":"F32","shape":"4","data_offsets":[0,16]})", data,
                        "shape is a string, but must be an array of integers");
  expect_entry_rejected(R"({"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]})", data,
                        "shape[1] is -2, but must be an integer >= 0");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4.0],"data_offsets":[0,16]})", data,
                        "shape[0] is 4.0, but must be an integer >= 0");
  expect_entry_rejected(R"({"dtype":"F32","shape":[true],"data_offsets":[0,16]})", data,
                        "shape[0] is true");
  expect_entry_rejected(R"({"dtype":"F32","shape":[[4]],"data_offsets":[0,16]})", data,
                        "shape[0] is an array");
  expect_entry_rejected(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,16]})",
                        data, "shape[0] is 9223372036854775808, but must be at most 2^63 - 1");
  expect_entry_rejected(R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,16]})",
                        data, "shape[0] is 18446744073709551616, but must be an integer");
  std::string deep = R"({"dtype":"U8","shape":[)";
  for (int i = 0; i < 65; ++i) deep += i == 0 ? "1" : ",1";
  expect_entry_rejected(deep + R"(],"data_offsets":[0,1]})", "x", "more than 64 dims");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":{"begin":0}})", data,
                        "data_offsets is an object, but must be an array [begin, end]");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[16]})", data,
                        "data_offsets has 1 values, but must be [begin, end]");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[0,8,16]})", data,
                        "data_offsets has more than 2 values");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[-1,15]})", data,
                        "data_offsets[0] is -1, but must be an integer >= 0");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16.5]})", data,
                        "data_offsets[1] is 16.5");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[0,null]})", data,
                        "data_offsets[1] is null");
}

TEST_F(SafetensorsTest, RejectsUnknownDtypesAndSizesThatDoNotMatch) {
  const std::string data(16, '\0');
  expect_entry_rejected(R"({"dtype":"F128","shape":[1],"data_offsets":[0,16]})", data,
                        "dtype 'F128' is unknown (known: F16, BF16, F32, F64, BOOL");
  expect_entry_rejected(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,12]})", data,
                        "data_offsets [0, 12] hold 12 bytes, but shape [2, 2] of F32 needs 16");
  expect_entry_rejected(R"({"dtype":"F32","shape":[4],"data_offsets":[16,0]})", data,
                        "data_offsets [16, 0] has begin > end");
  // Products that overflow 64 bits, checked at every multiply.
  expect_entry_rejected(
      R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]})", data,
      "shape [4294967296, 4294967296, 4294967296] of F32 has a byte size that overflows 64 bits");
  expect_entry_rejected(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,16]})",
                        data, "overflows 64 bits");
  expect_entry_rejected(R"({"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,16]})",
                        data, "overflows 64 bits");  // 2^61 * 8
  expect_entry_rejected(
      R"({"dtype":"U8","shape":[4294967296,4294967295],"data_offsets":[0,18446744069414584320]})",
      data, "the data after the header has 16 bytes");
}

TEST_F(SafetensorsTest, RejectsGapsOverlapsAndUnindexedBytes) {
  const std::string data(16, '\0');
  const auto two = [](const std::string& a, const std::string& b) {
    return R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + a +
           R"(},"b":{"dtype":"F32","shape":[2],"data_offsets":)" + b + "}}";
  };
  expect_rejected(two("[4,12]", "[12,20]"), std::string(20, '\0'),
                  "tensor 'a' begins at byte 4 of the data, but the first tensor must begin at 0");
  expect_rejected(two("[0,8]", "[12,20]"), std::string(20, '\0'),
                  "tensor 'b' begins at byte 12 of the data, but the previous tensor, 'a', ends "
                  "at 8 (a gap)");
  expect_rejected(two("[0,8]", "[4,12]"), std::string(12, '\0'), "(an overlap)");
  expect_rejected(two("[0,8]", "[0,8]"), std::string(8, '\0'), "(an overlap)");
  expect_rejected(two("[0,8]", "[8,16]"), std::string(20, '\0'),
                  "the tensors end at byte 16 of the data, but the data after the header has 20");
  expect_rejected(two("[0,8]", "[8,16]"), std::string(12, '\0'),
                  "the data after the header has 12");
  expect_rejected("{}", "x", "the tensors end at byte 0");
}

TEST_F(SafetensorsTest, RejectsDuplicateNamesAndBadMetadata) {
  const std::string entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_rejected(R"({"a":)" + entry + R"(,"a":)" + entry + "}", std::string(8, '\0'),
                  "tensor 'a' appears twice");
  const std::string tensor = R"("a":)" + entry;
  const std::string data(8, '\0');
  expect_rejected(R"({"__metadata__":["pt"],)" + tensor + "}", data,
                  "__metadata__ is an array, but must be an object of strings");
  expect_rejected(R"({"__metadata__":null,)" + tensor + "}", data, "__metadata__ is null");
  expect_rejected(R"({"__metadata__":{"n":1},)" + tensor + "}", data,
                  "__metadata__ value of 'n' is the number 1, but must be a string");
  expect_rejected(R"({"__metadata__":{"n":{"x":"y"}},)" + tensor + "}", data,
                  "__metadata__ value of 'n' is an object");
  expect_rejected(R"({"__metadata__":{"n":"1","n":"2"},)" + tensor + "}", data,
                  "__metadata__ key 'n' appears twice");
  expect_rejected(R"({"__metadata__":{},"__metadata__":{},)" + tensor + "}", data,
                  "__metadata__ appears twice");
}

TEST_F(SafetensorsTest, QuotesHostileNamesOnOneLine) {
  // A 300-byte name with a newline, written as JSON's \n escape.
  expect_rejected(R"({")" + std::string("nnn\\n") + std::string(296, 'n') + R"(":3})", "",
                  "tensor 'nnn\\x0a");
  const std::string message = open_error(dir_ / "bad.safetensors");
  EXPECT_THAT(message, HasSubstr("...'"));
  EXPECT_LT(message.size(), 400u);
  // UTF-8 is kept; bytes that are not UTF-8 are escaped, so the message is text.
  expect_rejected("{\"poids_\xc3\xa9\":3}", "", "tensor 'poids_\xc3\xa9' is the number 3");
  expect_rejected("\xff{}", "", "starts with '\\xff' at byte 8");
  expect_rejected("{\"dtype\xc3(\":3}", "", "ill-formed UTF-8 byte; last read: '\"dtype\\xc3");
  expect_rejected("{\"" + std::string(1000, 'x'), "", "xxx...");
}

}  // namespace
