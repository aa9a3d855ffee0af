// The .npy reader and writer: exact header bytes (numpy/lib/format.py, version 1.0), payload,
// versions, byte orders, orders and every way a file can be wrong.
#include "verinit/io/npy.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

template <class T>
verinit::tensor_view view(const std::vector<T>& data, const std::vector<std::int64_t>& shape) {
  // Unchecked, so that a mismatch reaches write_npy's own check.
  return {verinit::dtype_of<T>, shape, std::as_bytes(std::span(data))};
}

template <class T>
std::vector<T> elements(const verinit::tensor_buffer& array) {
  const auto span = array.view().elements<T>();
  return {span.begin(), span.end()};
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), {}};
}

class NpyTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("verinit_npy_test_" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
};

TEST_F(NpyTest, WritesVersion1HeaderAlignedTo64) {
  const std::vector<float> data{1.5f, -2.0f, 0.25f, 8.0f, 0.0f, 3.0f};
  const std::vector<std::int64_t> shape{2, 3};
  verinit::io::write_npy(dir_ / "a.npy", view(data, shape));
  const std::string bytes = read_all(dir_ / "a.npy");
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len =
      static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string header = bytes.substr(10, header_len);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u);
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(bytes.size(), 10 + header_len + sizeof(float) * data.size());
  std::vector<float> back(data.size());
  std::memcpy(back.data(), bytes.data() + 10 + header_len, sizeof(float) * data.size());
  EXPECT_EQ(back, data);
}

TEST_F(NpyTest, OneDimensionalShapeHasATrailingComma) {
  const std::vector<double> data{1, 2, 3};
  const std::vector<std::int64_t> shape{3};
  verinit::io::write_npy(dir_ / "b.npy", view(data, shape));
  const std::string bytes = read_all(dir_ / "b.npy");
  EXPECT_NE(bytes.find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(bytes.find("'shape': (3,)"), std::string::npos);
}

TEST_F(NpyTest, ReplacesAnExistingFileAndLeavesNoTemporary) {
  const std::vector<float> data{1};
  const std::vector<std::int64_t> shape{1, 1};
  verinit::io::write_npy(dir_ / "c.npy", view(data, shape));
  verinit::io::write_npy(dir_ / "c.npy", view(data, shape));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(NpyTest, RejectsMismatchedSizeAndUnwritablePaths) {
  const std::vector<float> data{1, 2, 3};
  const std::vector<std::int64_t> shape{2, 2};
  EXPECT_THROW(verinit::io::write_npy(dir_ / "d.npy", view(data, shape)), std::invalid_argument);
  const std::vector<std::int64_t> three{3};
  try {
    verinit::io::write_npy(dir_ / "missing" / "e.npy", view(data, three));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("e.npy"), std::string::npos);
  }
}

}  // namespace

