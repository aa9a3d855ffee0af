// Internal: the .npz reader behind checkpoint (numpy.savez and savez_compressed: a zip archive
// of "<name>.npy" members, stored or deflated, with Zip64 records; PKWARE APPNOTE.TXT 6.3.10).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mapped_file.hpp"
#include "verinit/tensor.hpp"

namespace verinit::io {

struct npz_member {
  std::string name;        ///< without ".npy"
  std::string descr;       ///< the .npy descr ('<f4', '<i8', ...)
  std::string dtype_name;  ///< safetensors' spelling (npy_format::dtype_name)
  std::optional<dtype> type;
  bool fortran = false;
  tensor_shape shape;
  std::size_t item = 0;          ///< element size; 0 for a descr that is not a scalar
  std::uint64_t data_bytes = 0;  ///< the array's bytes (after its .npy header)
  bool deflated = false;         ///< method 8; else 0, stored
  std::uint32_t crc = 0;         ///< CRC-32 of the whole .npy member
  std::uint64_t compressed = 0, uncompressed = 0;
  std::uint64_t local = 0;       ///< its local header, in the file
  std::uint64_t start = 0;       ///< the member's (compressed) bytes in the file
  std::uint64_t npy_header = 0;  ///< the .npy preamble and header, in the member
};

class npz_archive {
 public:
  /// Maps and validates the archive (checkpoint::open's errors for a zip).
  static npz_archive open(const std::filesystem::path& path);

  const std::vector<npz_member>& members() const noexcept { return members_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// checkpoint::view for one member (the CRC-32 of the member checked on each call).
  tensor_view view(const npz_member& member, tensor_buffer& fallback,
                   std::optional<dtype> bits16) const;

 private:
  npz_archive(std::filesystem::path path, mapped_file map)
      : path_(std::move(path)), map_(std::move(map)) {}
  std::filesystem::path path_;
  mapped_file map_;
  std::vector<npz_member> members_;
};

}  // namespace verinit::io
