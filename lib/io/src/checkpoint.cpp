// checkpoint: one safetensors file, Hugging Face's sharded safetensors or .bin files (an index
// and its shards), an .npz archive or a torch.save archive, behind one list of tensors.
#include "verinit/io/checkpoint.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "mapped_file.hpp"
#include "npz.hpp"
#include "text.hpp"
#include "torch_archive.hpp"
#include "verinit/io/safetensors.hpp"

namespace verinit::io {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error("cannot read '" + path.string() + "': " + problem);
}

std::string quote(std::string_view text) { return "'" + text::printable(text, 64) + "'"; }

// The largest index accepted (the safetensors header limit): a real one, for thousands of
// tensors, is well under a megabyte.
constexpr std::uintmax_t max_index_size = 100'000'000;

// An index's weight_map, each tensor's shard, in name order; duplicate keys refused.
std::map<std::string, std::string> read_index(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) fail(path, "no such file");
  if (size > max_index_size)
    fail(path, "the index has " + std::to_string(size) + " bytes, more than the " +
                   std::to_string(max_index_size) + " accepted");
  std::string text(static_cast<std::size_t>(size), '\0');
  {
    std::ifstream file(path, std::ios::binary);
    file.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (!file || file.gcount() != static_cast<std::streamsize>(text.size()))
      fail(path, "cannot read it");
  }
  using json = nlohmann::json;
  std::string duplicate, top_key;
  std::set<std::string> top_keys, tensor_keys;
  const json::parser_callback_t spot_duplicates = [&](int depth, json::parse_event_t event,
                                                      json& parsed) {
    if (event != json::parse_event_t::key || !parsed.is_string()) return true;
    const std::string& key = parsed.get_ref<const std::string&>();
    if (depth == 1) {
      top_key = key;
      if (!top_keys.insert(key).second && duplicate.empty()) duplicate = key;
    } else if (depth == 2 && top_key == "weight_map") {
      if (!tensor_keys.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json index;
  try {
    index = json::parse(text, spot_duplicates);
  } catch (const json::exception& e) {
    fail(path, std::string("the index is not valid JSON (") + e.what() + ")");
  }
  if (!duplicate.empty()) fail(path, "the index repeats the key " + quote(duplicate));
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail(path,
         "the index must be a JSON object with a \"weight_map\" object (tensor name -> shard "
         "file), as transformers writes model.safetensors.index.json");
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      fail(path, "weight_map maps tensor " + quote(tensor) + " to a " + shard.type_name() +
                     ", not a shard file name");
    const std::string& file = shard.get_ref<const std::string&>();
    if (file.empty() || file == "." || file == ".." ||
        file.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
      fail(path, "weight_map maps tensor " + quote(tensor) + " to " + quote(file) +
                     ", but a shard must be a plain file name beside the index");
    weight_map.emplace(tensor, file);
  }
  if (weight_map.empty()) fail(path, "the index's weight_map maps no tensors");
  return weight_map;
}

// Whether a file name is torch.save's (by the extensions people give it).
bool is_torch_name(std::string_view name) {
  for (const std::string_view ext : {".pt", ".pth", ".bin", ".ckpt"})
    if (name.size() > ext.size() && name.ends_with(ext)) return true;
  return false;
}

}  // namespace

struct checkpoint::impl {
  std::filesystem::path path;
  std::string_view format;
  checkpoint_options options;
  std::vector<checkpoint_entry> entries;
  std::vector<std::size_t> by_name;  ///< indices of entries in name order, for find()
  std::vector<std::string> notes;
  // Each entry's source (a safetensors shard, a torch archive; the .npz) and its index there.
  enum class source : std::uint8_t { safetensors, torch, npz };
  struct place {
    source kind;
    std::size_t file, index;
  };
  std::vector<place> places;
  std::vector<safetensors_file> shards;
  std::vector<torch_archive> archives;
  std::optional<npz_archive> npz;

  void add_shard(safetensors_file file) {
    const auto tensors = file.tensors();
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      const auto& e = tensors[k];
      entries.push_back(
          {e.name, e.dtype_name, e.type, e.shape, e.bytes(), file.path(), nullptr, {}});
      places.push_back({source::safetensors, shards.size(), k});
    }
    shards.push_back(std::move(file));
  }
  void add_archive(torch_archive file) {
    const auto& tensors = file.tensors();
    const std::size_t first = entries.size();
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      const auto& t = tensors[k];
      checkpoint_entry e{t.name,        std::string(t.dtype->name),
                         t.dtype->type, t.shape,
                         t.bytes,       file.path(),
                         nullptr,       t.withheld};
      places.push_back({source::torch, archives.size(), k});
      entries.push_back(std::move(e));
    }
    // Tied tensors: by index now, as pointers to the first's entry once entries are complete.
    for (std::size_t k = 0; k < tensors.size(); ++k)
      if (tensors[k].same_as) tied.emplace_back(first + k, first + *tensors[k].same_as);
    notes.insert(notes.end(), file.notes().begin(), file.notes().end());
    archives.push_back(std::move(file));
  }
  std::vector<std::pair<std::size_t, std::size_t>> tied;  // (entry, the first with its elements)

  // A shard of an index: its tensors' names, each checked against the weight_map.
  static void check_shard(const std::filesystem::path& index,
                          const std::filesystem::path& shard_path, const std::string& shard,
                          const std::map<std::string, std::string>& weight_map,
                          const std::vector<std::string>& names) {
    for (const auto& name : names) {
      const auto listed = weight_map.find(name);
      if (listed == weight_map.end())
        fail(shard_path,
             "tensor " + quote(name) + " is not in the index " + quote(index.filename().string()));
      if (listed->second != shard)
        fail(shard_path, "tensor " + quote(name) + " is mapped by the index to " +
                             quote(listed->second) + ", not to this shard");
    }
    const std::set<std::string_view> held(names.begin(), names.end());
    for (const auto& [tensor, in_shard] : weight_map)
      if (in_shard == shard && !held.contains(tensor))
        fail(index, "it maps tensor " + quote(tensor) + " to " + quote(shard) +
                        ", which does not hold it");
  }
  void open_index(const std::filesystem::path& index) {
    const auto weight_map = read_index(index);
    std::set<std::string> shard_names;
    for (const auto& [tensor, shard] : weight_map) shard_names.insert(shard);
    for (const auto& shard : shard_names) {
      const std::filesystem::path shard_path = index.parent_path() / shard;
      std::error_code error;
      if (!std::filesystem::exists(shard_path, error))
        fail(index, "its shard " + quote(shard) + " is missing (no such file beside the index)");
      std::vector<std::string> names;
      if (shard.ends_with(".safetensors")) {
        safetensors_file file = safetensors_file::open(shard_path);
        for (const auto& e : file.tensors()) names.push_back(e.name);
        check_shard(index, shard_path, shard, weight_map, names);
        add_shard(std::move(file));
      } else if (is_torch_name(shard)) {
        torch_archive file = torch_archive::open(shard_path, options.key, options.check_crc);
        for (const auto& t : file.tensors()) names.push_back(t.name);
        check_shard(index, shard_path, shard, weight_map, names);
        add_archive(std::move(file));
      } else {
        fail(index, "its shard " + quote(shard) +
                        " is neither a .safetensors file nor a torch.save file (.bin, .pt)");
      }
    }
  }
  void open_npz(const std::filesystem::path& file) {
    npz.emplace(npz_archive::open(file));
    for (std::size_t k = 0; k < npz->members().size(); ++k) {
      const auto& m = npz->members()[k];
      entries.push_back({m.name, m.dtype_name, m.type, m.shape, m.data_bytes, file, nullptr, {}});
      places.push_back({source::npz, 0, k});
    }
  }
};