namespace {

// Writes raw bytes: a .npy preamble of `version` with `header`, then `payload`.
void write_raw(const std::filesystem::path& path, int version, std::string header,
               const std::string& payload, std::int64_t length_override = -1) {
  std::ofstream file(path, std::ios::binary);
  file.write("\x93NUMPY", 6);
  file.put(static_cast<char>(version));
  file.put(0);
  const std::size_t preamble = version == 1 ? 10 : 12;
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  const auto length =
      length_override >= 0 ? static_cast<std::uint64_t>(length_override) : header.size();
  for (std::size_t i = 0; i < (version == 1 ? 2u : 4u); ++i)
    file.put(static_cast<char>((length >> (8 * i)) & 0xff));
  file << header << payload;
}

std::string bytes_of(const std::vector<float>& values, bool big_endian = false) {
  std::string out(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  if (big_endian)
    for (std::size_t i = 0; i < out.size(); i += 4)
      std::reverse(out.begin() + static_cast<long>(i), out.begin() + static_cast<long>(i) + 4);
  return out;
}

std::string read_error(const std::filesystem::path& path) {
  try {
    verinit::io::read_npy(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(NpyTest, ReadsWhatItWrites) {
  const std::vector<double> data{1, -2, 3.5, 4, 5, 6};
  const std::vector<std::int64_t> shape{3, 2};
  verinit::io::write_npy(dir_ / "r.npy", view(data, shape));
  const auto array = verinit::io::read_npy(dir_ / "r.npy");
  EXPECT_EQ(array.type, verinit::dtype::float64);
  EXPECT_EQ(array.shape, shape);
  EXPECT_EQ(elements<double>(array), data);
}

TEST_F(NpyTest, ReadsVersions2And3BigEndianAndFortranOrder) {
  const std::vector<float> c_order{1, 2, 3, 4, 5, 6};  // a 2x3 array
  write_raw(dir_ / "v2.npy", 2, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
            bytes_of(c_order, true));
  auto array = verinit::io::read_npy(dir_ / "v2.npy");
  EXPECT_EQ(elements<float>(array), c_order);
  // Fortran order stores columns: 1 4 2 5 3 6.
  write_raw(dir_ / "v3.npy", 3, "{'fortran_order': True, 'descr': '<f4', 'shape': (2, 3)}",
            bytes_of({1, 4, 2, 5, 3, 6}));
  array = verinit::io::read_npy(dir_ / "v3.npy");
  EXPECT_EQ(elements<float>(array), c_order);
  EXPECT_EQ(array.shape, (std::vector<std::int64_t>{2, 3}));
}

TEST_F(NpyTest, ReadsAndWritesFloat16AndRefusesBfloat16) {
  const std::vector<std::int64_t> shape{3};
  std::vector<verinit::float16_t> half;
  for (double v : {1.0, -0.5, 65504.0}) half.push_back(verinit::float16_t::round_from(v));
  verinit::io::write_npy(dir_ / "h.npy", view(half, shape));
  EXPECT_NE(read_all(dir_ / "h.npy").find("'descr': '<f2'"), std::string::npos);
  const auto array = verinit::io::read_npy(dir_ / "h.npy");
  EXPECT_EQ(array.type, verinit::dtype::float16);
  EXPECT_EQ(elements<verinit::float16_t>(array), half);
  // Big-endian float16: 1.0 is 0x3c00.
  write_raw(dir_ / "be.npy", 1, "{'descr': '>f2', 'fortran_order': False, 'shape': (1,), }",
            std::string("\x3c\x00", 2));
  EXPECT_EQ(
      static_cast<double>(elements<verinit::float16_t>(verinit::io::read_npy(dir_ / "be.npy"))[0]),
      1.0);
  const std::vector<verinit::bfloat16_t> brain(3);
  try {
    verinit::io::write_npy(dir_ / "b16.npy", view(brain, shape));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("safetensors"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "b16.npy"));
}

TEST_F(NpyTest, ReadsSixteenBitPatternsAsTheNamedDtype) {
  // bfloat16 1.0 is 0x3f80, -2.0 is 0xc000: as '<u2', '>i2' and ml_dtypes' '|V2'.
  const auto path = dir_ / "bits.npy";
  const auto bits_of = [](const verinit::tensor_buffer& a) {
    std::vector<std::uint16_t> out;
    for (const auto v : a.view().elements<verinit::bfloat16_t>()) out.push_back(v.bits);
    return out;
  };
  for (const char* descr : {"<u2", "<i2", "|V2", "<V2"}) {
    write_raw(path, 1,
              std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2,), }",
              std::string("\x80\x3f\x00\xc0", 4));
    const auto array = verinit::io::read_npy(path, verinit::dtype::bfloat16);
    EXPECT_EQ(array.type, verinit::dtype::bfloat16) << descr;
    EXPECT_EQ(bits_of(array), (std::vector<std::uint16_t>{0x3f80, 0xc000})) << descr;
    // Without the dtype the patterns are refused, saying how to name it.
    EXPECT_NE(read_error(path).find("--input-dtype bfloat16 or float16"), std::string::npos)
        << read_error(path);
  }
  write_raw(path, 1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }",
            std::string("\x3f\x80\xc0\x00", 4));
  EXPECT_EQ(bits_of(verinit::io::read_npy(path, verinit::dtype::bfloat16)),
            (std::vector<std::uint16_t>{0x3f80, 0xc000}));
  const auto half = verinit::io::read_npy(path, verinit::dtype::float16);
  EXPECT_EQ(half.type, verinit::dtype::float16);
  // A float file must be of the named dtype; the dtype must be a 16-bit one.
  write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", bytes_of({1}));
  try {
    verinit::io::read_npy(path, verinit::dtype::bfloat16);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("holds float32 ('<f4'), not the bfloat16"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(verinit::io::read_npy(path, verinit::dtype::float32), std::invalid_argument);
}

TEST_F(NpyTest, RejectsBadFilesNamingTheFileAndTheProblem) {
  const auto path = dir_ / "bad.npy";
  EXPECT_NE(read_error(dir_ / "missing.npy").find("no such file"), std::string::npos);
  { std::ofstream(path, std::ios::binary); }
  EXPECT_NE(read_error(path).find("empty"), std::string::npos);
  { std::ofstream(path, std::ios::binary) << "hello, world"; }
  EXPECT_NE(read_error(path).find("not a .npy"), std::string::npos);
  write_raw(path, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
            std::string(8, '\0'));
  EXPECT_NE(read_error(path).find("'<i4'"), std::string::npos);
  write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", "");
  EXPECT_NE(read_error(path).find("no elements"), std::string::npos);
  // A header that lies about the size: no huge allocation, a clear message.
  write_raw(path, 1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }",
            bytes_of({1}));
  EXPECT_NE(read_error(path).find("the file has"), std::string::npos);
  write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
            bytes_of({1, 2, 3}));
  EXPECT_NE(read_error(path).find("describes 4 elements"), std::string::npos);  // truncated data
  write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", bytes_of({1}),
            60000);
  EXPECT_NE(read_error(path).find("truncated header"), std::string::npos);
  write_raw(path, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", bytes_of({1}));
  EXPECT_NE(read_error(path).find("version 4"), std::string::npos);
  write_raw(path, 1, "{'descr': '<f4', 'shape': (1,), }", bytes_of({1}));
  EXPECT_NE(read_error(path).find("missing"), std::string::npos);
  write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", bytes_of({1}));
  EXPECT_NE(read_error(path).find("negative"), std::string::npos);
  EXPECT_NE(read_error(path).find("bad.npy"), std::string::npos);
}

}  // namespace
