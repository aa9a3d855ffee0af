// tensor_file: an .npy read into memory, one tensor of a .safetensors viewed in its mapping, and
// the errors that name the file and the choices.
#include "verinit/io/tensor_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "verinit/io/npy.hpp"
#include "verinit/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
using verinit::io::tensor_file;

class TensorFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verinit_tensor_file_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::vector<float> a_{1, 2, 3, 4, 5, 6}, b_{7, 8};
  verinit::tensor_view view_a() const {
    return verinit::view_of<float>(a_, std::vector<std::int64_t>{2, 3});
  }
  verinit::tensor_view view_b() const {
    return verinit::view_of<float>(b_, std::vector<std::int64_t>{2});
  }
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no exception";
}

TEST_F(TensorFileTest, ReadsAnNpyFile) {
  verinit::io::write_npy(dir_ / "w.npy", view_a());
  const tensor_file f = tensor_file::open(dir_ / "w.npy");
  EXPECT_EQ(f.view().shape, (verinit::tensor_shape{2, 3}));
  const auto values = f.view().elements<float>();
  EXPECT_EQ(std::vector<float>(values.begin(), values.end()), a_);
}

TEST_F(TensorFileTest, TakesTheOnlyTensorOrTheNamedOneAndSurvivesAMove) {
  const std::pair<std::string, verinit::tensor_view> one[] = {{"w", view_a()}};
  verinit::io::write_safetensors(dir_ / "one.safetensors", one);
  tensor_file f = tensor_file::open(dir_ / "one.safetensors");
  const tensor_file moved = std::move(f);
  const auto values = moved.view().elements<float>();
  EXPECT_EQ(std::vector<float>(values.begin(), values.end()), a_);

  const std::pair<std::string, verinit::tensor_view> two[] = {{"w", view_a()}, {"b", view_b()}};
  verinit::io::write_safetensors(dir_ / "two.safetensors", two);
  const tensor_file b = tensor_file::open(dir_ / "two.safetensors", "b");
  EXPECT_EQ(b.view().shape, (verinit::tensor_shape{2}));
  EXPECT_EQ(b.view().elements<float>()[1], 8.0f);
}

TEST_F(TensorFileTest, NamesTheChoicesWhenATensorMustBeChosen) {
  const std::pair<std::string, verinit::tensor_view> two[] = {{"w", view_a()}, {"b", view_b()}};
  const fs::path path = dir_ / "two.safetensors";
  verinit::io::write_safetensors(path, two);
  const std::string none = message_of([&] { tensor_file::open(path); });
  EXPECT_NE(none.find("holds 2 tensors: choose one with --tensor"), std::string::npos) << none;
  EXPECT_NE(none.find("w"), std::string::npos) << none;
  const std::string missing = message_of([&] { tensor_file::open(path, "c\nd"); });
  EXPECT_NE(missing.find("has no tensor 'c\\x0ad'"), std::string::npos) << missing;
  EXPECT_THROW(tensor_file::open(path, "c"), std::invalid_argument);
}

TEST_F(TensorFileTest, RefusesATensorNameForAnNpyFileAndAnEmptyFile) {
  verinit::io::write_npy(dir_ / "w.npy", view_a());
  EXPECT_THROW(tensor_file::open(dir_ / "w.npy", "w"), std::invalid_argument);
  verinit::io::write_safetensors(dir_ / "empty.safetensors", {});
  const std::string empty = message_of([&] { tensor_file::open(dir_ / "empty.safetensors"); });
  EXPECT_NE(empty.find("holds no tensors"), std::string::npos) << empty;
  EXPECT_THROW(tensor_file::open(dir_ / "missing.npy"), std::runtime_error);
}

}  // namespace
