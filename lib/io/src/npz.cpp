// The .npz reader: the zip structures of PKWARE's APPNOTE.TXT 6.3.10 (4.3.7 local file
// header, 4.3.12 central directory header, 4.3.14-4.3.16 Zip64 and classic end records,
// 4.5.3 the Zip64 extended information extra field), only as much of them as numpy.savez and
// savez_compressed write: one disk, no encryption, methods 0 (stored) and 8 (deflate, RFC 1951,
// inflated with zlib). Every offset and size is checked against the file before it is used.
#include "npz.hpp"

#define ZLIB_CONST  // next_in is const (zlib.h, "z_const")
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <string_view>

#include "npy_format.hpp"
#include "text.hpp"

namespace verinit::io {
namespace {

constexpr std::uint32_t local_signature = 0x04034b50;
constexpr std::uint32_t central_signature = 0x02014b50;
constexpr std::uint32_t end_signature = 0x06054b50;
constexpr std::uint32_t zip64_end_signature = 0x06064b50;
constexpr std::uint32_t zip64_locator_signature = 0x07064b50;
constexpr std::size_t end_size = 22, zip64_locator_size = 20, zip64_end_size = 56;
constexpr std::size_t central_size = 46, local_size = 30;
// Deflate expands at most 1032:1 (zlib's FAQ, "What's the maximum compression ratio?"); a
// directory claiming more is a lie, refused before anything is allocated for it.
constexpr std::uint64_t max_deflate_ratio = 1032;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("cannot read '" + path.string() + "': " + problem);
}

std::string member_label(std::string_view name) {
  return "member '" + text::printable(name, 64) + "'";
}

// Little-endian fields of a mapped file, each read only after its bounds are checked.
class reader {
 public:
  reader(std::span<const std::byte> bytes, const std::filesystem::path& path)
      : bytes_(bytes), path_(path) {}
  std::uint64_t size() const { return bytes_.size(); }
  bool fits(std::uint64_t at, std::uint64_t length) const {
    return at <= bytes_.size() && length <= bytes_.size() - at;
  }
  std::uint64_t le(std::uint64_t at, std::size_t width, const char* what) const {
    if (!fits(at, width))
      fail(path_, std::string(what) + " at byte " + std::to_string(at) + " is past the end");
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i)
      value |= std::to_integer<std::uint64_t>(bytes_[at + i]) << (8 * i);
    return value;
  }
  std::string_view text(std::uint64_t at, std::uint64_t length) const {
    return {reinterpret_cast<const char*>(bytes_.data() + at), static_cast<std::size_t>(length)};
  }
  std::span<const std::byte> span(std::uint64_t at, std::uint64_t length) const {
    return bytes_.subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(length));
  }

 private:
  std::span<const std::byte> bytes_;
  const std::filesystem::path& path_;
};

// A raw deflate stream (no zlib or gzip wrapper, as in zip), inflated in exact pieces, with
// the CRC-32 of everything it produced.
class inflater {
 public:
  explicit inflater(std::span<const std::byte> input) : input_(input) {
    if (inflateInit2(&stream_, -MAX_WBITS) != Z_OK)
      throw std::runtime_error("zlib: inflateInit2 failed");
  }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
  ~inflater() { inflateEnd(&stream_); }

