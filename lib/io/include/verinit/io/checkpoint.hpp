// A model checkpoint: many named tensors in one of the formats frameworks save them in.
//
//   .safetensors              one file (safetensors.hpp's reader)
//   *.safetensors.index.json  sharded safetensors, Hugging Face's index: a JSON object
//                             {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}},
//                             the shards beside it (transformers' modeling_utils, "sharded
//                             checkpoints")
//   .npz                      numpy.savez (zip, stored) or savez_compressed (deflated), each
//                             member "<tensor>.npy" an .npy array; Zip64 (PKWARE APPNOTE.TXT
//                             6.3.10, sections 4.3 and 4.5.3)
//   .pt .pth .bin .ckpt       torch.save's zip archive (torch >= 1.6): a pickled state_dict,
//                             evaluated symbolically (never executed; torch_archive.hpp), the
//                             state_dict at its root or under a key of a training checkpoint
//   *.bin.index.json          sharded .bin files (transformers' pytorch_model.bin.index.json),
//                             read as the safetensors index is
//   a directory               its model.safetensors.index.json, else its model.safetensors,
//                             else its pytorch_model.bin.index.json, else its pytorch_model.bin
//
// Every file is memory-mapped, never read whole; a tensor is viewed in the mapping when its
// bytes are aligned, little-endian and in C order, and copied (inflated, byte-swapped,
// reordered) into a caller's buffer otherwise, one tensor at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "verinit/tensor.hpp"

namespace verinit::io {

/// One tensor of a checkpoint, as the file describes it.
struct checkpoint_entry {
  std::string name;
  std::string dtype_name;              ///< safetensors' spelling: "BF16", "F32", "I64", "BOOL"
  std::optional<verinit::dtype> type;  ///< set for the dtypes verinit has (F16, BF16, F32, F64)
  verinit::tensor_shape shape;         ///< [] is a scalar (1 element); a 0 dim, no elements
  std::uint64_t bytes = 0;             ///< element count times element size
  std::filesystem::path file;          ///< the file that holds it (a shard, the .npz)
  /// Tensors that hold the same elements (a .pt's tied weights: one storage, the same offset,
  /// sizes and strides) share a non-null `storage`: verified once. Null for the others.
  const void* storage = nullptr;
  /// Why its elements are not verified as independent draws (a .pt view sharing elements with
  /// another tensor, or repeating its own: a stride of 0); empty for the others.
  std::string withheld = {};
};

/// How to read a checkpoint.
struct checkpoint_options {
  /// A .pt's state_dict: the key of the root dict that holds it (a training checkpoint's
  /// "model"). Empty: the root dict if it holds tensors, else the first of "state_dict",
  /// "model_state_dict", "model", "module" that holds a dict of tensors.
  std::string key;
  /// A .pt's storages: check each one's CRC-32 against the zip directory on its first view
  /// (zlib's crc32, about 0.4-1 GB/s on one core, so on by request: it would double the time of
  /// verifying a large file; torch.load checks none, pytorch PR #28858, and safetensors has
  /// none). The pickle's CRC-32 is always checked.
  bool check_crc = false;
};

class checkpoint {
 public:
  /// Opens and validates `path` (format by name, above). Everything a header, an index or a
  /// zip directory says is checked against the file sizes before anything it claims is
  /// allocated. Throws std::runtime_error, one line, "cannot read '<file>': <problem>", naming
  /// the file at fault (the index, a shard, the .npz) and the value: a name that is none of
  /// the formats; a missing file; the safetensors reader's errors; an index that is not a JSON
  /// object with a "weight_map" object of strings, repeats a key, names a shard by a path
  /// (not a plain file name beside it), or disagrees with its shards (a tensor missing from
  /// its shard, a shard tensor the index does not map there); a zip that has no end record,
  /// spans disks, is encrypted, uses a method other than stored or deflate, has members
  /// outside the file, overlapping or repeated, a member not named "*.npy", whose local
  /// header disagrees with the directory, or whose .npy header is bad or does not describe
  /// exactly the member's size.
  /// A .pt (torch_archive.hpp's reader) is refused with the same one-line error for the legacy
  /// format (before torch 1.6) and TorchScript archives (each with what to do instead), a pickle
  /// that does anything but build a state_dict (the opcode or GLOBAL named), or tensors whose
  /// sizes, strides or offset reach outside their storage, or two readings of one storage.
  static checkpoint open(const std::filesystem::path& path, const checkpoint_options& options = {});