checkpoint::checkpoint(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
checkpoint::checkpoint(checkpoint&& other) noexcept = default;
checkpoint& checkpoint::operator=(checkpoint&& other) noexcept = default;
checkpoint::~checkpoint() = default;

checkpoint checkpoint::open(const std::filesystem::path& path, const checkpoint_options& options) {
  auto state = std::make_unique<impl>();
  state->path = path;
  state->options = options;
  std::filesystem::path file = path;
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    bool found = false;
    for (const char* name : {"model.safetensors.index.json", "model.safetensors",
                             "pytorch_model.bin.index.json", "pytorch_model.bin"})
      if (std::filesystem::exists(path / name, error)) {
        file = path / name;
        found = true;
        break;
      }
    if (!found)
      fail(path,
           "a directory without model.safetensors(.index.json) or pytorch_model.bin(.index.json)");
  }
  const std::string name = file.filename().string();
  if (name.ends_with(".index.json")) {
    state->open_index(file);
    state->format = state->archives.empty() ? "sharded safetensors" : "sharded pt";
  } else if (name.ends_with(".safetensors")) {
    state->format = "safetensors";
    state->add_shard(safetensors_file::open(file));
  } else if (name.ends_with(".npz")) {
    state->format = "npz";
    state->open_npz(file);
  } else if (is_torch_name(name)) {
    state->format = "pt";
    state->add_archive(torch_archive::open(file, options.key, options.check_crc));
  } else {
    fail(path,
         "not a checkpoint by its name: expected a .safetensors file, a .pt/.pth/.bin/.ckpt "
         "file (torch.save), an .index.json index, an .npz archive or a directory holding "
         "model.safetensors or pytorch_model.bin");
  }
  if (!options.key.empty() && state->archives.empty())
    fail(path, "a key (" + quote(options.key) +
                   ") names the state_dict of a .pt file, but this "
                   "is a " +
                   std::string(state->format) + " checkpoint");
  auto& entries = state->entries;
  for (const auto& [tensor, first] : state->tied) {
    entries[first].storage = &entries[first];
    entries[tensor].storage = &entries[first];
  }
  state->by_name.resize(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) state->by_name[i] = i;
  std::sort(state->by_name.begin(), state->by_name.end(),
            [&](std::size_t a, std::size_t b) { return entries[a].name < entries[b].name; });
  return checkpoint(std::move(state));
}