  // Fills `out` exactly; returns the problem, or empty.
  std::string read(std::span<std::byte> out) {
    std::size_t done = 0;
    while (done < out.size()) {
      if (ended_) return "its data end early";
      refill();
      const std::size_t chunk = std::min<std::size_t>(out.size() - done, 1u << 30);
      stream_.next_out = reinterpret_cast<Bytef*>(out.data() + done);
      stream_.avail_out = static_cast<uInt>(chunk);
      const uInt available = stream_.avail_in;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      const std::size_t produced = chunk - stream_.avail_out;
      crc_ = crc32_z(crc_, reinterpret_cast<const Bytef*>(out.data() + done), produced);
      done += produced;
      if (status == Z_STREAM_END) {
        ended_ = true;
      } else if (status != Z_OK && status != Z_BUF_ERROR) {
        return corrupt(status);
      } else if (produced == 0 && stream_.avail_in == available) {
        // No progress: the input is spent (truncated) or zlib cannot go on.
        return offset_ == input_.size() && available == 0 ? "its compressed data are truncated"
                                                          : corrupt(status);
      }
    }
    return {};
  }
  // Empty if the stream ends here; else the problem (more output, or no end marker).
  std::string end(std::uint64_t expected) {
    if (ended_) return {};
    std::byte extra{};
    while (true) {
      refill();
      stream_.next_out = reinterpret_cast<Bytef*>(&extra);
      stream_.avail_out = 1;
      const uInt available = stream_.avail_in;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      if (stream_.avail_out == 0)
        return "it inflates to more than the directory's " + std::to_string(expected) + " bytes";
      if (status == Z_STREAM_END) return {};
      if ((status != Z_OK && status != Z_BUF_ERROR) || stream_.avail_in == available)
        return "its compressed data end without deflate's end of stream (truncated or corrupt)";
    }
  }
  std::uint32_t crc() const { return static_cast<std::uint32_t>(crc_); }

 private:
  void refill() {
    if (stream_.avail_in > 0 || offset_ == input_.size()) return;
    const std::size_t chunk = std::min<std::size_t>(input_.size() - offset_, 1u << 30);
    stream_.next_in = reinterpret_cast<const Bytef*>(input_.data() + offset_);
    stream_.avail_in = static_cast<uInt>(chunk);
    offset_ += chunk;
  }

  std::string corrupt(int status) const {
    return std::string("its compressed data are corrupt (zlib: ") +
           (stream_.msg != nullptr ? stream_.msg : "error " + std::to_string(status)) + ")";
  }

  std::span<const std::byte> input_;
  std::size_t offset_ = 0;
  z_stream stream_{};
  uLong crc_ = crc32_z(0, nullptr, 0);
  bool ended_ = false;
};

// The Zip64 extended information (APPNOTE 4.5.3): the 8-byte values of the fields whose
// 32-bit (or 16-bit disk) values are saturated, in this order.
void read_zip64_extra(const reader& in, std::uint64_t at, std::uint64_t length,
                      const std::string& label, std::uint64_t& uncompressed,
                      std::uint64_t& compressed, std::uint64_t& offset, std::uint64_t& disk,
                      const std::filesystem::path& path) {
  const std::uint64_t end = at + length;
  while (at + 4 <= end) {
    const auto id = in.le(at, 2, "an extra field");
    const auto size = in.le(at + 2, 2, "an extra field");
    if (at + 4 + size > end) fail(path, label + ": an extra field runs past its header");
    if (id == 0x0001) {
      std::uint64_t field = at + 4;
      const auto take = [&](std::uint64_t& value, std::uint64_t saturated, std::size_t width) {
        if (value != saturated) return;
        if (field + width > at + 4 + size)
          fail(path, label + ": its Zip64 extra field lacks a value its header defers to it");
        value = in.le(field, width, "a Zip64 extra field");
        field += width;
      };
      take(uncompressed, 0xffffffff, 8);
      take(compressed, 0xffffffff, 8);
      take(offset, 0xffffffff, 8);
      take(disk, 0xffff, 4);
      return;
    }
    at += 4 + size;
  }
}

