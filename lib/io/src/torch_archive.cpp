// The .pt reader (torch_archive.hpp). Every size, stride and offset a tensor claims is checked
// against its storage, with overflow-checked arithmetic, before a byte of it is touched
// (the checks torch itself added after fuzzing: pytorch PRs #181310, numel x itemsize
// overflow, and #183381, the offset bound when a size is 0).
#include "torch_archive.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <tuple>

#include "npy_format.hpp"
#include "text.hpp"
#include "zip.hpp"

namespace verinit::io {
namespace {

using zip::fail;

std::string quote(std::string_view name) { return "'" + text::printable(name, 64) + "'"; }

// a * b and a + b in 64 bits, or nullopt on overflow.
std::optional<std::uint64_t> times(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}
std::optional<std::uint64_t> plus(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// Calls f(element index) for each element of a strided tensor, in C order.
template <class F>
void for_each_element(const torch_tensor& t, F&& f) {
  const std::size_t rank = t.shape.size();
  std::uint64_t count = 1;
  for (const auto s : t.shape) count *= static_cast<std::uint64_t>(s);
  if (count == 0) return;
  std::vector<std::int64_t> index(rank, 0);
  std::uint64_t at = static_cast<std::uint64_t>(t.offset);
  for (std::uint64_t k = 0; k < count; ++k) {
    f(at);
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < t.shape[d]) {
        at += static_cast<std::uint64_t>(t.stride[d]);
        break;
      }
      at -= static_cast<std::uint64_t>(t.stride[d]) * static_cast<std::uint64_t>(index[d] - 1);
      index[d] = 0;
    }
  }
}

// The dims of `t` of size > 1 as (stride, size), by stride ascending.
std::vector<std::pair<std::uint64_t, std::uint64_t>> dims_by_stride(const torch_tensor& t) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> dims;
  for (std::size_t d = 0; d < t.shape.size(); ++d)
    if (t.shape[d] > 1)
      dims.emplace_back(static_cast<std::uint64_t>(t.stride[d]),
                        static_cast<std::uint64_t>(t.shape[d]));
  std::sort(dims.begin(), dims.end());
  return dims;
}

// Whether distinct indices of `t` can reach the same element (a stride of 0, as expand() makes,
// or strides that interleave): the dims of size > 1 sorted by stride, each stride must exceed
// the extent of the dims below it. Sufficient, not necessary: sizes (3, 2) with strides (2, 3)
// reach six distinct elements but are counted as repeating (no writer makes such a view).
bool repeats_elements(const torch_tensor& t) {
  std::uint64_t extent = 0;  // the largest index offset the smaller dims reach
  for (const auto& [stride, size] : dims_by_stride(t)) {
    if (stride <= extent) return true;
    extent += stride * (size - 1);  // bounded by the storage, checked before
  }
  return false;
}

// Whether element `at` of the storage is one of `t`'s, for a `t` that does not repeat
// elements: then its strides, largest first, decompose `at - offset` uniquely (each exceeds
// the reach of the smaller ones), greedily.
bool holds(const torch_tensor& t, std::uint64_t at) {
  if (at < static_cast<std::uint64_t>(t.offset)) return false;
  std::uint64_t rest = at - static_cast<std::uint64_t>(t.offset);
  const auto dims = dims_by_stride(t);
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
    const auto [stride, size] = *it;
    const std::uint64_t index = std::min(rest / stride, size - 1);
    rest -= index * stride;
  }
  return rest == 0;
}

}  // namespace

