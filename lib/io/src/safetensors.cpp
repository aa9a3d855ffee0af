// safetensors reader and writer. The layout is the one of the format's specification,
// https://github.com/huggingface/safetensors README.md, section "Format"; the reader's checks
// follow the reference implementation (safetensors/src/tensor.rs) and are listed in the
// header.
//
// The header is read with nlohmann::json's SAX interface rather than into a json value: the
// handler below accepts exactly the shape of a safetensors header (an object of objects with
// three keys, or of strings for __metadata__) and stops at the first thing that is not, so a
// hostile header can neither nest deeply nor build a document many times its own size, and a
// duplicate key, which a json object would silently keep the last of, is seen and rejected.
#include "verinit/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "text.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/io/atomic_file.hpp"

namespace verinit::io {
namespace {

using text::printable;

// The tensors' bytes are viewed in place (reader) and written as they are in memory (writer);
// safetensors stores them little-endian, so a big-endian host would need a byte swap in both.
// The header length is encoded and decoded with shifts and does not depend on this.
static_assert(std::endian::native == std::endian::little,
              "the safetensors reader and writer assume a little-endian host");
// Offsets and sizes are 64-bit in the file and index the mapping as size_t.
static_assert(sizeof(std::size_t) >= sizeof(std::uint64_t), "a 64-bit host is assumed");

constexpr std::uint64_t max_header_size = 100'000'000;  // the reference's MAX_HEADER_SIZE
constexpr std::size_t max_rank = 64;                    // as the .npy reader
constexpr std::string_view metadata_key = "__metadata__";
constexpr std::size_t length_size = 8;  // the header length field

// The safetensors dtypes verinit does not compute with, readable through raw(). Those it does
// (F16, BF16, F32, F64) come from the dtype table, verinit::info(t).safetensors_name.
struct raw_dtype {
  std::string_view name;
  std::size_t size;
};
constexpr std::array<raw_dtype, 15> raw_dtypes{{{"BOOL", 1},
                                                {"U8", 1},
                                                {"I8", 1},
                                                {"F8_E5M2", 1},
                                                {"F8_E4M3", 1},
                                                {"F8_E8M0", 1},
                                                {"F8_E4M3FNUZ", 1},
                                                {"F8_E5M2FNUZ", 1},
                                                {"I16", 2},
                                                {"U16", 2},
                                                {"I32", 4},
                                                {"U32", 4},
                                                {"C64", 8},
                                                {"I64", 8},
                                                {"U64", 8}}};

struct known_dtype {
  std::optional<dtype> type;
  std::size_t size = 0;
};

std::optional<known_dtype> lookup_dtype(std::string_view name) {
  for (const auto& d : dtypes())
    if (d.safetensors_name == name) return known_dtype{d.type, d.size};
  for (const auto& d : raw_dtypes)
    if (d.name == name) return known_dtype{std::nullopt, d.size};
  return std::nullopt;
}

// "F16, BF16, F32, F64": the dtypes view() can give elements of.
std::string element_dtype_names() {
  std::string names;
  for (const auto& d : dtypes()) {
    if (!names.empty()) names += ", ";
    names += d.safetensors_name;
  }
  return names;
}

std::string known_dtype_names() {
  std::string names = element_dtype_names();
  for (const auto& d : raw_dtypes) names.append(", ").append(d.name);
  return names;
}

// Text from the file in a message: quoted, printable, long text cut.
std::string quote(std::string_view text) { return "'" + printable(text, 64) + "'"; }

std::string tensor_label(std::string_view name) { return "tensor " + quote(name); }

std::string shape_text(std::span<const std::int64_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("cannot read '" + path.string() + "': " + problem);
}

// a * b, or nullopt when it does not fit in 64 bits.
std::optional<std::uint64_t> checked_multiply(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return std::nullopt;
  return a * b;
}

// ---- the header ------------------------------------------------------------------------------

// nlohmann::json SAX events to safetensors entries and metadata. Each handler returns false,
// which stops the parse, once `error` is set.
class header_handler {
 public:
  using json = nlohmann::json;

