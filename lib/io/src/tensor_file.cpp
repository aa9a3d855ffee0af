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
                              std::optional<dtype> bits16, const checkpoint_options& options) {
  const std::string file = path.string();
  tensor_file out;
  if (path.extension() == ".npy") {
    if (!tensor.empty())
      throw std::invalid_argument("tensor '" + printable(tensor) + "' given with '" + file +
                                  "', but a tensor is chosen only in a checkpoint (.safetensors, "
                                  ".safetensors.index.json, .npz, .pt)");
    out.buffer_ = read_npy(path, bits16);
    out.view_ = out.buffer_.view();
    return out;
  }
  out.mapped_ = checkpoint::open(path, options);
  const auto tensors = out.mapped_->tensors();
  const checkpoint_entry* entry = nullptr;
  if (!tensor.empty())
    entry = out.mapped_->find(tensor);
  else if (tensors.size() == 1)
    entry = &tensors[0];
  if (entry != nullptr && !entry->withheld.empty())
    throw std::invalid_argument("tensor '" + printable(entry->name) + "' of '" + file +
                                "' is not verified: " + entry->withheld);
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
  out.view_ = out.mapped_->view(*entry, out.buffer_, bits16);
  return out;
}

}  // namespace verinit::io
