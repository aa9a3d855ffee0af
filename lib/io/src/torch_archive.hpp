// Internal: the .pt reader behind checkpoint: the zip archive torch.save writes since torch 1.6
// (torch/serialization.py, _save; caffe2/serialize/inline_container.cc, PyTorchStreamWriter;
// facts measured in ../shared/research/formats2.md, section 1): "<prefix>/data.pkl" (the
// pickle, read by torch_pickle), "<prefix>/data/<key>" (each storage's bytes),
// "<prefix>/byteorder" (since torch 2.1; absent means little-endian) and "<prefix>/version",
// every record stored. Nothing in the file is executed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mapped_file.hpp"
#include "torch_pickle.hpp"
#include "verinit/tensor.hpp"

namespace verinit::io {

struct torch_tensor {
  std::string name;
  const torch_pickle::torch_dtype* dtype = nullptr;
  tensor_shape shape;
  std::uint64_t bytes = 0;  ///< element count times element size
  std::size_t storage = 0;  ///< index into the archive's storages
  std::int64_t offset = 0;  ///< in elements
  std::vector<std::int64_t> stride;
  bool contiguous = false;             ///< C order, no gaps (a view in place, when aligned)
  std::optional<std::size_t> same_as;  ///< an earlier tensor of the same elements (tied)
  std::string withheld;                ///< why its elements are not sampled, or empty
};

class torch_archive {
 public:
  /// Maps and validates the archive; `key` names the state_dict in a root dict holding it
  /// (torch_pickle::read). Throws std::runtime_error "cannot read '<file>': <problem>".
  /// `check_crc`: check each storage's CRC-32 on its first view (checkpoint_options).
  static torch_archive open(const std::filesystem::path& path, std::string_view key = {},
                            bool check_crc = false);

  const std::vector<torch_tensor>& tensors() const noexcept { return tensors_; }
  /// The values that are not tensors (skipped), and remarks on the file (no CRC-32s).
  const std::vector<std::string>& notes() const noexcept { return notes_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// checkpoint::view for one tensor. The storage's CRC-32 is checked on its first view.
  tensor_view view(const torch_tensor& t, tensor_buffer& fallback,
                   std::optional<dtype> bits16) const;

 private:
  struct storage {
    std::string key;
    const torch_pickle::torch_dtype* dtype = nullptr;
    std::uint64_t elements = 0;
    std::uint64_t start = 0, size = 0;  ///< the record's bytes, in the file
    std::uint32_t crc = 0;
    std::string name;  ///< the first tensor on it, for messages
  };
  torch_archive(std::filesystem::path path, mapped_file map)
      : path_(std::move(path)),
        map_(std::move(map)),
        checked_mutex_(std::make_unique<std::mutex>()) {}

  std::filesystem::path path_;
  mapped_file map_;
  bool big_endian_ = false;
  bool check_crc_ = false;
  std::vector<storage> storages_;
  std::vector<torch_tensor> tensors_;
  std::vector<std::string> notes_;
  mutable std::vector<bool> checked_;  ///< storages whose CRC-32 was checked
  std::unique_ptr<std::mutex> checked_mutex_;
};

}  // namespace verinit::io