  header_handler(std::vector<safetensors_entry>& entries,
                 std::map<std::string, std::string>& metadata)
      : entries_(entries), metadata_(metadata) {}

  /// The first problem found, or empty.
  const std::string& error() const noexcept { return error_; }

  bool null() { return unexpected("null"); }
  bool boolean(bool value) { return unexpected(value ? "true" : "false"); }
  bool number_integer(json::number_integer_t value) {
    // The lexer gives non-negative integers to number_unsigned; this is "-0" or negative.
    if (value >= 0) return number_unsigned(static_cast<json::number_unsigned_t>(value));
    return unexpected_number(std::to_string(value));
  }
  bool number_unsigned(json::number_unsigned_t value) {
    if (state_ == state::shape_item) {
      if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return fail_with(item_label() + " is " + std::to_string(value) +
                         ", but must be at most 2^63 - 1");
      if (entry().shape.size() == max_rank)
        return fail_with(entry_label() + ": shape has more than " + std::to_string(max_rank) +
                         " dims");
      entry().shape.push_back(static_cast<std::int64_t>(value));
      return true;
    }
    if (state_ == state::offsets_item) {
      if (offsets_seen_ == 2)
        return fail_with(entry_label() +
                         ": data_offsets has more than 2 values, but must be [begin, end]");
      (offsets_seen_ == 0 ? entry().begin : entry().end) = value;
      ++offsets_seen_;
      return true;
    }
    return unexpected("the number " + std::to_string(value));
  }
  bool number_float(json::number_float_t, const json::string_t& text) {
    return unexpected_number(text);
  }
  bool string(json::string_t& value) {
    if (state_ == state::dtype_value) {
      entry().dtype_name = std::move(value);
      state_ = state::entry_key;
      return true;
    }
    if (state_ == state::metadata_value) {
      metadata_.emplace(std::move(metadata_key_), std::move(value));
      state_ = state::metadata_key;
      return true;
    }
    return unexpected("a string");
  }
  bool binary(json::binary_t&) { return unexpected("binary data"); }

  bool start_object(std::size_t) {
    switch (state_) {
      case state::top:
        state_ = state::top_key;
        return true;
      case state::entry_start:
        state_ = state::entry_key;
        return true;
      case state::metadata_start:
        state_ = state::metadata_key;
        return true;
      default:
        return unexpected("an object");
    }
  }
  bool end_object() {
    switch (state_) {
      case state::top_key:
        state_ = state::done;
        return true;
      case state::metadata_key:
        state_ = state::top_key;
        return true;
      case state::entry_key:
        if (!seen_dtype_) return fail_with(entry_label() + " has no dtype");
        if (!seen_shape_) return fail_with(entry_label() + " has no shape");
        if (!seen_offsets_) return fail_with(entry_label() + " has no data_offsets");
        state_ = state::top_key;
        return true;
      default:  // the parser closes only the objects it opened
        return fail_with("the header's structure is not understood");
    }
  }
  bool start_array(std::size_t) {
    if (state_ == state::shape_start) {
      state_ = state::shape_item;
      return true;
    }
    if (state_ == state::offsets_start) {
      state_ = state::offsets_item;
      return true;
    }
    return unexpected("an array");
  }
  bool end_array() {
    if (state_ == state::offsets_item && offsets_seen_ != 2)
      return fail_with(entry_label() + ": data_offsets has " + std::to_string(offsets_seen_) +
                       " values, but must be [begin, end]");
    if (state_ != state::shape_item && state_ != state::offsets_item)
      return fail_with("the header's structure is not understood");
    state_ = state::entry_key;
    return true;
  }

