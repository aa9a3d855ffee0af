// One tensor of a file, for reading: an .npy file (read into memory) or one named tensor of a
// checkpoint (.safetensors, a sharded index, .npz: viewed in its memory mapping, copied only
// when it must be). What the command line's `verify --input` and the Python package's
// verify(path) both open.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "verinit/io/checkpoint.hpp"
#include "verinit/tensor.hpp"

namespace verinit::io {

class tensor_file {
 public:
  /// Opens `path` by its name: .npy, else a checkpoint (checkpoint::open). `tensor` names the
  /// tensor of a checkpoint; empty takes its only one. `bits16` (bfloat16 or float16) reads
  /// 16-bit integer bit patterns as that dtype (.npy '<u2', '<i2', '<V2', '|V2'; safetensors
  /// U16, I16), and requires a float tensor to be of it. Throws std::invalid_argument for a
  /// `tensor` given with an .npy file, an empty `tensor` for a file of several tensors, or a
  /// name the file lacks
  /// (each message lists the file's first names, printable); std::runtime_error naming the file
  /// when it cannot be read or is malformed (the readers' errors) or holds no tensors.
  /// `options` as for checkpoint::open (a .pt's state_dict key).
  static tensor_file open(const std::filesystem::path& path, std::string_view tensor = {},
                          std::optional<dtype> bits16 = std::nullopt,
                          const checkpoint_options& options = {});

  /// The elements; valid while this object lives (moves keep it valid).
  const tensor_view& view() const noexcept { return view_; }

 private:
  std::optional<checkpoint> mapped_;
  tensor_buffer buffer_;
  tensor_view view_;
};

}  // namespace verinit::io