std::span<const std::string> checkpoint::notes() const noexcept { return impl_->notes; }

std::span<const checkpoint_entry> checkpoint::tensors() const noexcept { return impl_->entries; }

const checkpoint_entry* checkpoint::find(std::string_view name) const noexcept {
  const auto& entries = impl_->entries;
  const auto at = std::lower_bound(
      impl_->by_name.begin(), impl_->by_name.end(), name,
      [&](std::size_t index, std::string_view key) { return entries[index].name < key; });
  if (at == impl_->by_name.end() || entries[*at].name != name) return nullptr;
  return &entries[*at];
}

const std::filesystem::path& checkpoint::path() const noexcept { return impl_->path; }

std::string_view checkpoint::format() const noexcept { return impl_->format; }

tensor_view checkpoint::view(const checkpoint_entry& entry, tensor_buffer& fallback,
                             std::optional<dtype> bits16) const {
  const auto& entries = impl_->entries;
  if (entries.empty() || &entry < entries.data() || &entry >= entries.data() + entries.size())
    throw std::invalid_argument("checkpoint::view: tensor " + quote(entry.name) +
                                " is not one of '" + impl_->path.string() + "'");
  if (bits16 && info(*bits16).size != 2)
    throw std::invalid_argument("checkpoint::view: bits16 is " + std::string(to_string(*bits16)) +
                                ", but must be bfloat16 or "
                                "float16");
  const auto index = static_cast<std::size_t>(&entry - entries.data());
  const auto [kind, source, k] = impl_->places[index];
  if (kind == impl::source::npz)
    return impl_->npz->view(impl_->npz->members()[k], fallback, bits16);
  if (kind == impl::source::torch) {
    const torch_archive& archive = impl_->archives[source];
    return archive.view(archive.tensors()[k], fallback, bits16);
  }
  const safetensors_file& file = impl_->shards[source];
  const safetensors_entry& e = file.tensors()[k];
  if (bits16 && (e.dtype_name == "U16" || e.dtype_name == "I16")) {
    // Bit patterns: viewed as the named dtype, copied only when misaligned.
    const auto bytes = file.raw(e);
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % 2 == 0)
      return make_tensor_view(*bits16, e.shape, bytes);
    fallback = {*bits16, e.shape, std::vector<std::byte>(bytes.begin(), bytes.end())};
    return fallback.view();
  }
  if (bits16 && e.type && *e.type != *bits16)
    throw std::runtime_error("'" + file.path().string() + "': tensor " + quote(e.name) + " is " +
                             e.dtype_name + ", not the " + std::string(to_string(*bits16)) +
                             " it was read as");
  return file.view(e, fallback);
}

