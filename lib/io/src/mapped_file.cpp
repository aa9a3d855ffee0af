#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace verinit::io {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("cannot read '" + path.string() + "': " + problem);
}

}  // namespace

mapped_file mapped_file::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(path, errno == ENOENT ? std::string("no such file")
                               : std::string("cannot open it: ") + std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_on_exit{fd};
  struct stat status {};
  if (::fstat(fd, &status) != 0)
    fail(path, std::string("cannot get its size: ") + std::strerror(errno));
  if (!S_ISREG(status.st_mode)) fail(path, "not a regular file");
  mapped_file file;
  if (status.st_size == 0) return file;
  const auto size = static_cast<std::size_t>(status.st_size);
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mapping == MAP_FAILED) fail(path, std::string("cannot map it: ") + std::strerror(errno));
  file.data_ = static_cast<const std::byte*>(mapping);
  file.size_ = size;
  return file;
}

mapped_file::mapped_file(mapped_file&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

mapped_file& mapped_file::operator=(mapped_file&& other) noexcept {
  if (this != &other) {
    mapped_file old(std::move(*this));  // unmaps ours on leaving
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

mapped_file::~mapped_file() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

// ---- spill_file ------------------------------------------------------------------------------

spill_file::spill_file(const std::filesystem::path& directory) : directory_(directory) {
  // O_TMPFILE: never linked, gone with the descriptor; where the file system lacks it, a named
  // file unlinked at once.
#ifdef O_TMPFILE
  fd_ = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd_ < 0) {
    std::string name = (directory / "verinit-spill-XXXXXX").string();
    fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd_ < 0) fail(std::strerror(errno));
    ::unlink(name.c_str());
  }
}

spill_file::~spill_file() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), static_cast<std::size_t>(end_));
  if (fd_ >= 0) ::close(fd_);
}

void spill_file::fail(const std::string& problem) const {
  throw std::runtime_error("cannot write a temporary file in '" + directory_.string() +
                           "': " + problem);
}

std::size_t spill_file::add(std::span<const std::byte> bytes) {
  if (data_ != nullptr) throw std::logic_error("spill_file::add after map");
  const std::uint64_t offset = (end_ + 63) / 64 * 64;
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(n < 0 ? std::strerror(errno) : "nothing written");
    done += static_cast<std::size_t>(n);
  }
  copies_.emplace_back(offset, bytes.size());
  end_ = offset + bytes.size();
  return copies_.size() - 1;
}

void spill_file::map() {
  if (data_ != nullptr || end_ == 0) return;
  void* mapping = ::mmap(nullptr, static_cast<std::size_t>(end_), PROT_READ, MAP_SHARED, fd_, 0);
  if (mapping == MAP_FAILED) fail(std::string("cannot map it: ") + std::strerror(errno));
  data_ = static_cast<const std::byte*>(mapping);
}

std::span<const std::byte> spill_file::copy(std::size_t index) const {
  const auto [offset, size] = copies_.at(index);
  if (size == 0) return {};
  if (data_ == nullptr) throw std::logic_error("spill_file::copy before map");
  return {data_ + offset, static_cast<std::size_t>(size)};
}

}  // namespace verinit::io
