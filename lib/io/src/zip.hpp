// Internal: the zip layer of the readers of zip archives (.npz, torch.save's .pt): the central
// directory of PKWARE's APPNOTE.TXT 6.3.10 (4.3.7 local file header, 4.3.12 central directory
// header, 4.3.14-4.3.16 Zip64 and classic end records, 4.5.3 the Zip64 extended information
// extra field), as much of it as numpy.savez and torch.save write: one disk, no encryption,
// methods 0 (stored) and 8 (deflate, RFC 1951, inflated with zlib). The central directory is
// authoritative: of a local header only the signature, name, extra length and method are read
// (torch writes sizes and CRC 0 there, the real ones in a data descriptor after the data).
// Every offset and size is checked against the file before it is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#define ZLIB_CONST  // next_in is const (zlib.h, "z_const")
#include <zlib.h>

namespace verinit::io::zip {

/// Throws std::runtime_error "cannot read '<path>': <problem>".
[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem);

/// "member '<name>'", the name printable.
std::string member_label(std::string_view name);

/// Little-endian fields of a mapped file, each read only after its bounds are checked.
class reader {
 public:
  reader(std::span<const std::byte> bytes, const std::filesystem::path& path)
      : bytes_(bytes), path_(path) {}
  std::uint64_t size() const { return bytes_.size(); }
  bool fits(std::uint64_t at, std::uint64_t length) const {
    return at <= bytes_.size() && length <= bytes_.size() - at;
  }
  /// The `width`-byte little-endian value at `at`; fails naming `what` past the end.
  std::uint64_t le(std::uint64_t at, std::size_t width, const char* what) const;
  std::string_view text(std::uint64_t at, std::uint64_t length) const {
    return {reinterpret_cast<const char*>(bytes_.data() + at), static_cast<std::size_t>(length)};
  }
  std::span<const std::byte> span(std::uint64_t at, std::uint64_t length) const {
    return bytes_.subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(length));
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::span<const std::byte> bytes_;
  const std::filesystem::path& path_;
};

/// One member, as the central directory describes it.
struct entry {
  std::string name;
  bool deflated = false;  ///< method 8; else 0, stored
  std::uint32_t crc = 0;  ///< CRC-32 of the uncompressed bytes (0 from writers that omit it)
  std::uint64_t compressed = 0, uncompressed = 0;
  std::uint64_t local = 0;  ///< its local header, in the file
  std::uint64_t start = 0;  ///< its (compressed) bytes, in the file
};

/// The members of the archive `in`, in directory order. Fails for a file with no end record
/// (`what_it_is` then says what the file should be), several disks, an end record or directory
/// that lies about its size or count, an encrypted member, a method other than 0 and 8, a stored
/// member whose sizes differ, a deflated one claiming more than deflate's 1032:1, a repeated
/// name, a local header missing or disagreeing with the directory (name, method), data past the
/// directory's start, or two members overlapping.
std::vector<entry> read_directory(const reader& in, std::string_view what_it_is);

/// CRC-32 (zlib's) of `bytes`.
std::uint32_t crc32_of(std::span<const std::byte> bytes);

/// A raw deflate stream (no zlib or gzip wrapper, as in zip), inflated in exact pieces, with
/// the CRC-32 of everything it produced.
class inflater {
 public:
  explicit inflater(std::span<const std::byte> input);
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
  ~inflater();

  /// Fills `out` exactly; returns the problem, or empty.
  std::string read(std::span<std::byte> out);
  /// Empty if the stream ends here; else the problem (more output, or no end marker).
  std::string end(std::uint64_t expected);
  std::uint32_t crc() const { return static_cast<std::uint32_t>(crc_); }

 private:
  void refill();
  std::string corrupt(int status) const;

  std::span<const std::byte> input_;
  std::size_t offset_ = 0;
  z_stream stream_{};
  uLong crc_ = crc32_z(0, nullptr, 0);
  bool ended_ = false;
};

}  // namespace verinit::io::zip