  bool key(json::string_t& name) {
    if (state_ == state::top_key) {
      if (name == metadata_key) {
        if (seen_metadata_) return fail_with("__metadata__ appears twice");
        seen_metadata_ = true;
        state_ = state::metadata_start;
        return true;
      }
      if (!names_.insert(name).second)
        return fail_with(tensor_label(name) + " appears twice (names must be unique)");
      entries_.push_back({});
      entries_.back().name = std::move(name);
      seen_dtype_ = seen_shape_ = seen_offsets_ = false;
      state_ = state::entry_start;
      return true;
    }
    if (state_ == state::metadata_key) {
      if (metadata_.contains(name))
        return fail_with("__metadata__ key " + quote(name) + " appears twice");
      metadata_key_ = std::move(name);
      state_ = state::metadata_value;
      return true;
    }
    // state::entry_key: the only other state in which the parser reads a key.
    bool* seen = name == "dtype"          ? &seen_dtype_
                 : name == "shape"        ? &seen_shape_
                 : name == "data_offsets" ? &seen_offsets_
                                          : nullptr;
    if (seen == nullptr)
      return fail_with(entry_label() + " has an unknown key " + quote(name) +
                       " (expected dtype, shape and data_offsets)");
    if (*seen) return fail_with(entry_label() + ": " + name + " appears twice");
    *seen = true;
    state_ = name == "dtype"   ? state::dtype_value
             : name == "shape" ? state::shape_start
                               : state::offsets_start;
    offsets_seen_ = 0;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 5: syntax
    // error while parsing ... - <reason>; last read: '<token>'", the token with control
    // characters escaped. Keep the part after the position, cut to a line's length.
    std::string reason = e.what();
    if (const auto colon = reason.find(": "); colon != std::string::npos)
      reason.erase(0, colon + 2);
    // `position` counts the characters read, the offending one included.
    const std::size_t byte = length_size + (position > 0 ? position - 1 : 0);
    return fail_with("the header is not valid JSON at byte " + std::to_string(byte) + ": " +
                     printable(reason, 200));
  }

 private:
  enum class state {
    top,
    top_key,
    entry_start,
    entry_key,
    dtype_value,
    shape_start,
    shape_item,
    offsets_start,
    offsets_item,
    metadata_start,
    metadata_key,
    metadata_value,
    done,
  };

  safetensors_entry& entry() { return entries_.back(); }
  std::string entry_label() const { return tensor_label(entries_.back().name); }
  std::string item_label() const {
    return entry_label() + ": shape[" + std::to_string(entries_.back().shape.size()) + "]";
  }

  bool fail_with(std::string problem) {
    if (error_.empty()) error_ = std::move(problem);
    return false;
  }

  // A negative or fractional number.
  bool unexpected_number(const std::string& text) {
    if (state_ == state::shape_item)
      return fail_with(item_label() + " is " + text + ", but must be an integer >= 0");
    if (state_ == state::offsets_item)
      return fail_with(entry_label() + ": data_offsets[" + std::to_string(offsets_seen_) + "] is " +
                       text + ", but must be an integer >= 0");
    return unexpected("the number " + text);
  }

  // A value of the wrong kind for the state: `what` says what it is.
  bool unexpected(const std::string& what) {
    switch (state_) {
      case state::top:
        return fail_with("the header is " + what + ", but must be a JSON object");
      case state::entry_start:
        return fail_with(entry_label() + " is " + what +
                         ", but must be an object with dtype, shape and data_offsets");
      case state::dtype_value:
        return fail_with(entry_label() + ": dtype is " + what + ", but must be a string");
      case state::shape_start:
        return fail_with(entry_label() + ": shape is " + what +
                         ", but must be an array of integers");
      case state::shape_item:
        return fail_with(item_label() + " is " + what + ", but must be an integer >= 0");
      case state::offsets_start:
        return fail_with(entry_label() + ": data_offsets is " + what +
                         ", but must be an array [begin, end]");
      case state::offsets_item:
        return fail_with(entry_label() + ": data_offsets[" + std::to_string(offsets_seen_) +
                         "] is " + what + ", but must be an integer >= 0");
      case state::metadata_start:
        return fail_with("__metadata__ is " + what + ", but must be an object of strings");
      case state::metadata_value:
        return fail_with("__metadata__ value of " + quote(metadata_key_) + " is " + what +
                         ", but must be a string");
      default:  // keys are read by key(), and nothing follows the top object
        return fail_with("the header's structure is not understood");
    }
  }