// The .npy header at the start of a member: from the mapping when stored, else inflated.
void read_npy_header(const reader& in, npz_member& m, const std::filesystem::path& path) {
  const std::string label = member_label(m.name + ".npy");
  std::vector<std::byte> head;
  std::optional<inflater> stream;
  const auto take = [&](std::uint64_t length) {
    // At most 12 + npy_format::max_header_length bytes, and no more than the member holds.
    const std::size_t old = head.size();
    head.resize(old + static_cast<std::size_t>(length));
    if (!m.deflated) {
      const auto bytes = in.span(m.start + old, length);
      std::copy(bytes.begin(), bytes.end(), head.begin() + static_cast<std::ptrdiff_t>(old));
    } else if (const auto problem = stream->read(std::span(head).subspan(old)); !problem.empty()) {
      fail(path, label + ": " + problem);
    }
  };
  if (m.deflated) stream.emplace(in.span(m.start, m.compressed));
  try {
    take(std::min<std::uint64_t>(12, m.uncompressed));
    const auto preamble = npy_format::read_preamble(head, m.uncompressed);
    if (preamble.data_offset() > head.size()) take(preamble.data_offset() - head.size());
    const auto fields = npy_format::parse_header(
        std::string_view(reinterpret_cast<const char*>(head.data()) + preamble.size,
                         static_cast<std::size_t>(preamble.header_length)));
    m.npy_header = preamble.data_offset();
    m.descr = fields.descr;
    m.fortran = fields.fortran;
    m.shape = fields.shape;
    m.dtype_name = npy_format::dtype_name(m.descr);
    m.type = npy_format::float_dtype(m.descr);
    m.item = npy_format::item_size(m.descr);
    if (m.item == 0) {
      // Not a numeric scalar dtype (strings, objects, structs): listed, never viewed.
      m.data_bytes = m.uncompressed - m.npy_header;
      return;
    }
    m.data_bytes = npy_format::element_count(m.shape, m.item) * m.item;
    if (m.npy_header + m.data_bytes != m.uncompressed)
      fail(path, label + ": its .npy header describes " + std::to_string(m.data_bytes) +
                     " bytes of data after " + std::to_string(m.npy_header) +
                     " of header, but the member has " + std::to_string(m.uncompressed));
  } catch (const npy_format::error& e) {
    fail(path, label + ": " + e.what());
  }
}

}  // namespace

