// The .npz reader: numpy.savez and savez_compressed archives (zip.hpp's layer), each member
// "<name>.npy" an .npy array, stored or deflated.
#include "npz.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "npy_format.hpp"
#include "text.hpp"
#include "zip.hpp"

namespace verinit::io {
namespace {

using zip::fail;
using zip::inflater;
using zip::member_label;
using zip::reader;

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
  for (auto& e : zip::read_directory(in, "an .npz is written by numpy.savez")) {
    if (e.name.size() <= 4 || !e.name.ends_with(".npy"))
      fail(path,
           member_label(e.name) + " is not an .npy array (numpy.savez names each '<name>.npy')");
    npz_member m;
    m.name = e.name.substr(0, e.name.size() - 4);
    m.deflated = e.deflated;
    m.crc = e.crc;
    m.compressed = e.compressed;
    m.uncompressed = e.uncompressed;
    m.start = e.start;
    m.local = e.local;
    archive.members_.push_back(std::move(m));
  }
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
    if (zip::crc32_of(whole) != member.crc)
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