  checkpoint(checkpoint&& other) noexcept;
  checkpoint& operator=(checkpoint&& other) noexcept;
  checkpoint(const checkpoint&) = delete;
  checkpoint& operator=(const checkpoint&) = delete;
  ~checkpoint();

  /// Every tensor: a safetensors file's in data order, shards in the order of their names
  /// then each in data order, an .npz's in its directory order (numpy.savez's argument order).
  std::span<const checkpoint_entry> tensors() const noexcept;
  /// The tensor called `name`, or nullptr.
  const checkpoint_entry* find(std::string_view name) const noexcept;
  const std::filesystem::path& path() const noexcept;
  /// "safetensors", "sharded safetensors", "npz", "pt" or "sharded pt".
  std::string_view format() const noexcept;
  /// What a reader noted, for the user: a .pt's values that are not tensors ("not a tensor,
  /// not verified: 'epoch' (int)"), a file written without checksums.
  std::span<const std::string> notes() const noexcept;

  /// The tensor's elements as a tensor_view of its dtype and shape: in the mapping when they
  /// can be (aligned, little-endian, C order, stored); otherwise written into `fallback` (its
  /// type, shape and bytes replaced) and the view is of `fallback`. `bits16` (bfloat16 or
  /// float16) views 16-bit integer or void bit patterns (U16, I16, V2) as that dtype. A deflated
  /// member is inflated and its CRC-32 checked. `entry` must be one of tensors(). Throws
  /// std::runtime_error naming the file and the tensor for a dtype that is not a float one (nor
  /// bit patterns with `bits16`), or a member whose data are corrupt (inflate error, CRC
  /// mismatch, a size other than the directory's).
  verinit::tensor_view view(const checkpoint_entry& entry, verinit::tensor_buffer& fallback,
                            std::optional<verinit::dtype> bits16 = std::nullopt) const;

 private:
  struct impl;
  explicit checkpoint(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// Every float tensor of a checkpoint viewed at once, for one run over them all, within a memory
/// budget. A tensor is viewed in the file's mapping where it can be (checkpoint::view); the others
/// (deflated, byte-swapped, Fortran-ordered, misaligned) are copied one at a time: into memory
/// while the copies total at most `memory_bytes`, and beyond that into an unlinked temporary file
/// in `spill_directory` (empty: the system's, $TMPDIR or /tmp, looked up only then), mapped
/// back. On a disk-backed directory its pages are the page cache's, written back and dropped under
/// memory pressure, so a checkpoint of deflated members larger than memory is read with about one
/// tensor of the process's own memory (and its inflated size on that disk); on tmpfs the spilled
/// bytes are memory (or swap) all the same.
class checkpoint_views {
 public:
  /// Throws what checkpoint::view throws, and std::runtime_error "cannot write a temporary file
  /// in '<directory>': <problem>" (a full disk).
  checkpoint_views(const checkpoint& file, std::int64_t memory_bytes,
                   const std::filesystem::path& spill_directory = {});
  checkpoint_views(checkpoint_views&&) noexcept;
  checkpoint_views& operator=(checkpoint_views&&) noexcept;
  ~checkpoint_views();

  /// The view of file.tensors()[index]; nothing for a tensor of another dtype (I64, BOOL, ...)
  /// or a withheld one; a tied tensor has its first's view.
  const std::optional<verinit::tensor_view>& operator[](std::size_t index) const;
  /// Bytes copied into memory, and into the temporary file.
  std::uint64_t bytes_in_memory() const noexcept;
  std::uint64_t bytes_spilled() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace verinit::io
