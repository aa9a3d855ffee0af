// Whole models: rules that say which law each named tensor must follow (first match wins), and
// the plan that turns a model's tensors into the cases of one verification run.
//
// A rules document, in TOML (the command line's --rules, the Python package's verify_model):
//
//   layout = "torch"                 # optional: every rule's default
//   [constants]                      # optional: names for the expressions
//   n_layer = 12
//   [[rule]]
//   match = "*.bias"                 # shell glob on the full name: * (also across dots), ?,
//                                    # [abc], [a-z], [!abc]
//   expect = "torch_linear"          # a scheme spec; a numeric parameter may be an
//                                    # expression over the tensor (spec_expression.hpp):
//                                    # "truncated_normal(std=sqrt(1/fan_in), a=-2, b=2)",
//                                    # "uniform(a=-1/sqrt(shape[0]), b=1/sqrt(shape[0]))",
//                                    # "normal(std=0.02/sqrt(2*n_layer))" with [constants];
//                                    # {...} anywhere: "normal(std={0.02/sqrt(2*(layer+1))})"
//   # rank = 4, shape = [768, 3, 16, 16], dtype = "bfloat16"   # match these too
//   fans_from = "{parent}.weight"    # fans from another tensor's shape; {parent} is the name
//                                    # without its last .component
//   # fan_in = 768, fan_out = 3072   # or explicit fans (both)
//   # layout = "keras"
//   # zero_rows = [0]                # rows that must be exactly zero (an Embedding's
//                                    # padding_idx); the other rows follow `expect`
//   # blocks = ["zeros", "ones", "zeros", "zeros"]   # instead of expect: a packed tensor in
//   # axis = 0                       # equal blocks along axis (default 0), each its own spec
//                                    # (Keras's LSTM bias with unit_forget_bias)
//   # skip = true                    # deliberately not verified (counters, buffers)
//   # tolerance = { variance = 0.005, mean = 0.01, ks = 0.001 }   # equivalence margins
//                                    # (tolerance.hpp): relative variance, mean in sd, KS
//                                    # distance; a top-level `tolerance` sets every rule's
//                                    # default (a rule's own replaces it whole)
//
// A tensor no rule matches fails the run and is listed; an integer or bool tensor must be
// skipped by its rule; a tensor on the storage (and shape and dtype) of one already planned is
// tied to it: verified once, whatever its own rule.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verinit/shape.hpp"
#include "verinit/tensor.hpp"
#include "verinit/verify/runner.hpp"
#include "verinit/verify/spec_expression.hpp"