  std::vector<safetensors_entry>& entries_;
  std::map<std::string, std::string>& metadata_;
  std::unordered_set<std::string> names_;
  std::string metadata_key_;
  std::string error_;
  state state_ = state::top;
  bool seen_metadata_ = false, seen_dtype_ = false, seen_shape_ = false, seen_offsets_ = false;
  int offsets_seen_ = 0;
};

// Parses the header text into entries and metadata, in header order; throws on any problem
// of the JSON or of an entry on its own.
void parse_header(const std::filesystem::path& path, std::string_view text,
                  std::vector<safetensors_entry>& entries,
                  std::map<std::string, std::string>& metadata) {
  // The format's "MUST begin with {". The reference reader now also accepts leading
  // whitespace (writers may pad at the front to align the data), and so does this one.
  const std::size_t first = text.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos)
    fail(path, "the header is only whitespace, but must be a JSON object starting with '{'");
  if (text[first] != '{')
    fail(path, "the header starts with " + quote(text.substr(first, 1)) + " at byte " +
                   std::to_string(length_size + first) +
                   ", but must be a JSON object starting with '{'");
  header_handler handler(entries, metadata);
  const bool parsed = nlohmann::json::sax_parse(text.data(), text.data() + text.size(), &handler);
  if (!handler.error().empty()) fail(path, handler.error());
  if (!parsed) fail(path, "the header is not valid JSON");
}

// Checks each entry's dtype and size, then that the entries (sorted here by offset) tile the
// data buffer of `data_size` bytes exactly.
void validate_entries(const std::filesystem::path& path, std::vector<safetensors_entry>& entries,
                      std::uint64_t data_size) {
  for (auto& e : entries) {
    const std::optional<known_dtype> known = lookup_dtype(e.dtype_name);
    if (!known)
      fail(path, tensor_label(e.name) + ": dtype " + quote(e.dtype_name) +
                     " is unknown (known: " + known_dtype_names() + ")");
    e.type = known->type;
    std::optional<std::uint64_t> bytes = known->size;
    for (const auto dim : e.shape)
      if (bytes) bytes = checked_multiply(*bytes, static_cast<std::uint64_t>(dim));
    if (!bytes)
      fail(path, tensor_label(e.name) + ": shape " + shape_text(e.shape) + " of " + e.dtype_name +
                     " has a byte size that overflows 64 bits");
    if (e.begin > e.end)
      fail(path, tensor_label(e.name) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                     std::to_string(e.end) + "] has begin > end");
    if (e.end - e.begin != *bytes)
      fail(path, tensor_label(e.name) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                     std::to_string(e.end) + "] hold " + std::to_string(e.end - e.begin) +
                     " bytes, but shape " + shape_text(e.shape) + " of " + e.dtype_name +
                     " needs " + std::to_string(*bytes));
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  std::uint64_t covered = 0;
  const safetensors_entry* previous = nullptr;
  for (const auto& e : entries) {
    if (e.begin != covered) {
      const std::string after = previous ? "the previous tensor, " + quote(previous->name) +
                                               ", ends at " + std::to_string(covered)
                                         : "the first tensor must begin at 0";
      fail(path, tensor_label(e.name) + " begins at byte " + std::to_string(e.begin) +
                     " of the data, but " + after + " (" +
                     (e.begin > covered ? "a gap" : "an overlap") + ")");
    }
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size)
    fail(path, "the tensors end at byte " + std::to_string(covered) +
                   " of the data, but the data after the header has " + std::to_string(data_size) +
                   " bytes");
}

// ---- the file --------------------------------------------------------------------------------

class file_descriptor {
 public:
  explicit file_descriptor(int fd) noexcept : fd_(fd) {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// Reads exactly `size` bytes at `offset`, or throws.
void read_exactly(const std::filesystem::path& path, int fd, std::uint64_t offset, char* out,
                  std::size_t size) {
  while (size > 0) {
    const ssize_t got = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(path, std::string("read failed: ") + std::strerror(errno));
    if (got == 0) fail(path, "the file shrank while being read");
    out += got;
    size -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

}  // namespace

safetensors_file safetensors_file::open(const std::filesystem::path& path) {
  const file_descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    fail(path, errno == ENOENT ? std::string("no such file")
                               : std::string("cannot open it: ") + std::strerror(errno));
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0)
    fail(path, std::string("cannot get its size: ") + std::strerror(errno));
  if (!S_ISREG(status.st_mode)) fail(path, "not a regular file");
  const auto file_size = static_cast<std::uint64_t>(status.st_size);
  if (file_size < length_size)
    fail(path, "the file has " + std::to_string(file_size) +
                   " bytes, but a safetensors file has at least 8 (the header length)");

  unsigned char length_bytes[length_size];
  read_exactly(path, fd.get(), 0, reinterpret_cast<char*>(length_bytes), length_size);
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < length_size; ++i)
    header_size |= std::uint64_t{length_bytes[i]} << (8 * i);
  if (header_size == 0) fail(path, "the header length is 0, but must be at least 2 ('{}')");
  if (header_size > max_header_size)
    fail(path, "the header length is " + std::to_string(header_size) + ", but must be at most " +
                   std::to_string(max_header_size));
  if (header_size > file_size - length_size)
    fail(path, "the header length is " + std::to_string(header_size) + ", but the file has only " +
                   std::to_string(file_size - length_size) + " bytes after the length");

  safetensors_file file;
  file.path_ = path;
  {
    // At most 100 MB, and no more than the file holds.
    std::string header(static_cast<std::size_t>(header_size), '\0');
    read_exactly(path, fd.get(), length_size, header.data(), header.size());
    parse_header(path, header, file.entries_, file.metadata_);
  }
  validate_entries(path, file.entries_, file_size - length_size - header_size);
  file.by_name_.resize(file.entries_.size());
  for (std::size_t i = 0; i < file.by_name_.size(); ++i) file.by_name_[i] = i;
  std::sort(file.by_name_.begin(), file.by_name_.end(), [&](std::size_t a, std::size_t b) {
    return file.entries_[a].name < file.entries_[b].name;
  });

  void* mapping =
      ::mmap(nullptr, static_cast<std::size_t>(file_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (mapping == MAP_FAILED) fail(path, std::string("cannot map it: ") + std::strerror(errno));
  file.mapping_ = static_cast<const std::byte*>(mapping);
  file.mapping_size_ = static_cast<std::size_t>(file_size);
  file.data_start_ = static_cast<std::size_t>(length_size + header_size);
  return file;
}

safetensors_file::safetensors_file(safetensors_file&& other) noexcept
    : path_(std::move(other.path_)),
      entries_(std::move(other.entries_)),
      by_name_(std::move(other.by_name_)),
      metadata_(std::move(other.metadata_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(std::exchange(other.mapping_size_, 0)),
      data_start_(std::exchange(other.data_start_, 0)) {}

safetensors_file& safetensors_file::operator=(safetensors_file&& other) noexcept {
  if (this != &other) {
    safetensors_file old(std::move(*this));  // unmaps ours on leaving
    path_ = std::move(other.path_);
    entries_ = std::move(other.entries_);
    by_name_ = std::move(other.by_name_);
    metadata_ = std::move(other.metadata_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    data_start_ = std::exchange(other.data_start_, 0);
  }
  return *this;
}

safetensors_file::~safetensors_file() {
  if (mapping_ != nullptr) ::munmap(const_cast<std::byte*>(mapping_), mapping_size_);
}

const safetensors_entry* safetensors_file::find(std::string_view name) const noexcept {
  const auto at = std::lower_bound(
      by_name_.begin(), by_name_.end(), name,
      [this](std::size_t index, std::string_view key) { return entries_[index].name < key; });
  if (at == by_name_.end() || entries_[*at].name != name) return nullptr;
  return &entries_[*at];
}

std::span<const std::byte> safetensors_file::raw(const safetensors_entry& entry) const {
  // Cheap insurance against an entry of another file or a moved-from one.
  if (entry.begin > entry.end || entry.end > mapping_size_ - data_start_)
    throw std::invalid_argument("safetensors_file::raw: " + tensor_label(entry.name) +
                                " is not one of '" + path_.string() + "'");
  if (entry.begin == entry.end) return {};
  return {mapping_ + data_start_ + entry.begin, static_cast<std::size_t>(entry.bytes())};
}

tensor_view safetensors_file::view(const safetensors_entry& entry, tensor_buffer& fallback) const {
  if (!entry.type)
    fail(path_, tensor_label(entry.name) + " has dtype " + quote(entry.dtype_name) + ", but only " +
                    element_dtype_names() + " can be viewed as elements (raw() gives its bytes)");
  const std::span<const std::byte> bytes = raw(entry);
  const std::size_t size = info(*entry.type).size;
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % size == 0)
    return {*entry.type, entry.shape, bytes};
  // An odd header length: copy into memory aligned for any element type.
  fallback.type = *entry.type;
  fallback.shape = entry.shape;
  fallback.bytes.assign(bytes.begin(), bytes.end());
  return fallback.view();
}

// ---- the writer ------------------------------------------------------------------------------

namespace {

constexpr std::string_view writer = "write_safetensors";

// `text` as a JSON string. Throws std::invalid_argument naming `what` if it is not UTF-8.
std::string json_string(std::string_view text, const std::string& what) {
  try {
    return nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error&) {
    detail::throw_invalid(writer, what, quote(text), "valid UTF-8");
  }
}

// The byte count of `tensor`, checked against its shape.
std::uint64_t checked_bytes(const std::string& name, const tensor_view& tensor) {
  std::optional<std::uint64_t> expected = info(tensor.type).size;
  for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
    if (tensor.shape[i] < 0)
      detail::throw_invalid(writer, "dim " + std::to_string(i) + " of " + tensor_label(name),
                            std::to_string(tensor.shape[i]), ">= 0");
    if (expected)
      expected = checked_multiply(*expected, static_cast<std::uint64_t>(tensor.shape[i]));
  }
  if (!expected || *expected != tensor.bytes.size())
    detail::throw_invalid(
        writer, "the byte count of " + tensor_label(name), std::to_string(tensor.bytes.size()),
        (expected ? std::to_string(*expected) : std::string("more than 2^64")) + " for shape " +
            shape_text(tensor.shape) + " of " + std::string(to_string(tensor.type)));
  return *expected;
}

}  // namespace

void write_safetensors(const std::filesystem::path& path,
                       std::span<const std::pair<std::string, tensor_view>> tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header.append("\"").append(metadata_key).append("\":{");
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header.append(json_string(key, "metadata key"))
          .append(":")
          .append(json_string(value, "metadata value of " + quote(key)));
    }
    header += '}';
  }
  std::unordered_set<std::string_view> names;  // views of `tensors`, which outlives this
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) detail::throw_invalid(writer, "a tensor name", "empty", "non-empty");
    if (name == metadata_key)
      detail::throw_invalid(writer, "a tensor name", quote(name), "other than the metadata key");
    if (!names.insert(name).second)
      detail::throw_invalid(writer, "the tensor name " + quote(name), "a duplicate", "unique");
    const std::uint64_t bytes = checked_bytes(name, tensor);
    if (header.size() > 1) header += ',';
    const nlohmann::json entry = {
        {"dtype", std::string(info(tensor.type).safetensors_name)},
        {"shape", tensor.shape},
        {"data_offsets", {offset, offset + bytes}},
    };
    header.append(json_string(name, "a tensor name")).append(":").append(entry.dump());
    offset += bytes;
  }
  header += '}';
  // Spaces so that the data starts at a multiple of 8 bytes, as the reference writer pads.
  header.append((length_size - header.size() % length_size) % length_size, ' ');

  std::array<unsigned char, length_size> length{};
  for (std::size_t i = 0; i < length_size; ++i)
    length[i] = static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff);
  std::vector<std::span<const std::byte>> parts;
  parts.reserve(2 + tensors.size());
  parts.push_back(std::as_bytes(std::span(length)));
  parts.push_back(std::as_bytes(std::span(header.data(), header.size())));
  for (const auto& [name, tensor] : tensors)
    if (!tensor.bytes.empty()) parts.push_back(tensor.bytes);
  write_file_atomically(path, parts);
}

}  // namespace verinit::io
