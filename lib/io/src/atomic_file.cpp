// Atomic files and directories (see the header).
#include "verinit/io/atomic_file.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28)
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace verinit::io {
namespace {

namespace fs = std::filesystem;

// A name no other writer of this process or another one uses at the same time.
std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw std::runtime_error("cannot write '" + path.string() + "': " + problem);
}

}  // namespace

void write_file_atomically(const fs::path& path,
                           std::initializer_list<std::span<const std::byte>> parts) {
  write_file_atomically(path, std::span(parts.begin(), parts.size()));
}

void write_file_atomically(const fs::path& path,
                           std::span<const std::span<const std::byte>> parts) {
  staged_file file(path);
  for (const auto part : parts) file.write(part);
  file.commit();
}

void write_file_atomically(const fs::path& path, std::string_view text) {
  write_file_atomically(path, {std::as_bytes(std::span(text.data(), text.size()))});
}

staged_file::staged_file(const fs::path& target) : target_(target) {
  std::error_code error;
  if (fs::is_directory(target_, error)) fail(target_, "it is a directory");
  const fs::path parent = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, error))
    fail(target_, "directory '" + parent.string() + "' does not exist");
  temporary_ = target_;
  temporary_ += ".tmp-" + unique_suffix();
  file_.open(temporary_, std::ios::binary | std::ios::trunc);
  if (!file_) fail(target_, "cannot create the file");
}

staged_file::~staged_file() {
  if (finished_) return;
  file_.close();
  std::error_code ignored;
  fs::remove(temporary_, ignored);
}

void staged_file::write(std::span<const std::byte> bytes) {
  file_.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

void staged_file::write(std::string_view text) { write(std::as_bytes(std::span(text))); }

void staged_file::commit() {
  file_.close();
  std::error_code error;
  if (!file_) {
    fs::remove(temporary_, error);
    finished_ = true;
    fail(target_, "write failed (disk full?)");
  }
  fs::rename(temporary_, target_, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary_, ignored);
    finished_ = true;
    fail(target_, "cannot rename into place: " + error.message());
  }
  finished_ = true;
}

staged_directory::staged_directory(const fs::path& target) : target_(target) {
  const fs::path parent = target_.parent_path();
  std::error_code error;
  fs::create_directories(parent, error);
  if (error)
    throw std::runtime_error("cannot create '" + parent.string() + "': " + error.message());
  temporary_ = parent / ("." + target_.filename().string() + ".tmp-" + unique_suffix());
  fs::create_directory(temporary_, error);
  if (error)
    throw std::runtime_error("cannot create '" + temporary_.string() + "': " + error.message());
}

staged_directory::~staged_directory() {
  if (committed_) return;
  std::error_code ignored;
  fs::remove_all(temporary_, ignored);
}

void staged_directory::commit() {
  std::error_code error;
  const auto status = fs::symlink_status(target_, error);
  const bool exists = fs::exists(status);
  // (An exchange would swap a file or a link into the temporary directory's place, and
  // removing the temporary directory would then remove it.)
  if (exists && !fs::is_directory(status))
    throw std::runtime_error("cannot write '" + target_.string() +
                             "': it exists and is not a directory");
  try {
    if (!exists) {
      fs::rename(temporary_, target_);
    } else if (renameat2(AT_FDCWD, temporary_.c_str(), AT_FDCWD, target_.c_str(),
                         RENAME_EXCHANGE) == 0) {
      fs::remove_all(temporary_);  // now holds the old directory
    } else {
      // No atomic exchange on this file system: move the old directory aside first.
      const fs::path old =
          target_.parent_path() / ("." + target_.filename().string() + ".old-" + unique_suffix());
      fs::rename(target_, old);
      fs::rename(temporary_, target_);
      fs::remove_all(old);
    }
  } catch (const fs::filesystem_error& e) {
    throw std::runtime_error("cannot write '" + target_.string() + "': " + e.code().message());
  }
  committed_ = true;
}

}  // namespace verinit::io
