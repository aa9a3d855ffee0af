// Internal: a whole file mapped read-only (POSIX mmap, MAP_PRIVATE), for the readers that view
// tensors in place (the .npz reader).
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

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

}  // namespace verinit::io
