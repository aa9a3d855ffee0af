#include "verinit/io/tensor_file.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "text.hpp"
#include "verinit/io/npy.hpp"

namespace verinit::io {
namespace {

// A tensor name in a message: printable, one line, cut.
std::string printable(std::string_view name) { return text::printable(name, 64); }

}  // namespace

tensor_file tensor_file::open(const std::filesystem::path& path, std::string_view tensor,
                              std::optional<dtype> bits16) {
  const std::string file = path.string();
  tensor_file out;
  if (path.extension() != ".safetensors") {
    if (!tensor.empty())
      throw std::invalid_argument("tensor '" + printable(tensor) + "' given with '" + file +
                                  "', but a tensor is chosen only in a .safetensors file");
    out.buffer_ = read_npy(path, bits16);
    out.view_ = out.buffer_.view();
    return out;
  }
  out.mapped_ = safetensors_file::open(path);
  const auto tensors = out.mapped_->tensors();
  const safetensors_entry* entry = nullptr;
  if (!tensor.empty())
    entry = out.mapped_->find(tensor);
  else if (tensors.size() == 1)
    entry = &tensors[0];
  if (entry == nullptr) {
    if (tensors.empty()) throw std::runtime_error("'" + file + "' holds no tensors");
    std::string names;
    constexpr std::size_t shown = 10;
    for (std::size_t k = 0; k < std::min(shown, tensors.size()); ++k)
      names += (k ? ", " : "") + printable(tensors[k].name);
    if (tensors.size() > shown)
      names += ", ... (" + std::to_string(tensors.size() - shown) + " more)";
    if (tensor.empty())
      throw std::invalid_argument("'" + file + "' holds " + std::to_string(tensors.size()) +
                                  " tensors: choose one with --tensor (" + names + ")");
    throw std::invalid_argument("'" + file + "' has no tensor '" + printable(tensor) +
                                "' (it has: " + names + ")");
  }
  if (bits16 && (entry->dtype_name == "U16" || entry->dtype_name == "I16")) {
    // Bit patterns: viewed as the named dtype, copied only when misaligned.
    const auto bytes = out.mapped_->raw(*entry);
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % 2 == 0) {
      out.view_ = make_tensor_view(*bits16, entry->shape, bytes);
    } else {
      out.buffer_ = {*bits16, entry->shape, std::vector<std::byte>(bytes.begin(), bytes.end())};
      out.view_ = out.buffer_.view();
    }
    return out;
  }
  if (bits16 && entry->type && *entry->type != *bits16)
    throw std::runtime_error("'" + file + "': tensor '" + printable(entry->name) + "' is " +
                             entry->dtype_name + ", not the " + std::string(to_string(*bits16)) +
                             " it was read as");
  out.view_ = out.mapped_->view(*entry, out.buffer_);
  return out;
}

}  // namespace verinit::io
