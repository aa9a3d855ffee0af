// Internal: a whole file mapped read-only (POSIX mmap, MAP_PRIVATE), for the readers that view
// tensors in place (the .npz reader); and a spill file, bytes written out of the process's
// memory and mapped back (checkpoint_views).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace verinit::io {

class mapped_file {
 public:
  /// Maps `path`. Throws std::runtime_error "cannot read '<path>': <problem>" if it is missing,
  /// not a regular file, or cannot be opened or mapped. An empty file maps to no bytes.
  static mapped_file open(const std::filesystem::path& path);

  mapped_file(mapped_file&& other) noexcept;
  mapped_file& operator=(mapped_file&& other) noexcept;
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file();

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  mapped_file() = default;
  const std::byte* data_ = nullptr;  ///< null when empty or moved from
  std::size_t size_ = 0;
};

/// An unlinked temporary file: copies written to it with write(2) (a full disk is an error, not
/// a SIGBUS from a mapping), then mapped read-only. On a disk-backed file system its pages are the
/// page cache's, which the kernel writes back and drops under memory pressure, not the process's
/// anonymous memory (on tmpfs they are memory or swap all the same).
class spill_file {
 public:
  /// Creates the file in `directory`. Throws std::runtime_error "cannot write a temporary file
  /// in '<directory>': <problem>".
  explicit spill_file(const std::filesystem::path& directory);
  spill_file(const spill_file&) = delete;
  spill_file& operator=(const spill_file&) = delete;
  ~spill_file();

  /// Writes a copy of `bytes` (at a 64-byte aligned offset) and returns its index. Before map().
  std::size_t add(std::span<const std::byte> bytes);
  /// Maps what was written; then copy(i) are the bytes of add's i-th copy, while this lives.
  void map();
  std::span<const std::byte> copy(std::size_t index) const;
  /// Bytes written (with alignment padding).
  std::uint64_t size() const noexcept { return end_; }

 private:
  [[noreturn]] void fail(const std::string& problem) const;
  std::filesystem::path directory_;
  int fd_ = -1;
  std::uint64_t end_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> copies_;  // offset, size
  const std::byte* data_ = nullptr;
};

}  // namespace verinit::io