// ---- checkpoint_views ------------------------------------------------------------------------

namespace {

// `directory`, or the system's temporary directory ($TMPDIR, else /tmp) if it is empty.
std::filesystem::path spill_directory_or_temporary(const std::filesystem::path& directory) {
  if (!directory.empty()) return directory;
  std::error_code error;
  auto temporary = std::filesystem::temp_directory_path(error);
  if (!error) return temporary;
  std::string named = "/tmp";  // what temp_directory_path reads, in its order
  for (const char* variable : {"TMPDIR", "TMP", "TEMP", "TEMPDIR"})
    if (const char* value = std::getenv(variable); value != nullptr) {
      named = value;
      break;
    }
  throw std::runtime_error("cannot write a temporary file in '" + named + "': " + error.message());
}

}  // namespace

struct checkpoint_views::impl {
  std::vector<std::optional<tensor_view>> views;
  std::vector<tensor_buffer> held;  // copies in memory
  std::optional<spill_file> spill;
  std::uint64_t in_memory = 0;
};

checkpoint_views::checkpoint_views(const checkpoint& file, std::int64_t memory_bytes,
                                   const std::filesystem::path& spill_directory)
    : impl_(std::make_unique<impl>()) {
  const auto entries = file.tensors();
  impl_->views.resize(entries.size());
  impl_->held.reserve(entries.size());                       // views of held copies stay valid
  std::vector<std::pair<std::size_t, std::size_t>> spilled;  // (tensor, copy)
  std::vector<std::pair<std::size_t, std::size_t>> tied;     // (tensor, the first on its elements)
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].type || !entries[i].withheld.empty()) continue;
    if (entries[i].storage != nullptr && entries[i].storage != &entries[i]) {
      tied.emplace_back(
          i, static_cast<std::size_t>(static_cast<const checkpoint_entry*>(entries[i].storage) -
                                      entries.data()));
      continue;
    }
    tensor_buffer copy;
    const tensor_view view = file.view(entries[i], copy);
    if (view.size() == 0) {  // a 0 dim: nothing to hold
      impl_->views[i] = tensor_view{view.type, view.shape, {}};
      continue;
    }
    if (copy.bytes.empty()) {  // in the mapping
      impl_->views[i] = view;
      continue;
    }
    if (impl_->in_memory + copy.bytes.size() <= static_cast<std::uint64_t>(memory_bytes)) {
      impl_->in_memory += copy.bytes.size();
      impl_->held.push_back(std::move(copy));
      impl_->views[i] = impl_->held.back().view();
      continue;
    }
    if (!impl_->spill) impl_->spill.emplace(spill_directory_or_temporary(spill_directory));
    spilled.emplace_back(i, impl_->spill->add(copy.bytes));
    impl_->views[i] = tensor_view{copy.type, copy.shape, {}};  // bytes once mapped
  }
  if (impl_->spill) {
    impl_->spill->map();
    for (const auto& [i, k] : spilled) impl_->views[i]->bytes = impl_->spill->copy(k);
  }
  for (const auto& [i, first] : tied) impl_->views[i] = impl_->views[first];
}

checkpoint_views::checkpoint_views(checkpoint_views&&) noexcept = default;
checkpoint_views& checkpoint_views::operator=(checkpoint_views&&) noexcept = default;
checkpoint_views::~checkpoint_views() = default;

const std::optional<tensor_view>& checkpoint_views::operator[](std::size_t index) const {
  return impl_->views.at(index);
}

std::uint64_t checkpoint_views::bytes_in_memory() const noexcept { return impl_->in_memory; }

std::uint64_t checkpoint_views::bytes_spilled() const noexcept {
  return impl_->spill ? impl_->spill->size() : 0;
}

}  // namespace verinit::io