npz_archive npz_archive::open(const std::filesystem::path& path) {
  npz_archive archive(path, mapped_file::open(path));
  const reader in(archive.map_.bytes(), path);
  const std::uint64_t size = in.size();

  // The end of central directory record: the last 22 bytes, or followed by its comment.
  std::optional<std::uint64_t> end;
  if (size >= end_size) {
    const std::uint64_t lowest = size - end_size > 0xffff ? size - end_size - 0xffff : 0;
    for (std::uint64_t at = size - end_size + 1; at-- > lowest;)
      if (in.le(at, 4, "") == end_signature && at + end_size + in.le(at + 20, 2, "") == size) {
        end = at;
        break;
      }
  }
  if (!end)
    fail(path,
         "not a zip archive (no end of central directory record; an .npz is written by "
         "numpy.savez)");
  std::uint64_t disk = in.le(*end + 4, 2, ""), directory_disk = in.le(*end + 6, 2, "");
  std::uint64_t disk_entries = in.le(*end + 8, 2, ""), entries = in.le(*end + 10, 2, "");
  std::uint64_t directory_size = in.le(*end + 12, 4, ""), directory = in.le(*end + 16, 4, "");
  std::uint64_t directory_end_limit = *end;
  if (*end >= zip64_locator_size &&
      in.le(*end - zip64_locator_size, 4, "") == zip64_locator_signature) {
    const std::uint64_t locator = *end - zip64_locator_size;
    const std::uint64_t record = in.le(locator + 8, 8, "");
    if (in.le(locator + 4, 4, "") != 0 || in.le(locator + 16, 4, "") > 1)
      fail(path, "the archive spans several disks");
    if (record > locator || locator - record < zip64_end_size ||
        in.le(record, 4, "") != zip64_end_signature)
      fail(path, "the Zip64 end record locator points at byte " + std::to_string(record) +
                     ", where there is no Zip64 end record");
    disk = in.le(record + 16, 4, "");
    directory_disk = in.le(record + 20, 4, "");
    disk_entries = in.le(record + 24, 8, "");
    entries = in.le(record + 32, 8, "");
    directory_size = in.le(record + 40, 8, "");
    directory = in.le(record + 48, 8, "");
    directory_end_limit = record;
  }
  if (disk != 0 || directory_disk != 0 || disk_entries != entries)
    fail(path, "the archive spans several disks");
  if (directory > directory_end_limit || directory_size != directory_end_limit - directory)
    fail(path, "the central directory (" + std::to_string(directory_size) + " bytes at byte " +
                   std::to_string(directory) + ") does not end where the end record begins (byte " +
                   std::to_string(directory_end_limit) + ")");
  if (entries > directory_size / central_size)
    fail(path, "the end record claims " + std::to_string(entries) +
                   " members, more than a central directory of " + std::to_string(directory_size) +
                   " bytes can hold");

  std::set<std::string> names;
  archive.members_.reserve(static_cast<std::size_t>(entries));
  std::uint64_t at = directory;
  for (std::uint64_t k = 0; k < entries; ++k) {
    const std::string where = "central directory entry " + std::to_string(k + 1);
    if (directory + directory_size - at < central_size || in.le(at, 4, "") != central_signature)
      fail(path, where + " (byte " + std::to_string(at) + ") is not a central directory header");
    const auto flags = in.le(at + 8, 2, ""), method = in.le(at + 10, 2, "");
    std::uint64_t compressed = in.le(at + 20, 4, ""), uncompressed = in.le(at + 24, 4, "");
    const auto name_length = in.le(at + 28, 2, ""), extra_length = in.le(at + 30, 2, "");
    const auto comment_length = in.le(at + 32, 2, "");
    std::uint64_t member_disk = in.le(at + 34, 2, ""), local = in.le(at + 42, 4, "");
    const std::uint64_t next = at + central_size + name_length + extra_length + comment_length;
    if (next > directory + directory_size) fail(path, where + " runs past the central directory");
    const std::string file_name(in.text(at + central_size, name_length));
    const std::string label = member_label(file_name);
    read_zip64_extra(in, at + central_size + name_length, extra_length, label, uncompressed,
                     compressed, local, member_disk, path);
    if (member_disk != 0) fail(path, "the archive spans several disks");
    if ((flags & 0x1) != 0) fail(path, label + " is encrypted");
    if (method != 0 && method != 8)
      fail(path, label + " uses compression method " + std::to_string(method) +
                     ", but only 0 (stored) and 8 (deflate) are read");
    if (method == 0 && compressed != uncompressed)
      fail(path, label + " is stored, but its sizes differ (" + std::to_string(compressed) +
                     " compressed, " + std::to_string(uncompressed) + " not)");
    if (method == 8 && uncompressed / max_deflate_ratio > compressed)
      fail(path, label + " claims " + std::to_string(uncompressed) + " bytes from " +
                     std::to_string(compressed) + " compressed, beyond deflate's 1032:1");
    if (file_name.size() <= 4 || !file_name.ends_with(".npy"))
      fail(path, label + " is not an .npy array (numpy.savez names each '<name>.npy')");
    if (!names.insert(file_name).second) fail(path, label + " appears twice");

    // Its local header: the same name and method, the data after it, before the directory.
    if (local > directory || directory - local < local_size ||
        in.le(local, 4, "") != local_signature)
      fail(path, label + ": no local header at byte " + std::to_string(local));
    const auto local_name = in.le(local + 26, 2, ""), local_extra = in.le(local + 28, 2, "");
    const std::uint64_t start = local + local_size + local_name + local_extra;
    if (start > directory || directory - start < compressed)
      fail(path, label + ": its data (" + std::to_string(compressed) + " bytes at byte " +
                     std::to_string(start) + ") run past the start of the central directory");
    if (in.text(local + local_size, local_name) != file_name || in.le(local + 8, 2, "") != method)
      fail(path, label + ": its local header disagrees with the central directory");

    npz_member m;
    m.name = file_name.substr(0, file_name.size() - 4);
    m.deflated = method == 8;
    m.crc = static_cast<std::uint32_t>(in.le(at + 16, 4, ""));
    m.compressed = compressed;
    m.uncompressed = uncompressed;
    m.start = start;
    m.local = local;
    archive.members_.push_back(std::move(m));
    at = next;
  }
  if (at != directory + directory_size)
    fail(path, "the central directory has " + std::to_string(directory + directory_size - at) +
                   " bytes after its " + std::to_string(entries) + " entries");

  // Members must not overlap (a zip bomb's trick): sorted by local header, each ends before
  // the next begins.
  std::vector<const npz_member*> by_offset;
  for (const auto& m : archive.members_) by_offset.push_back(&m);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const npz_member* a, const npz_member* b) { return a->local < b->local; });
  for (std::size_t k = 1; k < by_offset.size(); ++k)
    if (by_offset[k - 1]->start + by_offset[k - 1]->compressed > by_offset[k]->local)
      fail(path, member_label(by_offset[k]->name + ".npy") + " overlaps " +
                     member_label(by_offset[k - 1]->name + ".npy"));
  for (auto& m : archive.members_) read_npy_header(in, m, path);
  return archive;
}

