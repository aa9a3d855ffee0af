// The zip layer (zip.hpp): PKWARE's APPNOTE.TXT 6.3.10, the parts numpy.savez and torch.save use.
#include "zip.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>

#include "text.hpp"

namespace verinit::io::zip {
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

// The Zip64 extended information (APPNOTE 4.5.3): the 8-byte values of the fields whose
// 32-bit (or 16-bit disk) values are saturated, in this order.
void read_zip64_extra(const reader& in, std::uint64_t at, std::uint64_t length,
                      const std::string& label, std::uint64_t& uncompressed,
                      std::uint64_t& compressed, std::uint64_t& offset, std::uint64_t& disk) {
  const std::uint64_t end = at + length;
  while (at + 4 <= end) {
    const auto id = in.le(at, 2, "an extra field");
    const auto size = in.le(at + 2, 2, "an extra field");
    if (at + 4 + size > end) fail(in.path(), label + ": an extra field runs past its header");
    if (id == 0x0001) {
      std::uint64_t field = at + 4;
      const auto take = [&](std::uint64_t& value, std::uint64_t saturated, std::size_t width) {
        if (value != saturated) return;
        if (field + width > at + 4 + size)
          fail(in.path(), label + ": its Zip64 extra field lacks a value its header defers to it");
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

}  // namespace

void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("cannot read '" + path.string() + "': " + problem);
}

std::string member_label(std::string_view name) {
  return "member '" + text::printable(name, 64) + "'";
}

std::uint64_t reader::le(std::uint64_t at, std::size_t width, const char* what) const {
  if (!fits(at, width))
    fail(path_, std::string(what) + " at byte " + std::to_string(at) + " is past the end");
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i)
    value |= std::to_integer<std::uint64_t>(bytes_[at + i]) << (8 * i);
  return value;
}

std::uint32_t crc32_of(std::span<const std::byte> bytes) {
  return static_cast<std::uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

std::vector<entry> read_directory(const reader& in, std::string_view what_it_is) {
  const std::filesystem::path& path = in.path();
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
         "not a zip archive (no end of central directory record; " + std::string(what_it_is) + ")");
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

  std::vector<entry> members;
  std::set<std::string, std::less<>> names;
  members.reserve(static_cast<std::size_t>(entries));
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
    std::string file_name(in.text(at + central_size, name_length));
    const std::string label = member_label(file_name);
    read_zip64_extra(in, at + central_size + name_length, extra_length, label, uncompressed,
                     compressed, local, member_disk);
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

    entry m;
    m.name = std::move(file_name);
    m.deflated = method == 8;
    m.crc = static_cast<std::uint32_t>(in.le(at + 16, 4, ""));
    m.compressed = compressed;
    m.uncompressed = uncompressed;
    m.start = start;
    m.local = local;
    members.push_back(std::move(m));
    at = next;
  }
  if (at != directory + directory_size)
    fail(path, "the central directory has " + std::to_string(directory + directory_size - at) +
                   " bytes after its " + std::to_string(entries) + " entries");

  // Members must not overlap (a zip bomb's trick): sorted by local header, each ends before
  // the next begins.
  std::vector<const entry*> by_offset;
  for (const auto& m : members) by_offset.push_back(&m);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const entry* a, const entry* b) { return a->local < b->local; });
  for (std::size_t k = 1; k < by_offset.size(); ++k)
    if (by_offset[k - 1]->start + by_offset[k - 1]->compressed > by_offset[k]->local)
      fail(path,
           member_label(by_offset[k]->name) + " overlaps " + member_label(by_offset[k - 1]->name));
  return members;
}

// ---- inflater ---------------------------------------------------------------------------------

inflater::inflater(std::span<const std::byte> input) : input_(input) {
  if (inflateInit2(&stream_, -MAX_WBITS) != Z_OK)
    throw std::runtime_error("zlib: inflateInit2 failed");
}

inflater::~inflater() { inflateEnd(&stream_); }

std::string inflater::read(std::span<std::byte> out) {
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

std::string inflater::end(std::uint64_t expected) {
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

void inflater::refill() {
  if (stream_.avail_in > 0 || offset_ == input_.size()) return;
  const std::size_t chunk = std::min<std::size_t>(input_.size() - offset_, 1u << 30);
  stream_.next_in = reinterpret_cast<const Bytef*>(input_.data() + offset_);
  stream_.avail_in = static_cast<uInt>(chunk);
  offset_ += chunk;
}

std::string inflater::corrupt(int status) const {
  return std::string("its compressed data are corrupt (zlib: ") +
         (stream_.msg != nullptr ? stream_.msg : "error " + std::to_string(status)) + ")";
}

}  // namespace verinit::io::zip