torch_archive torch_archive::open(const std::filesystem::path& path, std::string_view key,
                                  bool check_crc) {
  torch_archive archive(path, mapped_file::open(path));
  archive.check_crc_ = check_crc;
  const auto bytes = archive.map_.bytes();
  // The formats torch.save wrote before 1.6: a pickle of the magic number 0x1950a86a20f9469cfc6c
  // (torch/serialization.py, MAGIC_NUMBER) first, or a tar archive (legacy_load).
  static constexpr unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc,
                                                   0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
  if (bytes.size() >= sizeof legacy_magic &&
      std::memcmp(bytes.data(), legacy_magic, sizeof legacy_magic) == 0)
    fail(path,
         "the legacy torch.save format (before torch 1.6), which verinit does not read: re-save "
         "it with torch.save from torch >= 1.6");
  if (bytes.size() >= 262 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0)
    fail(path,
         "a tar archive (torch.save's oldest format), which verinit does not read: re-save it "
         "with torch.save from torch >= 1.6");
  // torch.load takes a file for a zip archive only if it begins with a local header
  // (torch/serialization.py, _is_zipfile), and reads anything else the legacy way: so must a
  // reader that would agree with it (a legacy file with a zip appended is not a zip to torch).
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "PK\x03\x04", 4) != 0)
    fail(path,
         "not a torch.save zip archive (it does not begin with a zip local header, as every "
         "file torch >= 1.6 writes does; torch.load would read it in the legacy format)");
  const zip::reader in(bytes, path);
  const auto members =
      zip::read_directory(in, "a .pt file is the zip archive torch.save writes (torch >= 1.6)");
  if (members.empty()) fail(path, "an empty zip archive, not one torch.save wrote");
  // The archive's folder: what precedes the first '/' of the first record (torch's
  // PyTorchStreamReader does the same); every record must be in it.
  const auto slash = members[0].name.find('/');
  if (slash == std::string::npos || slash == 0)
    fail(path, zip::member_label(members[0].name) +
                   " is not in a folder, as every record torch.save writes is");
  const std::string folder = members[0].name.substr(0, slash + 1);
  std::map<std::string, const zip::entry*, std::less<>> records;
  for (const auto& m : members) {
    if (!m.name.starts_with(folder))
      fail(path, zip::member_label(m.name) + " is outside the archive's folder " + quote(folder) +
                     ", where torch.save writes every record");
    records.emplace(m.name.substr(folder.size()), &m);
  }
  if (records.contains("constants.pkl") ||
      std::any_of(records.begin(), records.end(),
                  [](const auto& r) { return r.first.starts_with("code/"); }))
    fail(path,
         "a TorchScript archive (torch.jit.save), which verinit does not read: save the "
         "state_dict instead, torch.save(model.state_dict(), path)");
  const auto record = [&](std::string_view name) -> const zip::entry* {
    const auto it = records.find(name);
    if (it == records.end()) return nullptr;
    if (it->second->deflated)
      fail(path, zip::member_label(it->second->name) +
                     " is compressed, but torch.save stores every record");
    return it->second;
  };
  const auto record_text = [&](const zip::entry& e) { return in.text(e.start, e.uncompressed); };
  std::size_t without_crc = 0, checksummed = 0;
  const auto check_record_crc = [&](const zip::entry& e) {
    if (e.crc == 0 && e.uncompressed > 0) {
      ++without_crc;
      return;
    }
    ++checksummed;
    if (zip::crc32_of(in.span(e.start, e.uncompressed)) != e.crc)
      fail(path, zip::member_label(e.name) +
                     ": its CRC-32 does not match the directory's (the data are corrupt)");
  };

  if (const zip::entry* order = record("byteorder")) {
    const auto text = record_text(*order);
    if (text == "big")
      archive.big_endian_ = true;
    else if (text != "little")
      fail(path, "its byteorder record is " + quote(text) + ", not 'little' or 'big'");
  }
  for (const std::string_view name : {"version", ".data/version"})
    if (const zip::entry* version = record(name)) {
      std::string_view text = record_text(*version);
      if (text.ends_with('\n')) text.remove_suffix(1);
      if (text.empty() || text.size() > 4 ||
          !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        fail(path, "its " + std::string(name) + " record is " + quote(record_text(*version)) +
                       ", not a format version number");
    }
  const zip::entry* pickle = record("data.pkl");
  if (pickle == nullptr)
    fail(path, "it has no data.pkl record (" + quote(folder + "data.pkl") +
                   "), so it is not an archive torch.save wrote");
  check_record_crc(*pickle);
  torch_pickle::state_dict state;
  try {
    state = torch_pickle::read(in.span(pickle->start, pickle->uncompressed), key);
  } catch (const torch_pickle::error& e) {
    fail(path, e.what());
  }
  for (auto& other : state.others)
    archive.notes_.push_back("not a tensor, not verified: " + std::move(other));
  if (state.tensors.size() == 1 && state.tensors[0].name.empty())
    state.tensors[0].name = folder.substr(0, folder.size() - 1);  // torch.save(tensor)

  // Storages, each one dtype and its record's exact size.
  std::map<std::string, std::size_t, std::less<>> storage_index;
  // (storage, offset, size, stride, dtype) -> the first tensor with them: tied tensors.
  std::map<std::tuple<std::size_t, std::int64_t, std::vector<std::int64_t>,
                      std::vector<std::int64_t>, const void*>,
           std::size_t>
      geometry;
  for (auto& r : state.tensors) {
    const std::string label = "tensor " + quote(r.name);
    if (r.key.empty() || r.key.size() > 20 ||
        !std::all_of(r.key.begin(), r.key.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail(path, label + ": its storage key " + quote(r.key) +
                     " is not a decimal number, as torch.save writes them");
    if (r.storage_numel < 0)
      fail(path, label + ": its storage has " + std::to_string(r.storage_numel) + " elements");
    const std::uint64_t item = r.dtype->item;
    const auto storage_bytes = r.untyped_storage
                                   ? std::optional(static_cast<std::uint64_t>(r.storage_numel))
                                   : times(static_cast<std::uint64_t>(r.storage_numel), item);
    if (!storage_bytes)
      fail(path, label + ": its storage's " + std::to_string(r.storage_numel) + " elements of " +
                     std::to_string(item) + " bytes overflow 64 bits");
    auto [it, added] = storage_index.emplace(r.key, archive.storages_.size());
    if (added) {
      const zip::entry* data = record("data/" + r.key);
      if (data == nullptr)
        fail(path,
             label + ": its storage record " + quote(folder + "data/" + r.key) + " is missing");
      if (data->uncompressed != *storage_bytes)
        fail(path, label + ": its storage record " + quote("data/" + r.key) + " has " +
                       std::to_string(data->uncompressed) + " bytes, but the pickle says " +
                       std::to_string(*storage_bytes));
      if (*storage_bytes % item != 0)
        fail(path, label + ": its untyped storage's " + std::to_string(*storage_bytes) +
                       " bytes are not a whole number of " + std::string(r.dtype->torch_name) +
                       " elements");
      archive.storages_.push_back({r.key, r.dtype, *storage_bytes / item, data->start,
                                   data->uncompressed, data->crc, r.name});
      if (data->crc == 0 && data->uncompressed > 0)
        ++without_crc;
      else
        ++checksummed;
    }
    const std::size_t s = it->second;
    const storage& st = archive.storages_[s];
    if (st.dtype != r.dtype)
      fail(path, label + " reads storage " + quote("data/" + r.key) + " as " +
                     std::string(r.dtype->torch_name) + ", but tensor " + quote(st.name) +
                     " reads it as " + std::string(st.dtype->torch_name));
    if (st.size != *storage_bytes)
      fail(path, label + " gives storage " + quote("data/" + r.key) + " another size than tensor " +
                     quote(st.name) + " does");

    // Its geometry: sizes, strides and offset within the storage (at most 64 dims: the
    // pickle's limit).
    if (r.offset < 0)
      fail(path, label + " has a negative storage offset " + std::to_string(r.offset));
    std::uint64_t numel = 1, last = static_cast<std::uint64_t>(r.offset);
    bool overflow = false;
    for (std::size_t d = 0; d < r.size.size(); ++d) {
      if (r.size[d] < 0 || r.stride[d] < 0)
        fail(path, label + " has size " + std::to_string(r.size[d]) + " and stride " +
                       std::to_string(r.stride[d]) + " in dim " + std::to_string(d) +
                       ", but neither may be negative");
      const auto n = times(numel, static_cast<std::uint64_t>(r.size[d]));
      overflow = overflow || !n;
      numel = n.value_or(0);
    }
    if (overflow || numel > (std::uint64_t{1} << 62))
      fail(path, label + ": its sizes multiply past 2^62 elements");
    if (numel > 0) {
      for (std::size_t d = 0; d < r.size.size(); ++d) {
        const auto reach = times(static_cast<std::uint64_t>(r.size[d] - 1),
                                 static_cast<std::uint64_t>(r.stride[d]));
        const auto next = reach ? plus(last, *reach) : std::nullopt;
        if (!next) fail(path, label + ": its strides reach past 2^64 elements");
        last = *next;
      }
      if (last >= st.elements)
        fail(path, label + " reaches element " + std::to_string(last) + " of storage " +
                       quote("data/" + r.key) + ", which has " + std::to_string(st.elements));
    } else if (static_cast<std::uint64_t>(r.offset) > st.elements) {
      fail(path, label + " starts at element " + std::to_string(r.offset) + " of storage " +
                     quote("data/" + r.key) + ", which has " + std::to_string(st.elements));
    }
    torch_tensor t;
    t.name = std::move(r.name);
    t.dtype = r.dtype;
    t.shape = r.size;
    const auto tensor_bytes = times(numel, item);  // beyond the storage if elements repeat
    if (!tensor_bytes)
      fail(path, label + ": its " + std::to_string(numel) + " elements of " + std::to_string(item) +
                     " bytes overflow 64 bits");
    t.bytes = *tensor_bytes;
    t.storage = s;
    t.offset = r.offset;
    t.stride = r.stride;
    t.contiguous = true;  // C order, no gaps; an empty tensor trivially
    if (numel > 0) {      // then the sizes multiply to at most 2^62: no overflow
      std::int64_t expected = 1;
      for (std::size_t d = t.shape.size(); d-- > 0;) {
        if (t.shape[d] != 1 && t.stride[d] != expected) t.contiguous = false;
        expected *= t.shape[d];
      }
    }
    const auto [first, fresh] = geometry.emplace(
        std::tuple{s, r.offset, r.size, r.stride, static_cast<const void*>(r.dtype)},
        archive.tensors_.size());
    if (!fresh) t.same_as = first->second;
    if (numel > 1 && repeats_elements(t))
      t.withheld =
          "its strides repeat elements (an expand()ed view), so they are not "
          "independent draws";
    archive.tensors_.push_back(std::move(t));
  }

  // Views of one storage that share elements (not tied: another geometry) are not independent
  // draws: each later one is withheld. Only views whose index intervals meet can share (found
  // by a sweep over the intervals sorted by start); those are checked element by element
  // (slices of one buffer, as chunked projections make, are disjoint though interleaved),
  // within a budget of 4 visits per storage element, beyond which meeting counts as sharing.
  std::vector<std::vector<std::size_t>> on_storage(archive.storages_.size());
  std::vector<std::pair<std::uint64_t, std::uint64_t>> span(archive.tensors_.size());
  for (std::size_t i = 0; i < archive.tensors_.size(); ++i) {
    const auto& t = archive.tensors_[i];
    if (t.same_as || t.bytes == 0 || !t.withheld.empty()) continue;
    std::uint64_t last = static_cast<std::uint64_t>(t.offset);  // within the storage: checked
    for (std::size_t d = 0; d < t.shape.size(); ++d)
      last += static_cast<std::uint64_t>(t.shape[d] - 1) * static_cast<std::uint64_t>(t.stride[d]);
    span[i] = {static_cast<std::uint64_t>(t.offset), last};
    on_storage[t.storage].push_back(i);
  }
  for (std::size_t s = 0; s < on_storage.size(); ++s) {
    const auto& group = on_storage[s];
    if (group.size() < 2) continue;
    std::vector<std::size_t> by_start = group;
    std::sort(by_start.begin(), by_start.end(),
              [&](std::size_t a, std::size_t b) { return span[a] < span[b]; });
    std::vector<bool> meets(archive.tensors_.size(), false);
    std::uint64_t reach = 0;
    for (std::size_t k = 0; k < by_start.size(); ++k) {
      const std::size_t i = by_start[k];
      if (k > 0 && span[i].first <= reach) meets[i] = true;
      if (k + 1 < by_start.size() && span[by_start[k + 1]].first <= span[i].second) meets[i] = true;
      reach = k == 0 ? span[i].second : std::max(reach, span[i].second);
    }
    std::vector<std::size_t> meeting;  // in the pickle's order
    std::uint64_t visits = 0;
    for (const std::size_t i : group)
      if (meets[i]) {
        meeting.push_back(i);
        visits += archive.tensors_[i].bytes / archive.tensors_[i].dtype->item;
      }
    if (meeting.empty()) continue;
    const std::uint64_t elements = archive.storages_[s].elements;
    if (elements > (std::uint64_t{1} << 30) || visits > 4 * elements + 1024) {
      // Too large to mark (a bit an element, at most 128 MiB) or to visit: every view that
      // meets an earlier one is withheld.
      for (std::size_t k = 1; k < meeting.size(); ++k)
        archive.tensors_[meeting[k]].withheld =
            "it is a view of the storage of " + quote(archive.tensors_[meeting[0]].name) +
            " whose index range meets another view's, perhaps sharing elements (overlapping "
            "views are not independent draws)";
      continue;
    }
    std::vector<bool> marked(static_cast<std::size_t>(elements), false);
    std::vector<std::size_t> kept;
    for (const std::size_t i : meeting) {
      auto& t = archive.tensors_[i];
      std::optional<std::uint64_t> shared;
      for_each_element(t, [&](std::uint64_t at) {
        if (!shared && marked[at]) shared = at;
      });
      if (!shared) {
        for_each_element(t, [&](std::uint64_t at) { marked[at] = true; });
        kept.push_back(i);
        continue;
      }
      // Name an earlier view that holds the shared element (among the first 64 kept).
      std::string other;
      for (std::size_t k = 0; k < std::min<std::size_t>(kept.size(), 64) && other.empty(); ++k)
        if (holds(archive.tensors_[kept[k]], *shared)) other = archive.tensors_[kept[k]].name;
      t.withheld = "it shares elements with " +
                   (other.empty() ? std::string("an earlier view of its storage") : quote(other)) +
                   " (overlapping views of one storage are not independent draws)";
    }
  }
  // A tensor tied to a withheld one is withheld too (it holds the same elements).
  for (auto& t : archive.tensors_)
    if (t.same_as && !archive.tensors_[*t.same_as].withheld.empty())
      t.withheld = archive.tensors_[*t.same_as].withheld;
  archive.checked_.assign(archive.storages_.size(), false);
  if (check_crc)
    for (const auto& st : archive.storages_)
      if (st.crc == 0 && st.size > 0)
        archive.notes_.push_back("storage 'data/" + st.key + "' of '" + path.filename().string() +
                                 "' has no CRC-32 to check (0 in the zip directory)");
  if (without_crc > 0 && checksummed == 0)
    archive.notes_.push_back("'" + path.filename().string() +
                             "' was written without CRC-32 checksums, so corruption of its "
                             "bytes cannot be detected");
  return archive;
}

tensor_view torch_archive::view(const torch_tensor& t, tensor_buffer& fallback,
                                std::optional<dtype> bits16) const {
  const std::string label = "tensor " + quote(t.name);
  if (!t.withheld.empty()) fail(path_, label + " is not read: " + t.withheld);
  std::optional<dtype> type = t.dtype->type;
  if (bits16 && (t.dtype->name == "I16" || t.dtype->name == "U16")) type = bits16;
  if (!type)
    fail(path_, label + " is " + std::string(t.dtype->name) +
                    ", but only float16, bfloat16, float32 and float64 can be viewed as "
                    "elements (or 16-bit integers, read as bfloat16 or float16)");
  if (bits16 && t.dtype->type && *t.dtype->type != *bits16)
    fail(path_, label + " is " + std::string(t.dtype->name) + ", not the " +
                    std::string(to_string(*bits16)) + " it was read as");
  const storage& st = storages_[t.storage];
  const auto record =
      map_.bytes().subspan(static_cast<std::size_t>(st.start), static_cast<std::size_t>(st.size));
  if (check_crc_) {
    const std::lock_guard lock(*checked_mutex_);
    if (!checked_[t.storage]) {
      if (st.crc != 0 && zip::crc32_of(record) != st.crc)
        fail(path_, label + ": its storage record " + quote("data/" + st.key) +
                        " does not match its CRC-32 (the data are corrupt)");
      checked_[t.storage] = true;
    }
  }
  const std::size_t item = t.dtype->item;
  const bool swap = big_endian_ && item > 1;
  const auto first = record.subspan(static_cast<std::size_t>(t.offset) * item);
  if (t.bytes == 0) return {*type, t.shape, {}};
  if (t.contiguous && !swap && reinterpret_cast<std::uintptr_t>(first.data()) % item == 0)
    return {*type, t.shape, first.first(static_cast<std::size_t>(t.bytes))};
  fallback.type = *type;
  fallback.shape = t.shape;
  fallback.bytes.resize(static_cast<std::size_t>(t.bytes));
  if (t.contiguous) {
    std::memcpy(fallback.bytes.data(), first.data(), static_cast<std::size_t>(t.bytes));
  } else {
    std::byte* out = fallback.bytes.data();
    for_each_element(t, [&](std::uint64_t at) {
      std::memcpy(out, record.data() + at * item, item);
      out += item;
    });
  }
  if (swap) npy_format::byte_swap(fallback.bytes, item);
  return fallback.view();
}

}  // namespace verinit::io
