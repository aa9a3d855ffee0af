// Atomic files and directories: whole or nothing, no temporaries left, errors name the path.
#include "verinit/io/atomic_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), {}};
}

class AtomicFileTest : public ::testing::Test {
 protected:
  fs::path dir_ = fs::temp_directory_path() / ("verinit_atomic_test_" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override { fs::remove_all(dir_); }
  std::ptrdiff_t entries(const fs::path& d) const {
    return std::distance(fs::directory_iterator(d), fs::directory_iterator{});
  }
};

TEST_F(AtomicFileTest, WritesThePartsInOrderAndReplacesAnOldFile) {
  const std::string head = "head,", body = "body";
  verinit::io::write_file_atomically(
      dir_ / "f", {std::as_bytes(std::span(head)), std::as_bytes(std::span(body))});
  EXPECT_EQ(read_all(dir_ / "f"), "head,body");
  verinit::io::write_file_atomically(dir_ / "f", "again");
  EXPECT_EQ(read_all(dir_ / "f"), "again");
  EXPECT_EQ(entries(dir_), 1);  // no temporary left beside it
}

TEST_F(AtomicFileTest, FailsNamingThePathAndLeavesNothing) {
  for (const fs::path& bad : {dir_ / "missing" / "f", dir_}) {
    try {
      verinit::io::write_file_atomically(bad, "x");
      FAIL() << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(entries(dir_), 0);
}

TEST_F(AtomicFileTest, StagedDirectoryAppearsOnCommitOnly) {
  const fs::path target = dir_ / "report";
  {
    verinit::io::staged_directory staged(target);
    std::ofstream(staged.path() / "a") << "1";
    EXPECT_FALSE(fs::exists(target));
    staged.commit();
  }
  EXPECT_EQ(read_all(target / "a"), "1");
  {
    verinit::io::staged_directory replaced(target);
    std::ofstream(replaced.path() / "b") << "2";
    replaced.commit();
  }
  EXPECT_FALSE(fs::exists(target / "a"));  // replaced whole
  EXPECT_EQ(read_all(target / "b"), "2");
  {
    verinit::io::staged_directory abandoned(target);
    std::ofstream(abandoned.path() / "c") << "3";
  }  // not committed: the old directory stays, the temporary goes
  EXPECT_EQ(read_all(target / "b"), "2");
  EXPECT_EQ(entries(dir_), 1);
}

TEST_F(AtomicFileTest, StagedFileReplacesTheOldOnCommitOnly) {
  const fs::path target = dir_ / "out.json";
  verinit::io::write_file_atomically(target, "old");
  {
    verinit::io::staged_file abandoned(target);
    abandoned.write("new");
    EXPECT_EQ(read_all(target), "old");
  }  // not committed: the old file stays, the temporary goes
  EXPECT_EQ(read_all(target), "old");
  EXPECT_EQ(entries(dir_), 1);
  {
    verinit::io::staged_file staged(target);
    staged.write("ne");
    staged.write("w");
    EXPECT_EQ(read_all(target), "old");
    staged.commit();
  }
  EXPECT_EQ(read_all(target), "new");
  EXPECT_EQ(entries(dir_), 1);
  EXPECT_THROW(verinit::io::staged_file(dir_ / "missing" / "f"), std::runtime_error);
  EXPECT_THROW(verinit::io::staged_file{dir_}, std::runtime_error);  // a directory
}

TEST_F(AtomicFileTest, StagedDirectoryRefusesToReplaceAFile) {
  // An exchange would swap the file into the temporary's place, and removing the temporary
  // would remove it.
  const fs::path target = dir_ / "report";
  verinit::io::staged_directory staged(target);
  verinit::io::write_file_atomically(target, "precious");
  EXPECT_THROW(staged.commit(), std::runtime_error);
  EXPECT_EQ(read_all(target), "precious");
}

}  // namespace
