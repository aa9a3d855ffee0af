// The symbolic evaluator of torch.save's data.pkl (torch_pickle.hpp). Opcode meanings from
// Python's Lib/pickletools.py; torch's reduce shapes from torch/_utils.py (_rebuild_tensor_v2,
// _rebuild_tensor_v3, _rebuild_parameter, _rebuild_parameter_with_state), torch/_tensor.py
// (_rebuild_from_type_v2, __reduce_ex__) and torch/serialization.py (persistent_id).
#include "torch_pickle.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

#include "text.hpp"

namespace verinit::io::torch_pickle {
namespace {

// The dtypes, by storage class (torch/storage.py, _dtype_to_storage_type_map) and by name.
constexpr std::array<torch_dtype, 24> dtypes{{
    {"float64", "F64", 8, verinit::dtype::float64},
    {"float32", "F32", 4, verinit::dtype::float32},
    {"float16", "F16", 2, verinit::dtype::float16},
    {"bfloat16", "BF16", 2, verinit::dtype::bfloat16},
    {"int64", "I64", 8, std::nullopt},
    {"int32", "I32", 4, std::nullopt},
    {"int16", "I16", 2, std::nullopt},
    {"int8", "I8", 1, std::nullopt},
    {"uint8", "U8", 1, std::nullopt},
    {"bool", "BOOL", 1, std::nullopt},
    {"complex64", "C64", 8, std::nullopt},
    {"complex128", "C128", 16, std::nullopt},
    {"complex32", "complex32", 4, std::nullopt},
    {"uint16", "U16", 2, std::nullopt},
    {"uint32", "U32", 4, std::nullopt},
    {"uint64", "U64", 8, std::nullopt},
    {"float8_e5m2", "F8_E5M2", 1, std::nullopt},
    {"float8_e4m3fn", "F8_E4M3", 1, std::nullopt},
    {"float8_e5m2fnuz", "float8_e5m2fnuz", 1, std::nullopt},
    {"float8_e4m3fnuz", "float8_e4m3fnuz", 1, std::nullopt},
    {"float8_e8m0fnu", "F8_E8M0", 1, std::nullopt},
    {"bits8", "bits8", 1, std::nullopt},
    {"bits16", "bits16", 2, std::nullopt},
    {"bits32", "bits32", 4, std::nullopt},
}};

const torch_dtype* dtype_named(std::string_view name) {
  for (const auto& d : dtypes)
    if (d.torch_name == name) return &d;
  return nullptr;
}

// The legacy typed storage classes torch.save still names in persistent ids ("kept for BC/FC",
// torch/serialization.py, _pickle_storage_type) and the dtype each holds.
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> storage_classes{{
    {"DoubleStorage", "float64"},
    {"FloatStorage", "float32"},
    {"HalfStorage", "float16"},
    {"BFloat16Storage", "bfloat16"},
    {"LongStorage", "int64"},
    {"IntStorage", "int32"},
    {"ShortStorage", "int16"},
    {"CharStorage", "int8"},
    {"ByteStorage", "uint8"},
    {"BoolStorage", "bool"},
    {"ComplexFloatStorage", "complex64"},
    {"ComplexDoubleStorage", "complex128"},
}};

// What a GLOBAL may name: nothing is imported, each is a tag.
enum class global : std::uint8_t {
  ordered_dict,
  rebuild_tensor_v2,
  rebuild_tensor_v3,
  rebuild_parameter,
  rebuild_parameter_with_state,
  rebuild_from_type_v2,
  tensor_type,     // torch.Tensor, as _rebuild_from_type_v2's type
  parameter_type,  // torch.nn.Parameter
  storage_class,   // a typed storage class; the dtype in the value
  untyped_storage,
  dtype,  // a torch dtype; the dtype in the value
};

enum class kind : std::uint8_t {
  none,
  boolean,
  integer,
  real,
  string,
  tuple,
  list,
  dict,
  global,
  storage,  // a persistent id ('storage', class, key, location, numel)
  tensor,
};

std::string_view kind_name(kind k) {
  switch (k) {
    case kind::none:
      return "None";
    case kind::boolean:
      return "bool";
    case kind::integer:
      return "int";
    case kind::real:
      return "float";
    case kind::string:
      return "str";
    case kind::tuple:
      return "tuple";
    case kind::list:
      return "list";
    case kind::dict:
      return "dict";
    case kind::global:
      return "global";
    case kind::storage:
      return "storage";
    case kind::tensor:
      return "tensor";
  }
  return "value";
}

using ref = std::uint32_t;

struct node {
  kind k = kind::none;
  bool ordered = false;    // a dict made by OrderedDict()
  std::uint8_t depth = 0;  // containers below it (for tuples, exact; else when built)
  global g = global::ordered_dict;
  const torch_dtype* dtype = nullptr;  // storage_class, dtype globals; storage
  std::int64_t integer = 0;            // integer, boolean; storage numel; tensor index
  double real = 0;
  std::string_view text;      // string; storage key
  std::string_view location;  // storage
  std::vector<ref> items;     // tuple, list; dict as key, value, key, value...
};

node of(kind k) {
  node n;
  n.k = k;
  return n;
}

// The evaluation: bytes, stack, MARKs, memo and the values built (nodes, referred to by index).
class evaluator {
 public:
  evaluator(std::span<const std::byte> bytes, const limits& bounds)
      : bytes_(bytes), bounds_(bounds) {}