namespace verinit::verify {

struct tensor_rule {
  std::string match;   ///< the glob
  std::string expect;  ///< a scheme spec; empty when skip
  bool skip = false;
  std::string fans_from;                 ///< a tensor name, "{parent}" substituted; empty: none
  std::int64_t fan_in = 0, fan_out = 0;  ///< explicit fans (both > 0) or none (both 0)
  std::optional<verinit::layout> tensor_layout;
  std::vector<std::int64_t> zero_rows;  ///< row indices (negative from the end)
  /// Per-block specs: the tensor in blocks.size() equal parts along `axis`, each its own case
  /// ("<name>[block 2 of 4]") with fans from the block's shape (or the rule's fans); instead of
  /// expect.
  std::vector<std::string> blocks;
  std::int64_t axis = 0;                       ///< of blocks; negative from the end
  std::optional<verify::tolerance> tolerance;  ///< the rule's own; else the document's
  /// Besides the name, the rule matches only tensors of this rank, shape, dtype (where set).
  std::optional<std::int64_t> rank;
  std::optional<tensor_shape> shape;
  std::optional<verinit::dtype> type;
  /// Where the law comes from, for reports (free text: the call that set it and its site, as
  /// verinit.torch.record() writes it); not used to verify.
  std::string origin = {};
};

struct model_rules {
  std::optional<verinit::layout> tensor_layout;  ///< the top-level `layout`
  verify::tolerance tolerance;                   ///< the top-level `tolerance`: the default
  expression_constants constants;                ///< the top-level `[constants]`
  std::vector<tensor_rule> rules;                ///< in order: the first match wins
  std::string source = "rules";                  ///< the file (for messages)
};

/// Parses a rules document (TOML, above); `source` names it in messages (a file name).
/// Throws std::invalid_argument "<source>: ..." naming the line of a TOML syntax error, or the
/// rule (1-based) and key of a bad rule: an unknown key, a tolerance that is not a table of
/// variance/mean/ks numbers in [0, 1), a missing or non-string match, no
/// expect (nor blocks) and no skip, a {...} expression that does not parse or is not finite
/// (checked with layer = 1), expect with blocks, blocks with zero_rows, axis without
/// blocks, blocks not a non-empty list of valid specs, a layout other than torch or keras, fan_in
/// without fan_out, fans below 1, fans_from with explicit fans, zero_rows not a list of integers,
/// an expect that is not a valid scheme spec.
model_rules parse_rules(std::string_view toml, std::string_view source = "rules");

/// Whether the shell glob `pattern` matches all of `name`: * any run of characters (dots
/// too), ? one character, [abc], [a-z] and [!abc] one of (or none of) a set. A malformed set
/// ("[ab") matches its characters literally.
bool glob_match(std::string_view pattern, std::string_view name) noexcept;

/// The first rule matching `name`, or nullptr; by name alone (rank, shape and dtype keys
/// ignored).
const tensor_rule* match_rule(const model_rules& rules, std::string_view name) noexcept;

/// The first rule matching a tensor: its name, and its shape and dtype where a rule has rank,
/// shape or dtype keys (a tensor without a float dtype, `type` nullopt, fails a dtype key).
const tensor_rule* match_rule(const model_rules& rules, std::string_view name,
                              const tensor_shape& shape,
                              std::optional<verinit::dtype> type) noexcept;

/// The shape whose fans the rule names for tensor `name`: fans_from's tensor (its shape from
/// `shape_of`, which returns nullopt for a name the model lacks), or the explicit fans as a
/// 2-dim shape in `tensor_layout`; nullopt: the tensor's own. Throws std::invalid_argument
/// naming the rule and the missing tensor.
std::optional<tensor_shape> fans_shape_of(
    const tensor_rule& rule, std::string_view name, verinit::layout tensor_layout,
    const std::function<std::optional<tensor_shape>(std::string_view)>& shape_of);

/// One tensor of a model, as a checkpoint reader or the Python package sees it.
struct model_tensor {
  std::string name;
  std::string dtype_name;  ///< as the source spells it ("F32", "I64", "torch.int64"), for messages
  tensor_shape shape;
  std::optional<tensor_view> values;  ///< set for floating-point tensors; not owned
  const void* storage = nullptr;      ///< shared storage marks tied tensors; null: own storage
  /// Why its elements are not independent draws (a view sharing elements with another tensor,
  /// or repeating its own): listed as skipped, with a note, never verified. Empty: verified.
  std::string withheld = {};
  /// `values` hold a part of the tensor (of `shape`, whose fans give the law), the rest held by
  /// other processes: its case is reduced as a part (distributed.hpp's reduce_part). zero_rows
  /// and blocks need the whole tensor: an error for a part.
  bool part = false;
};

/// A model's tensors as the cases of one run, and what was not verified.
struct model_plan {
  std::vector<case_request> cases;  ///< each with its tensor and rule
  std::vector<std::string> unmatched, skipped;
  std::vector<std::pair<std::string, std::string>> tied;  ///< (tensor, the one verified for it)
  std::vector<std::string> notes;
  /// The rows zero_rows split off, owned here; cases view them (keep the plan alive).
  std::vector<std::unique_ptr<tensor_buffer>> pieces;
};

/// Plans the verification of `tensors` by `rules` (layout: the rule's, else the document's,
/// else `default_layout`); `source` is each case's source. Throws std::invalid_argument naming
/// the tensor for a non-float tensor its rule does not skip, zero_rows outside the tensor's
/// rows, blocks on an axis outside it or whose dim they do not divide, a {layer} expression for
/// a name without a numeric component or not finite for this one, a missing fans_from tensor
/// or a scheme that does not fit.
model_plan plan_model(std::span<const model_tensor> tensors, const model_rules& rules,
                      verinit::layout default_layout, std::string_view source);

/// The plan's cases and its lists in a request (the lists travel into the result; an
/// unmatched tensor fails the run).
void add_plan(run_request& request, const model_plan& plan);

}  // namespace verinit::verify
