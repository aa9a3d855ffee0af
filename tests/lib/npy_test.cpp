// The .npy writer: exact header bytes (numpy/lib/format.py, version 1.0) and payload.
#include "verinit/npy.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

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
  verinit::write_npy(dir_ / "a.npy", data, shape);
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
  verinit::write_npy(dir_ / "b.npy", data, shape);
  const std::string bytes = read_all(dir_ / "b.npy");
  EXPECT_NE(bytes.find("'descr': '<f8'"), std::string::npos);
  EXPECT_NE(bytes.find("'shape': (3,)"), std::string::npos);
}

TEST_F(NpyTest, ReplacesAnExistingFileAndLeavesNoTemporary) {
  const std::vector<float> data{1};
  const std::vector<std::int64_t> shape{1, 1};
  verinit::write_npy(dir_ / "c.npy", data, shape);
  verinit::write_npy(dir_ / "c.npy", data, shape);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(NpyTest, RejectsMismatchedSizeAndUnwritablePaths) {
  const std::vector<float> data{1, 2, 3};
  const std::vector<std::int64_t> shape{2, 2};
  EXPECT_THROW(verinit::write_npy(dir_ / "d.npy", data, shape), std::invalid_argument);
  const std::vector<std::int64_t> three{3};
  try {
    verinit::write_npy(dir_ / "missing" / "e.npy", data, three);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("e.npy"), std::string::npos);
  }
}

}  // namespace