  ref run();
  const node& at(ref r) const { return nodes_[r]; }
  std::vector<tensor_record>& tensors() { return tensors_; }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw error("data.pkl: " + problem + " (opcode " + opcode_text() + " at byte " +
                std::to_string(op_at_) + ")");
  }
  std::string opcode_text() const {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "0x";
    out += hex[op_ >> 4];
    out += hex[op_ & 15];
    if (op_ >= 0x20 && op_ < 0x7f) out += std::string(" '") + static_cast<char>(op_) + "'";
    return out;
  }
  std::span<const std::byte> take(std::size_t n) {
    if (bytes_.size() - pos_ < n) fail("it ends inside an opcode's argument (truncated)");
    const auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::uint64_t take_le(std::size_t n) {
    const auto b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::to_integer<std::uint64_t>(b[i]) << (8 * i);
    return v;
  }
  std::string_view take_text(std::size_t n) {
    if (n > bounds_.string)
      fail("a string of " + std::to_string(n) + " bytes, more than the " +
           std::to_string(bounds_.string) + " accepted");
    const auto b = take(n);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  std::string_view take_line() {  // GLOBAL's module and name, each ended by '\n'
    const std::size_t limit = std::min<std::size_t>(bytes_.size() - pos_, 256);
    for (std::size_t i = 0; i < limit; ++i)
      if (bytes_[pos_ + i] == std::byte{'\n'}) {
        const std::string_view line(reinterpret_cast<const char*>(bytes_.data() + pos_), i);
        pos_ += i + 1;
        return line;
      }
    fail("GLOBAL's name is not a line of at most 256 bytes");
  }

  ref add(node n) {
    if (nodes_.size() >= bounds_.values)
      fail("more than " + std::to_string(bounds_.values) + " values");
    nodes_.push_back(std::move(n));
    return static_cast<ref>(nodes_.size() - 1);
  }
  ref add_container(kind k, std::vector<ref> items) {
    node n;
    n.k = k;
    std::size_t depth = 0;
    for (const ref r : items) depth = std::max<std::size_t>(depth, nodes_[r].depth);
    if (depth + 1 > bounds_.depth)
      fail("containers nested " + std::to_string(depth + 1) + " deep, more than the " +
           std::to_string(bounds_.depth) + " accepted");
    n.depth = static_cast<std::uint8_t>(depth + 1);
    n.items = std::move(items);
    return add(std::move(n));
  }
  void push(ref r) {
    if (stack_.size() >= bounds_.stack)
      fail("more than " + std::to_string(bounds_.stack) + " values on the stack");
    stack_.push_back(r);
  }
  ref pop() {
    if (stack_.size() <= floor()) fail("it pops from an empty stack (or past a MARK)");
    const ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  ref top() const {
    if (stack_.size() <= floor()) fail("it needs a value on the stack, and there is none");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<ref> pop_mark() {  // the values since the last MARK, and the MARK
    if (marks_.empty()) fail("it needs a MARK, and none is open");
    std::vector<ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                           stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  void grow(ref target, std::span<const ref> items) {
    node& n = nodes_[target];
    std::size_t depth = n.depth;
    for (const ref r : items) depth = std::max<std::size_t>(depth, nodes_[r].depth + 1u);
    if (depth > bounds_.depth)
      fail("containers nested " + std::to_string(depth) + " deep, more than the " +
           std::to_string(bounds_.depth) + " accepted");
    n.depth = static_cast<std::uint8_t>(depth);
    n.items.insert(n.items.end(), items.begin(), items.end());
  }
  void memo_put(std::uint64_t index) {
    const ref value = top();
    if (memo_.size() >= bounds_.memo && memo_.find(index) == memo_.end())
      fail("more than " + std::to_string(bounds_.memo) + " memo entries");
    memo_[index] = value;
  }
  void memo_get(std::uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
    push(it->second);
  }
  ref global_named(std::string_view module, std::string_view name);
  ref reduce(ref callable, ref args);
  ref rebuild_tensor(const node& args, bool v3);
  std::int64_t integer_of(ref r, const char* what) const {
    if (nodes_[r].k != kind::integer && nodes_[r].k != kind::boolean)
      fail(std::string(what) + " is a " + std::string(kind_name(nodes_[r].k)) + ", not an int");
    return nodes_[r].integer;
  }
  std::vector<std::int64_t> integers_of(ref r, const char* what) const {
    if (nodes_[r].k != kind::tuple)
      fail(std::string(what) + " is a " + std::string(kind_name(nodes_[r].k)) +
           ", not a tuple of ints");
    std::vector<std::int64_t> out;
    for (const ref item : nodes_[r].items) out.push_back(integer_of(item, what));
    return out;
  }
  // torch sets a rebuilt tensor's state as attributes (_set_obj_state: setattr), so a state
  // {"data": other} would replace the tensor torch.load returns: only None or {} is read.
  void require_no_state(ref state, const char* who) const {
    const node& n = nodes_[state];
    if (n.k == kind::none || (n.k == kind::dict && n.items.empty())) return;
    std::string what = std::string(kind_name(n.k));
    if (n.k == kind::dict && nodes_[n.items[0]].k == kind::string)
      what = "dict setting '" + text::printable(nodes_[n.items[0]].text, 64) + "'";
    fail(std::string(who) + " with a state (" + what +
         "), which torch would set on the tensor: verinit reads only None or {}");
  }
  bool is_global(ref r, global g) const { return nodes_[r].k == kind::global && nodes_[r].g == g; }

  std::span<const std::byte> bytes_;
  const limits& bounds_;
  std::size_t pos_ = 0, op_at_ = 0;
  unsigned op_ = 0;
  std::vector<node> nodes_;
  std::vector<ref> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ref> memo_;
  std::vector<tensor_record> tensors_;
};

ref evaluator::global_named(std::string_view module, std::string_view name) {
  node n;
  n.k = kind::global;
  const auto is = [&](std::string_view m, std::string_view a) { return module == m && name == a; };
  bool known = true;
  if (is("collections", "OrderedDict")) {
    n.g = global::ordered_dict;
  } else if (is("torch._utils", "_rebuild_tensor_v2")) {
    n.g = global::rebuild_tensor_v2;
  } else if (is("torch._utils", "_rebuild_tensor_v3")) {
    n.g = global::rebuild_tensor_v3;
  } else if (is("torch._utils", "_rebuild_parameter")) {
    n.g = global::rebuild_parameter;
  } else if (is("torch._utils", "_rebuild_parameter_with_state")) {
    n.g = global::rebuild_parameter_with_state;
  } else if (is("torch._tensor", "_rebuild_from_type_v2")) {
    n.g = global::rebuild_from_type_v2;
  } else if (is("torch", "Tensor") || is("torch._tensor", "Tensor")) {
    n.g = global::tensor_type;
  } else if (is("torch.nn.parameter", "Parameter") || is("torch.nn", "Parameter")) {
    n.g = global::parameter_type;
  } else if (is("torch.storage", "UntypedStorage") || is("torch", "UntypedStorage")) {
    n.g = global::untyped_storage;
  } else if (module == "torch") {
    const auto storage = std::find_if(storage_classes.begin(), storage_classes.end(),
                                      [&](const auto& s) { return s.first == name; });
    if (storage != storage_classes.end()) {
      n.g = global::storage_class;
      n.dtype = dtype_named(storage->second);
    } else if (const torch_dtype* d = dtype_named(name); d != nullptr) {
      n.g = global::dtype;
      n.dtype = d;
    } else {
      known = false;
    }
  } else {
    known = false;
  }
  if (!known)
    fail("GLOBAL '" + text::printable(module, 64) + "." + text::printable(name, 64) +
         "' is not one a state_dict needs (verinit reads tensors as data and calls nothing)");
  return add(std::move(n));
}

ref evaluator::rebuild_tensor(const node& args, bool v3) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  //                    [, metadata]); _v3 adds dtype after backward_hooks.
  const std::size_t base = v3 ? 7 : 6;
  const char* who = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
  if (args.items.size() != base && args.items.size() != base + 1)
    fail(std::string(who) + " with " + std::to_string(args.items.size()) + " arguments, not the " +
         std::to_string(base) + " or " + std::to_string(base + 1) + " torch gives it");
  const node& storage = nodes_[args.items[0]];
  if (storage.k != kind::storage)
    fail(std::string(who) + "'s storage is a " + std::string(kind_name(storage.k)) +
         ", not a persistent storage id");
  if (tensors_.size() >= bounds_.tensors)
    fail("more than " + std::to_string(bounds_.tensors) + " tensors");
  tensor_record t;
  t.key = std::string(storage.text);
  t.location = std::string(storage.location);
  t.storage_numel = storage.integer;
  t.untyped_storage = storage.dtype == nullptr;
  t.dtype = storage.dtype;
  t.offset = integer_of(args.items[1], "the storage offset");
  for (const ref r : {args.items[2], args.items[3]})
    if (nodes_[r].items.size() > bounds_.rank)
      fail("a tensor of " + std::to_string(nodes_[r].items.size()) + " dims, more than the " +
           std::to_string(bounds_.rank) + " accepted");
  t.size = integers_of(args.items[2], "the size");
  t.stride = integers_of(args.items[3], "the stride");
  if (nodes_[args.items[4]].k != kind::boolean) fail("requires_grad is not a bool");
  if (nodes_[args.items[5]].k != kind::dict) fail("backward_hooks is not a dict");
  if (v3) {
    const ref d = args.items[6];
    if (!is_global(d, global::dtype)) fail("_rebuild_tensor_v3's dtype is not a torch dtype");
    if (!t.untyped_storage && t.dtype != nodes_[d].dtype)
      fail("_rebuild_tensor_v3's dtype " + std::string(nodes_[d].dtype->torch_name) +
           " differs from its storage's " + std::string(t.dtype->torch_name));
    t.dtype = nodes_[d].dtype;
  } else if (t.untyped_storage) {
    fail("_rebuild_tensor_v2 of an untyped storage, which has no dtype");
  }
  if (args.items.size() == base + 1 && nodes_[args.items[base]].k != kind::dict)
    fail(std::string(who) + "'s metadata is not a dict");
  if (t.size.size() != t.stride.size())
    fail("a tensor with " + std::to_string(t.size.size()) + " sizes and " +
         std::to_string(t.stride.size()) + " strides");
  node n;
  n.k = kind::tensor;
  n.integer = static_cast<std::int64_t>(tensors_.size());
  tensors_.push_back(std::move(t));
  return add(std::move(n));
}

ref evaluator::reduce(ref callable, ref args_ref) {
  if (nodes_[callable].k != kind::global)
    fail("REDUCE calls a " + std::string(kind_name(nodes_[callable].k)) + ", not a GLOBAL");
  if (nodes_[args_ref].k != kind::tuple) fail("REDUCE's arguments are not a tuple");
  const node& args = nodes_[args_ref];
  const auto tensor_at = [&](std::size_t i) {
    if (nodes_[args.items[i]].k != kind::tensor) fail("a parameter rebuilt from a non-tensor");
    return args.items[i];
  };
  switch (nodes_[callable].g) {
    case global::ordered_dict:
      if (!args.items.empty()) fail("OrderedDict called with arguments");
      {
        node n;
        n.k = kind::dict;
        n.ordered = true;
        n.depth = 1;
        return add(std::move(n));
      }
    case global::rebuild_tensor_v2:
      return rebuild_tensor(args, false);
    case global::rebuild_tensor_v3:
      return rebuild_tensor(args, true);
    case global::rebuild_parameter:  // (data, requires_grad, backward_hooks)
      if (args.items.size() != 3) fail("_rebuild_parameter with other than 3 arguments");
      tensors_[static_cast<std::size_t>(nodes_[tensor_at(0)].integer)].parameter = true;
      return args.items[0];
    case global::rebuild_parameter_with_state:  // (data, requires_grad, hooks, state)
      if (args.items.size() != 4) fail("_rebuild_parameter_with_state with other than 4 arguments");
      require_no_state(args.items[3], "_rebuild_parameter_with_state");
      tensors_[static_cast<std::size_t>(nodes_[tensor_at(0)].integer)].parameter = true;
      return args.items[0];
    case global::rebuild_from_type_v2: {  // (func, new_type, args, state)
      if (args.items.size() != 4) fail("_rebuild_from_type_v2 with other than 4 arguments");
      const ref func = args.items[0], type = args.items[1], inner = args.items[2];
      if (!is_global(type, global::tensor_type) && !is_global(type, global::parameter_type))
        fail("_rebuild_from_type_v2 of a type other than torch.Tensor or torch.nn.Parameter");
      if (!is_global(func, global::rebuild_tensor_v2) &&
          !is_global(func, global::rebuild_tensor_v3) &&
          !is_global(func, global::rebuild_parameter))
        fail("_rebuild_from_type_v2 of a function other than torch's tensor rebuilders");
      require_no_state(args.items[3], "_rebuild_from_type_v2");
      return reduce(func, inner);
    }
    default:
      fail("REDUCE calls a GLOBAL that is not callable here");
  }
}

ref evaluator::run() {
  if (bytes_.size() > bounds_.bytes)
    throw error("data.pkl has " + std::to_string(bytes_.size()) + " bytes, more than the " +
                std::to_string(bounds_.bytes) + " accepted");
  std::size_t count = 0;
  while (true) {
    if (pos_ >= bytes_.size()) {
      op_at_ = pos_;
      op_ = 0;
      throw error("data.pkl ends at byte " + std::to_string(pos_) + " without STOP (truncated)");
    }
    op_at_ = pos_;
    op_ = std::to_integer<unsigned>(bytes_[pos_++]);
    if (++count > bounds_.opcodes)
      fail("more than " + std::to_string(bounds_.opcodes) + " opcodes");
    if (count == 1 && op_ != 0x80)
      fail("the pickle does not begin with PROTO 2 (torch.save writes protocol 2)");
    switch (op_) {
      case 0x80: {  // PROTO
        const auto version = take_le(1);
        if (count != 1) fail("PROTO after the first opcode");
        if (version != 2)
          fail("pickle protocol " + std::to_string(version) +
               ": verinit reads torch.save's default protocol 2 (re-save without "
               "pickle_protocol)");
        break;
      }
      case '.': {  // STOP
        if (!marks_.empty()) fail("STOP with a MARK open");
        if (stack_.size() != 1)
          fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, not 1");
        if (pos_ != bytes_.size()) fail(std::to_string(bytes_.size() - pos_) + " bytes after STOP");
        return stack_.back();
      }
      case 'c': {  // GLOBAL
        const std::string_view module = take_line();
        const std::string_view name = take_line();
        push(global_named(module, name));
        break;
      }
      case 'q':
        memo_put(take_le(1));
        break;  // BINPUT
      case 'r':
        memo_put(take_le(4));
        break;  // LONG_BINPUT
      case 'h':
        memo_get(take_le(1));
        break;  // BINGET
      case 'j':
        memo_get(take_le(4));
        break;   // LONG_BINGET
      case '(':  // MARK
        if (marks_.size() >= bounds_.marks)
          fail("more than " + std::to_string(bounds_.marks) + " MARKs open");
        marks_.push_back(stack_.size());
        break;
      case 't':
        push(add_container(kind::tuple, pop_mark()));
        break;  // TUPLE
      case ')':
        push(add_container(kind::tuple, {}));
        break;      // EMPTY_TUPLE
      case 0x85: {  // TUPLE1
        const ref a = pop();
        push(add_container(kind::tuple, {a}));
        break;
      }
      case 0x86: {  // TUPLE2
        const ref b = pop(), a = pop();
        push(add_container(kind::tuple, {a, b}));
        break;
      }
      case 0x87: {  // TUPLE3
        const ref c = pop(), b = pop(), a = pop();
        push(add_container(kind::tuple, {a, b, c}));
        break;
      }
      case '}':
        push(add_container(kind::dict, {}));
        break;  // EMPTY_DICT
      case ']':
        push(add_container(kind::list, {}));
        break;     // EMPTY_LIST
      case 's': {  // SETITEM
        const ref value = pop(), key = pop();
        const ref target = top();
        if (nodes_[target].k != kind::dict)
          fail("SETITEM on a " + std::string(kind_name(nodes_[target].k)) + ", not a dict");
        const std::array<ref, 2> pair{key, value};
        grow(target, pair);
        break;
      }
      case 'u': {  // SETITEMS
        const std::vector<ref> items = pop_mark();
        const ref target = top();
        if (nodes_[target].k != kind::dict)
          fail("SETITEMS on a " + std::string(kind_name(nodes_[target].k)) + ", not a dict");
        if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
        grow(target, items);
        break;
      }
      case 'a': {  // APPEND
        const ref value = pop();
        const ref target = top();
        if (nodes_[target].k != kind::list)
          fail("APPEND on a " + std::string(kind_name(nodes_[target].k)) + ", not a list");
        grow(target, std::span(&value, 1));
        break;
      }
      case 'e': {  // APPENDS
        const std::vector<ref> items = pop_mark();
        const ref target = top();
        if (nodes_[target].k != kind::list)
          fail("APPENDS on a " + std::string(kind_name(nodes_[target].k)) + ", not a list");
        grow(target, items);
        break;
      }
      case 'J': {  // BININT: 4-byte signed
        node n = of(kind::integer);
        n.integer = static_cast<std::int32_t>(static_cast<std::uint32_t>(take_le(4)));
        push(add(std::move(n)));
        break;
      }
      case 'K':    // BININT1
      case 'M': {  // BININT2
        node n = of(kind::integer);
        n.integer = static_cast<std::int64_t>(take_le(op_ == 'K' ? 1 : 2));
        push(add(std::move(n)));
        break;
      }
      case 0x8a: {  // LONG1: n bytes, little-endian two's complement
        const auto length = static_cast<std::size_t>(take_le(1));
        if (length > 8) fail("an integer of " + std::to_string(length) + " bytes, beyond 64 bits");
        const auto b = take(length);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < length; ++i)
          v |= std::to_integer<std::uint64_t>(b[i]) << (8 * i);
        if (length > 0 && length < 8 && (std::to_integer<unsigned>(b[length - 1]) & 0x80) != 0)
          v |= ~std::uint64_t{0} << (8 * length);  // sign extension
        node n = of(kind::integer);
        n.integer = static_cast<std::int64_t>(v);
        push(add(std::move(n)));
        break;
      }
      case 'G': {  // BINFLOAT: 8 bytes, big-endian
        const auto b = take(8);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | std::to_integer<std::uint64_t>(b[i]);
        node n = of(kind::real);
        n.real = std::bit_cast<double>(v);
        push(add(std::move(n)));
        break;
      }
      case 'X':    // BINUNICODE: 4-byte length
      case 0x8c:   // SHORT_BINUNICODE: 1-byte length
      case 'U': {  // SHORT_BINSTRING: 1-byte length
        const auto length = static_cast<std::size_t>(take_le(op_ == 'X' ? 4 : 1));
        node n = of(kind::string);
        n.text = take_text(length);
        push(add(std::move(n)));
        break;
      }
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        node n = of(kind::boolean);
        n.integer = op_ == 0x88;
        push(add(std::move(n)));
        break;
      }
      case 'N':
        push(add(of(kind::none)));
        break;     // NONE
      case 'R': {  // REDUCE
        const ref args = pop(), callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD
        const ref state = pop();
        const ref target = top();
        if (nodes_[target].k != kind::dict || !nodes_[target].ordered)
          fail("BUILD on a " + std::string(kind_name(nodes_[target].k)) + ", not an OrderedDict");
        if (nodes_[state].k != kind::dict) fail("BUILD with a state that is not a dict");
        break;  // the OrderedDict's __dict__ (its _metadata): not needed
      }
      case 'Q': {  // BINPERSID
        const node& id = nodes_[pop()];
        if (id.k != kind::tuple || id.items.size() != 5 || nodes_[id.items[0]].k != kind::string ||
            nodes_[id.items[0]].text != "storage")
          fail("a persistent id other than ('storage', class, key, location, numel)");
        const node& cls = nodes_[id.items[1]];
        const node& key = nodes_[id.items[2]];
        const node& location = nodes_[id.items[3]];
        if (cls.k != kind::global ||
            (cls.g != global::storage_class && cls.g != global::untyped_storage))
          fail("a persistent id whose storage class is not one of torch's");
        if (key.k != kind::string || location.k != kind::string)
          fail("a persistent id whose key or location is not a string");
        node n = of(kind::storage);
        n.dtype = cls.g == global::storage_class ? cls.dtype : nullptr;
        n.text = key.text;
        n.location = location.text;
        n.integer = integer_of(id.items[4], "the storage's numel");
        push(add(std::move(n)));
        break;
      }
      default:
        fail(
            "this opcode is not one torch.save writes for a state_dict (protocol 2: "
            "verinit reads no INST, OBJ, NEWOBJ, STACK_GLOBAL or others)");
    }
  }
}

// "dict of 3 entries", "int", ...
std::string describe(const evaluator& e, ref r) {
  const node& n = e.at(r);
  switch (n.k) {
    case kind::dict:
      return "dict of " + std::to_string(n.items.size() / 2) + " entries";
    case kind::list:
    case kind::tuple:
      return std::string(kind_name(n.k)) + " of " + std::to_string(n.items.size());
    default:
      return std::string(kind_name(n.k));
  }
}

// Whether dict `r` holds a tensor value.
bool holds_tensor(const evaluator& e, ref r) {
  const node& n = e.at(r);
  if (n.k != kind::dict) return false;
  for (std::size_t i = 1; i < n.items.size(); i += 2)
    if (e.at(n.items[i]).k == kind::tensor) return true;
  return false;
}

}  // namespace

state_dict read(std::span<const std::byte> pickle, std::string_view key, const limits& bounds) {
  evaluator e(pickle, bounds);
  const ref root = e.run();
  state_dict out;
  const node& top = e.at(root);
  if (top.k == kind::tensor) {  // torch.save(tensor): one tensor, named by the caller
    out.tensors.push_back(std::move(e.tensors()[static_cast<std::size_t>(top.integer)]));
    return out;
  }
  if (top.k != kind::dict)
    throw error("data.pkl holds a " + describe(e, root) +
                ", not a dict of tensors (a state_dict) or a tensor");
  const auto key_text = [&](ref k) -> std::optional<std::string_view> {
    if (e.at(k).k != kind::string) return std::nullopt;
    return e.at(k).text;
  };
  {  // a key twice in the root: Python keeps the last, so a reader taking the first would differ
    std::set<std::string_view> keys;
    for (std::size_t i = 0; i < top.items.size(); i += 2)
      if (const auto k = key_text(top.items[i]); k && !keys.insert(*k).second)
        throw error("its root dict repeats the key '" + text::printable(*k, 64) + "'");
  }
  ref dict = root;
  std::string prefix;
  if (!key.empty() || !holds_tensor(e, root)) {
    std::optional<ref> chosen;
    for (const std::string_view wanted :
         key.empty()
             ? std::vector<std::string_view>{"state_dict", "model_state_dict", "model", "module"}
             : std::vector<std::string_view>{key}) {
      for (std::size_t i = 0; i + 1 < top.items.size() && !chosen; i += 2)
        if (key_text(top.items[i]) == wanted &&
            (key.empty() ? holds_tensor(e, top.items[i + 1])
                         : e.at(top.items[i + 1]).k == kind::dict))
          chosen = top.items[i + 1];
      if (chosen) {
        out.root_key = std::string(wanted);
        break;
      }
    }
    if (!chosen) {
      std::string keys;
      std::size_t shown = 0;
      for (std::size_t i = 0; i < top.items.size(); i += 2) {
        if (++shown > 10) {
          keys += ", ...";
          break;
        }
        const auto k = key_text(top.items[i]);
        keys += (keys.empty() ? "" : ", ") +
                (k ? "'" + text::printable(*k, 40) + "' (" + describe(e, top.items[i + 1]) + ")"
                   : describe(e, top.items[i]));
      }
      if (!key.empty())
        throw error("its root dict has no dict under the key '" + text::printable(key, 64) +
                    "' (its keys: " + (keys.empty() ? "none" : keys) + ")");
      throw error(
          "its root dict holds no tensors, nor a dict of them under 'state_dict', "
          "'model_state_dict', 'model' or 'module': name the state_dict with --key "
          "(its keys: " +
          (keys.empty() ? "none" : keys) + ")");
    }
    dict = *chosen;
    prefix = out.root_key + ".";
    for (std::size_t i = 0; i + 1 < top.items.size(); i += 2) {
      if (top.items[i + 1] == dict) continue;
      const auto k = key_text(top.items[i]);
      out.others.push_back((k ? "'" + text::printable(*k, 64) + "'" : describe(e, top.items[i])) +
                           " (" + describe(e, top.items[i + 1]) + ")");
    }
  }
  const node& sd = e.at(dict);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i + 1 < sd.items.size(); i += 2) {
    const auto name = key_text(sd.items[i]);
    const node& value = e.at(sd.items[i + 1]);
    if (!name) {
      out.others.push_back("a key that is a " + describe(e, sd.items[i]) + " (" +
                           describe(e, sd.items[i + 1]) + ")");
      continue;
    }
    if (!names.insert(*name).second)
      throw error("the state_dict repeats the key '" + text::printable(*name, 64) + "'");
    if (value.k != kind::tensor) {
      out.others.push_back("'" + prefix + text::printable(*name, 64) + "' (" +
                           describe(e, sd.items[i + 1]) + ")");
      continue;
    }
    tensor_record t = e.tensors()[static_cast<std::size_t>(value.integer)];
    t.name = std::string(*name);
    out.tensors.push_back(std::move(t));
  }
  if (out.tensors.empty() && !key.empty())
    throw error("the dict under the key '" + text::printable(key, 64) + "' holds no tensors (" +
                describe(e, dict) + ")");
  return out;
}

}  // namespace verinit::io::torch_pickle
