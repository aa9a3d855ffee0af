// Internal: the data.pkl of a torch.save archive, evaluated symbolically and never called.
//
// torch.save pickles a state_dict with protocol 2 (torch/serialization.py, DEFAULT_PROTOCOL)
// in about thirty opcodes (Python's Lib/pickletools.py documents each; the set measured in
// ../shared/research/formats2.md, section 1.4). This evaluator knows only those. A GLOBAL is
// looked up in a fixed table (collections.OrderedDict, torch's _rebuild_tensor_v2/_v3,
// _rebuild_parameter(_with_state), _rebuild_from_type_v2, the storage classes, the dtypes) and
// is never imported; REDUCE is accepted only for those callables, with the arguments torch
// gives them; BINPERSID only for ('storage', <storage class>, key, location, numel); BUILD only
// on an OrderedDict; SETITEM(S) only on a dict, APPEND(S) only on a list. The memo holds
// references, so a BINGET shares a value instead of copying it (a doubling "memo bomb" stays
// linear), and every count (bytes, opcodes, stack, marks, nesting, memo, string length,
// tensors) has a limit. Anything else is refused with the opcode or the `module.name` and its
// byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "verinit/tensor.hpp"

namespace verinit::io::torch_pickle {

/// A problem with the pickle: the message holds only the problem; the caller names the file.
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The limits, each far above what a real state_dict needs (resnet50's data.pkl: 28 kB,
/// 7,000 opcodes; a 10^5-tensor model's a few MB, ~10^6 values) and low enough that a hostile
/// file cannot make the evaluator hold more than about a gigabyte: 2^23 values of ~90 bytes,
/// their 2^25 references, a memo of 2^22 entries, the stack, and tensors of at most 64 dims.
struct limits {
  std::size_t bytes = std::size_t{256} << 20;  ///< data.pkl's size
  std::size_t opcodes = std::size_t{1} << 25;  ///< opcodes evaluated
  std::size_t values = std::size_t{1} << 23;   ///< values built (each opcode builds at most one)
  std::size_t stack = std::size_t{1} << 22;    ///< values on the stack
  std::size_t marks = 256;                     ///< MARKs open at once
  std::size_t depth = 64;                      ///< containers nested in containers
  std::size_t memo = std::size_t{1} << 22;     ///< memo entries
  std::size_t string = std::size_t{1} << 20;   ///< bytes of one string
  std::size_t tensors = std::size_t{1} << 22;  ///< tensors rebuilt
  std::size_t rank = 64;                       ///< dims of one tensor
};

/// A torch dtype a storage or _rebuild_tensor_v3 names.
struct torch_dtype {
  std::string_view torch_name;  ///< "float32"
  std::string_view name;        ///< safetensors' spelling where it has one ("F32"), else torch's
  std::size_t item = 0;         ///< bytes per element
  std::optional<verinit::dtype> type;  ///< for the four float dtypes verinit verifies
};

/// One tensor of the state_dict, as _rebuild_tensor_v2/_v3 describes it (in elements).
struct tensor_record {
  std::string name;
  std::string key;       ///< its storage: the record data/<key>
  std::string location;  ///< "cpu", "cuda:0", ...
  const torch_dtype* dtype = nullptr;
  std::int64_t storage_numel = 0;  ///< elements of the storage (bytes for an untyped one)
  bool untyped_storage = false;    ///< torch.storage.UntypedStorage (numel in bytes)
  std::int64_t offset = 0;
  std::vector<std::int64_t> size, stride;
  bool parameter = false;  ///< an nn.Parameter
};

struct state_dict {
  std::vector<tensor_record> tensors;  ///< in the pickle's order
  /// The values that are not tensors, never verified: "'epoch' (int)", "'optimizer' (dict of
  /// 2 entries)"; names are prefixed with the root key the state_dict came from.
  std::vector<std::string> others;
  std::string root_key;  ///< the key of the root dict that held it ("" for the root itself)
};

/// Evaluates `pickle` and finds the state_dict: the root dict if it holds a tensor, else the
/// dict under `key` (when given), else under the first of "state_dict", "model_state_dict",
/// "model", "module" that holds a dict of tensors. Throws error.
state_dict read(std::span<const std::byte> pickle, std::string_view key = {},
                const limits& bounds = {});

}  // namespace verinit::io::torch_pickle