tensor_view npz_archive::view(const npz_member& member, tensor_buffer& fallback,
                              std::optional<dtype> bits16) const {
  const std::string label = member_label(member.name + ".npy");
  std::optional<dtype> type = member.type;
  if (bits16 && npy_format::is_bit_pattern(member.descr)) type = bits16;
  if (!type)
    fail(path_, label + " has dtype '" + text::printable(member.descr, 16) +
                    "', but only float16, float32 and float64 can be viewed as elements" +
                    (npy_format::is_bit_pattern(member.descr)
                         ? " (or 16-bit bit patterns, read as bfloat16 or float16)"
                         : ""));
  if (bits16 && member.type && *member.type != *bits16)
    fail(path_, label + " is " + member.dtype_name + ", not the " +
                    std::string(to_string(*bits16)) + " it was read as");
  const std::size_t item = info(*type).size;
  const reader in(map_.bytes(), path_);
  const bool swap = member.descr[0] == '>' && item > 1;
  const bool reorder = member.fortran && member.shape.size() > 1;
  if (!member.deflated) {
    const auto whole = in.span(member.start, member.compressed);
    if (static_cast<std::uint32_t>(
            crc32_z(0, reinterpret_cast<const Bytef*>(whole.data()), whole.size())) != member.crc)
      fail(path_, label + ": its CRC-32 does not match the directory's (the data are corrupt)");
    const auto data = whole.subspan(static_cast<std::size_t>(member.npy_header));
    if (!swap && !reorder && reinterpret_cast<std::uintptr_t>(data.data()) % item == 0)
      return {*type, member.shape, data};
    fallback.type = *type;
    fallback.shape = member.shape;
    fallback.bytes.assign(data.begin(), data.end());
  } else {
    fallback.type = *type;
    fallback.shape = member.shape;
    inflater stream(in.span(member.start, member.compressed));
    std::vector<std::byte> head(static_cast<std::size_t>(member.npy_header));
    fallback.bytes.resize(static_cast<std::size_t>(member.data_bytes));
    std::string problem = stream.read(head);
    if (problem.empty()) problem = stream.read(fallback.bytes);
    if (problem.empty()) problem = stream.end(member.uncompressed);
    if (problem.empty() && stream.crc() != member.crc)
      problem = "its CRC-32 does not match the directory's (the data are corrupt)";
    if (!problem.empty()) {
      fallback.bytes.clear();
      fail(path_, label + ": " + problem);
    }
  }
  if (swap) npy_format::byte_swap(fallback.bytes, item);
  if (reorder) fallback.bytes = npy_format::to_c_order(fallback.bytes, item, member.shape);
  return fallback.view();
}

}  // namespace verinit::io
