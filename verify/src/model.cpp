#include "verinit/verify/model.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "verinit/scheme.hpp"
#include "verinit/verify/spec_expression.hpp"

namespace verinit::verify {
namespace {

[[noreturn]] void fail(std::string_view source, const std::string& what) {
  throw std::invalid_argument(std::string(source) + ": " + what);
}

// [abc], [a-z], [!abc] at pattern[p] (the '['); sets `matched` and returns the index after ']',
// or npos for a set without its ']' (then '[' is a literal).
std::size_t match_set(std::string_view pattern, std::size_t p, char c, bool& matched) {
  std::size_t i = p + 1;
  const bool negate = i < pattern.size() && pattern[i] == '!';
  if (negate) ++i;
  bool found = false;
  bool first = true;
  for (; i < pattern.size() && (first || pattern[i] != ']'); first = false) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      found = found || (pattern[i] <= c && c <= pattern[i + 2]);
      i += 3;
    } else {
      found = found || pattern[i] == c;
      ++i;
    }
  }
  if (i >= pattern.size()) return std::string_view::npos;
  matched = found != negate;
  return i + 1;
}

std::string layout_error(const toml::node& value) {
  return "is " +
         (value.is_string() ? "'" + std::string(*value.value<std::string>()) + "'"
                            : std::string("not a string")) +
         ", but must be 'torch' or 'keras'";
}

verinit::layout layout_of(const toml::node& value, std::string_view source,
                          const std::string& where) {
  const auto text = value.value<std::string>();
  if (!text || (*text != "torch" && *text != "keras"))
    fail(source, where + "layout " + layout_error(value));
  return parse_layout(*text);
}

// `tolerance = { variance = 0.005, mean = 0.01, ks = 0.001 }`: numbers (integers too) in [0, 1).
verify::tolerance tolerance_of(const toml::node& value, std::string_view source,
                               const std::string& where) {
  const toml::table* table = value.as_table();
  if (table == nullptr)
    fail(source, where + "tolerance must be a table, e.g. { variance = 0.005, ks = 0.001 }");
  verify::tolerance out;
  for (const auto& [key, entry] : *table) {
    const std::string k(key.str());
    double* into = k == "variance" ? &out.variance
                   : k == "mean"   ? &out.mean
                   : k == "ks"     ? &out.ks
                                   : nullptr;
    if (into == nullptr)
      fail(source, where + "tolerance has key '" + k + "', but the keys are variance, mean, ks");
    const auto number = entry.value<double>();  // an integer converts
    if (!number || !(entry.is_floating_point() || entry.is_integer()))
      fail(source, where + "tolerance " + k + " must be a number in [0, 1)");
    *into = *number;
  }
  // where is "" or "rule 3: ".
  check_tolerance(
      out, std::string(source) + (where.empty() ? "" : ": " + where.substr(0, where.size() - 2)));
  return out;
}

// `[constants]`: name = number, names that are identifiers and not an expression's variables.
expression_constants constants_of(const toml::node& value, std::string_view source) {
  const toml::table* table = value.as_table();
  if (table == nullptr) fail(source, "constants must be a table ([constants] name = number)");
  expression_constants out;
  for (const auto& [key, entry] : *table) {
    const std::string name(key.str());
    const bool identifier =
        !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
        std::all_of(name.begin(), name.end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    if (!identifier) fail(source, "constant '" + name + "' is not a name (letters, digits, _)");
    if (is_expression_variable(name))
      fail(source, "constant '" + name + "' is the name of a tensor's variable; choose another");
    const auto number = entry.value<double>();
    if (!number || !(entry.is_floating_point() || entry.is_integer()) || !std::isfinite(*number))
      fail(source, "constant '" + name + "' must be a finite number");
    out.emplace(name, *number);
  }
  return out;
}

// The first component of `name` (split at '.' and '/') that is all digits: its layer.
std::optional<double> layer_of(std::string_view name) {
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find_first_of("./", start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (!part.empty() && part.size() < 10 &&
        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::stod(std::string(part));
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view name) noexcept {
  // Iterative, with one backtrack point: the last '*' and where its run ends.
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
      continue;
    }
    if (p < pattern.size()) {
      if (pattern[p] == '?') {
        ++p;
        ++n;
        continue;
      }
      if (pattern[p] == '[') {
        bool matched = false;
        const std::size_t next = match_set(pattern, p, name[n], matched);
        if (next != std::string_view::npos) {
          if (matched) {
            p = next;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {
          ++p;
          ++n;
          continue;
        }
      } else if (pattern[p] == name[n]) {
        ++p;
        ++n;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;
    n = ++resume;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

model_rules parse_rules(std::string_view text, std::string_view source) {
  toml::table document;
  try {
    document = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    fail(source, "not valid TOML: " + std::string(error.description()) + " (line " +
                     std::to_string(error.source().begin.line) + ")");
  }
  model_rules out;
  out.source = std::string(source);
  for (const auto& [key, value] : document) {
    if (key.str() == "layout") {
      out.tensor_layout = layout_of(value, source, "");
    } else if (key.str() == "tolerance") {
      out.tolerance = tolerance_of(value, source, "");
    } else if (key.str() == "constants") {
      out.constants = constants_of(value, source);
    } else if (key.str() != "rule") {
      fail(source, "top-level key '" + std::string(key.str()) +
                       "' is unknown, but must be 'rule', 'layout', 'tolerance' or 'constants'");
    }
  }
  const toml::node* rules = document.get("rule");
  if (rules == nullptr) return out;
  const toml::array* list = rules->as_array();
  if (list == nullptr) fail(source, "'rule' must be an array of tables ([[rule]])");
  std::size_t index = 0;
  for (const toml::node& item : *list) {
    ++index;
    const std::string where = "rule " + std::to_string(index);
    const toml::table* table = item.as_table();
    if (table == nullptr) fail(source, where + " is not a table ([[rule]])");
    tensor_rule rule;
    bool has_fan_in = false, has_fan_out = false, has_axis = false;
    for (const auto& [key, entry] : *table) {
      const std::string k(key.str());
      const toml::node& value = entry;  // lambdas below cannot capture a structured binding
      const auto text_of = [&]() {
        const auto s = value.value<std::string>();
        if (!s || !value.is_string()) fail(source, where + ": " + k + " must be a string");
        return *s;
      };
      const auto count_of = [&]() {
        const auto v = value.value<std::int64_t>();
        if (!value.is_integer() || !v || *v < 1)
          fail(source, where + ": " + k + " must be an integer >= 1");
        return *v;
      };
      if (k == "match") {
        rule.match = text_of();
      } else if (k == "expect") {
        rule.expect = text_of();
      } else if (k == "fans_from") {
        rule.fans_from = text_of();
      } else if (k == "origin") {
        rule.origin = text_of();
      } else if (k == "skip") {
        if (!value.is_boolean()) fail(source, where + ": skip must be true or false");
        rule.skip = *value.value<bool>();
      } else if (k == "layout") {
        rule.tensor_layout = layout_of(value, source, where + ": ");
      } else if (k == "fan_in") {
        rule.fan_in = count_of();
        has_fan_in = true;
      } else if (k == "fan_out") {
        rule.fan_out = count_of();
        has_fan_out = true;
      } else if (k == "rank") {
        const auto v = value.value<std::int64_t>();
        if (!value.is_integer() || !v || *v < 0 || *v > 64)
          fail(source, where + ": rank must be an integer in [0, 64]");
        rule.rank = *v;
      } else if (k == "dtype") {
        const std::string name = text_of();
        try {
          rule.type = parse_dtype(name);
        } catch (const std::invalid_argument&) {
          fail(source, where + ": dtype is '" + name +
                           "', but must be float16, bfloat16, float32 or float64");
        }
      } else if (k == "shape") {
        const toml::array* dims = value.as_array();
        tensor_shape shape;
        if (dims != nullptr)
          for (const toml::node& d : *dims) {
            const auto v = d.value<std::int64_t>();
            if (!d.is_integer() || !v || *v < 0) {
              dims = nullptr;
              break;
            }
            shape.push_back(*v);
          }
        if (dims == nullptr)
          fail(source, where + ": shape must be a list of integers >= 0, e.g. [768, 3, 16, 16]");
        rule.shape = std::move(shape);
      } else if (k == "blocks") {
        const toml::array* specs = value.as_array();
        if (specs == nullptr || specs->empty())
          fail(source, where + ": blocks must be a non-empty list of scheme specs");
        for (const toml::node& spec : *specs) {
          if (!spec.is_string())
            fail(source, where + ": blocks must be a non-empty list of scheme specs");
          rule.blocks.push_back(*spec.value<std::string>());
        }
      } else if (k == "axis") {
        if (!value.is_integer()) fail(source, where + ": axis must be an integer");
        rule.axis = *value.value<std::int64_t>();
        has_axis = true;
      } else if (k == "tolerance") {
        rule.tolerance = tolerance_of(value, source, where + ": ");
      } else if (k == "zero_rows") {
        const toml::array* rows = value.as_array();
        if (rows == nullptr) fail(source, where + ": zero_rows must be a list of integers");
        for (const toml::node& row : *rows) {
          if (!row.is_integer()) fail(source, where + ": zero_rows must be a list of integers");
          rule.zero_rows.push_back(*row.value<std::int64_t>());
        }
      } else {
        fail(source, where + " has key '" + k +
                         "', but the keys are match, expect, blocks, axis, fans_from, fan_in, "
                         "fan_out, layout, skip, tolerance, zero_rows, rank, shape, dtype, "
                         "origin");
      }
    }
    if (rule.match.empty()) fail(source, where + ": match is missing (a glob)");
    if (!rule.blocks.empty() && !rule.expect.empty())
      fail(source, where + " ('" + rule.match + "'): expect and blocks are alternatives");
    if (!rule.blocks.empty() && !rule.zero_rows.empty())
      fail(source, where + " ('" + rule.match + "'): blocks and zero_rows are alternatives");
    if (has_axis && rule.blocks.empty())
      fail(source, where + " ('" + rule.match + "'): axis is given without blocks");
    if (!rule.skip && rule.expect.empty() && rule.blocks.empty())
      fail(source, where + " ('" + rule.match +
                       "'): expect is missing (a scheme spec), and skip "
                       "is not true");
    if (has_fan_in != has_fan_out)
      fail(source, where + " ('" + rule.match + "'): fan_in and fan_out must be given together");
    if (has_fan_in && !rule.fans_from.empty())
      fail(source, where + " ('" + rule.match +
                       "'): fans_from and fan_in/fan_out are "
                       "alternatives");
    // A spec without expressions is a scheme now; one with them is checked for its syntax and
    // names here, and becomes a scheme per tensor.
    const auto check = [&](const std::string& spec) {
      if (has_expressions(spec))
        check_spec_expressions(spec, out.constants);
      else
        (void)parse_scheme(spec);
    };
    if (!rule.skip && rule.blocks.empty()) {
      try {
        check(rule.expect);
      } catch (const std::invalid_argument& error) {
        fail(source, where + " ('" + rule.match + "'): expect: " + error.what());
      }
    }
    for (std::size_t b = 0; b < rule.blocks.size(); ++b) {
      try {
        check(rule.blocks[b]);
      } catch (const std::invalid_argument& error) {
        fail(source,
             where + " ('" + rule.match + "'): blocks[" + std::to_string(b) + "]: " + error.what());
      }
    }
    out.rules.push_back(std::move(rule));
  }
  return out;
}

const tensor_rule* match_rule(const model_rules& rules, std::string_view name) noexcept {
  for (const auto& rule : rules.rules)
    if (glob_match(rule.match, name)) return &rule;
  return nullptr;
}

const tensor_rule* match_rule(const model_rules& rules, std::string_view name,
                              const tensor_shape& shape,
                              std::optional<verinit::dtype> type) noexcept {
  for (const auto& rule : rules.rules) {
    if (!glob_match(rule.match, name)) continue;
    if (rule.rank && *rule.rank != static_cast<std::int64_t>(shape.size())) continue;
    if (rule.shape && *rule.shape != shape) continue;
    if (rule.type && type != rule.type) continue;
    return &rule;
  }
  return nullptr;
}

std::optional<tensor_shape> fans_shape_of(
    const tensor_rule& rule, std::string_view name, verinit::layout tensor_layout,
    const std::function<std::optional<tensor_shape>(std::string_view)>& shape_of) {
  if (rule.fan_in > 0)
    return tensor_layout == verinit::layout::torch ? tensor_shape{rule.fan_out, rule.fan_in}
                                                   : tensor_shape{rule.fan_in, rule.fan_out};
  if (rule.fans_from.empty()) return std::nullopt;
  const auto dot = name.rfind('.');
  const std::string parent(dot == std::string_view::npos ? std::string_view()
                                                         : name.substr(0, dot));
  std::string other = rule.fans_from;
  // Each {parent} once, searching on after what replaced it (a name may hold "{parent}").
  for (std::size_t at = other.find("{parent}"); at != std::string::npos;
       at = other.find("{parent}", at + parent.size()))
    other.replace(at, 8, parent);
  auto shape = shape_of(other);
  if (!shape)
    throw std::invalid_argument("rule '" + rule.match + "': fans_from names '" + other +
                                "' for tensor '" + std::string(name) +
                                "', but there is no such tensor");
  return shape;
}

namespace {

// blocks: the tensor cut into equal parts along the rule's axis, each a case of its own spec
// (fans from the block's shape, or the rule's fans for every block). Blocks along axis 0 are
// views of the tensor; along another axis, gathered into a piece of the plan.
template <class Add>
void add_blocks(model_plan& plan, const model_tensor& t, const tensor_rule& rule,
                const tensor_shape& own, const std::optional<tensor_shape>& fans, const Add& add) {
  const auto rank = static_cast<std::int64_t>(own.size());
  const std::int64_t axis = rule.axis < 0 ? rule.axis + rank : rule.axis;
  const auto count = static_cast<std::int64_t>(rule.blocks.size());
  if (axis < 0 || axis >= rank)
    throw std::invalid_argument("rule '" + rule.match + "': axis " + std::to_string(rule.axis) +
                                " is outside tensor '" + t.name + "''s " + std::to_string(rank) +
                                " dims");
  const std::int64_t length = own[static_cast<std::size_t>(axis)];
  if (length % count != 0)
    throw std::invalid_argument("rule '" + rule.match + "': tensor '" + t.name + "''s dim " +
                                std::to_string(axis) + " (" + std::to_string(length) +
                                ") does not split into " + std::to_string(count) + " equal blocks");
  std::size_t outer = 1, inner = info(t.values->type).size;
  for (std::int64_t d = 0; d < axis; ++d)
    outer *= static_cast<std::size_t>(own[static_cast<std::size_t>(d)]);
  for (std::int64_t d = axis + 1; d < rank; ++d)
    inner *= static_cast<std::size_t>(own[static_cast<std::size_t>(d)]);
  tensor_shape block_shape = own;
  block_shape[static_cast<std::size_t>(axis)] = length / count;
  const std::size_t run = inner * static_cast<std::size_t>(length / count);  // bytes per outer
  const std::size_t stride = inner * static_cast<std::size_t>(length);
  for (std::int64_t b = 0; b < count; ++b) {
    const std::string name =
        t.name + "[block " + std::to_string(b + 1) + " of " + std::to_string(count) + "]";
    const std::size_t offset = static_cast<std::size_t>(b) * run;
    tensor_view values;
    if (outer == 1) {
      values = {t.values->type, block_shape, t.values->bytes.subspan(offset, run)};
    } else {
      auto piece = std::make_unique<tensor_buffer>();
      piece->type = t.values->type;
      piece->shape = block_shape;
      piece->bytes.reserve(outer * run);
      for (std::size_t o = 0; o < outer; ++o) {
        const auto* begin = t.values->bytes.data() + o * stride + offset;
        piece->bytes.insert(piece->bytes.end(), begin, begin + run);
      }
      values = piece->view();
      plan.pieces.push_back(std::move(piece));
    }
    add(name, rule.blocks[static_cast<std::size_t>(b)], values, fans.value_or(block_shape));
  }
}

}  // namespace

model_plan plan_model(std::span<const model_tensor> tensors, const model_rules& rules,
                      verinit::layout default_layout, std::string_view source) {
  model_plan plan;
  std::map<std::string, const model_tensor*, std::less<>> by_name;
  for (const auto& t : tensors) by_name.emplace(t.name, &t);
  const auto shape_of = [&](std::string_view name) -> std::optional<tensor_shape> {
    const auto it = by_name.find(name);
    return it == by_name.end() ? std::nullopt : std::optional(it->second->shape);
  };
  // (storage, shape and dtype) -> (the first tensor on it, whether it was skipped)
  std::map<std::pair<const void*, std::string>, std::pair<std::string, bool>> first_of;
  for (const auto& t : tensors) {
    if (!t.withheld.empty()) {
      plan.skipped.push_back(t.name);
      plan.notes.push_back("tensor '" + t.name + "' is not verified: " + t.withheld);
      continue;
    }
    // A tensor on the storage of one already planned is that tensor, whatever its rule.
    const auto key = std::pair{t.storage, verinit::to_string(t.shape) + t.dtype_name};
    if (t.storage != nullptr) {
      if (const auto it = first_of.find(key); it != first_of.end()) {
        if (it->second.second)
          plan.skipped.push_back(t.name);  // the same buffer as a skipped one
        else
          plan.tied.emplace_back(t.name, it->second.first);
        continue;
      }
    }
    const tensor_rule* rule =
        match_rule(rules, t.name, t.shape,
                   t.values ? std::optional<verinit::dtype>(t.values->type) : std::nullopt);
    if (rule == nullptr) {
      plan.unmatched.push_back(t.name);
      continue;
    }
    if (rule->skip) {
      plan.skipped.push_back(t.name);
      if (t.storage != nullptr) first_of.emplace(key, std::pair{t.name, true});
      continue;
    }
    if (!t.values)
      throw std::invalid_argument("tensor '" + t.name + "' is " + t.dtype_name +
                                  ", not a weight: its rule '" + rule->match +
                                  "' must say skip = true");
    if (t.values->size() == 0) {  // a 0 dim: nothing to verify
      plan.skipped.push_back(t.name);
      plan.notes.push_back("tensor '" + t.name + "' has no elements");
      continue;
    }
    if (t.part && (!rule->blocks.empty() || !rule->zero_rows.empty()))
      throw std::invalid_argument(
          "tensor '" + t.name + "' is held in parts, but its rule '" + rule->match + "' has " +
          (rule->blocks.empty() ? "zero_rows" : "blocks") + ", which need the whole tensor");
    if (t.part ? t.values->size() > element_count(t.shape.empty() ? tensor_shape{1} : t.shape)
               : element_count(t.shape.empty() ? tensor_shape{1} : t.shape) != t.values->size())
      throw std::invalid_argument("tensor '" + t.name + "' has shape [" +
                                  verinit::to_string(t.shape) + "] but " +
                                  std::to_string(t.values->size()) + " elements");
    if (t.storage != nullptr) first_of.emplace(key, std::pair{t.name, false});
    const verinit::layout tensor_layout =
        rule->tensor_layout.value_or(rules.tensor_layout.value_or(default_layout));
    std::optional<tensor_shape> fans;
    try {
      fans = fans_shape_of(*rule, t.name, tensor_layout, shape_of);
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(rules.source + ": " + error.what());
    }
    // A 0-dim tensor (a scalar) is one element.
    const tensor_shape own = t.shape.empty() ? tensor_shape{1} : t.shape;
    const auto add = [&](const std::string& name, const std::string& expect, tensor_view values,
                         const tensor_shape& shape) {
      case_request c;
      try {
        // Expressions see the tensor's own shape (shape[i], numel, rank) and the fans the
        // rule names (fans_from, fan_in/fan_out) where it names any.
        const std::string spec = has_expressions(expect)
                                     ? evaluate_spec(expect, {fans ? *fans : own, tensor_layout,
                                                              layer_of(t.name), &rules.constants})
                                     : expect;
        c.spec = case_spec::of(spec, shape, tensor_layout, values.type);
      } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(rules.source + ": tensor '" + name + "' (rule '" + rule->match +
                                    "'): " + error.what());
      }
      c.samples = values;
      c.source = std::string(source);
      c.tensor = name;
      c.rule = rule->match;
      c.origin = rule->origin;
      c.tolerance = rule->tolerance.value_or(rules.tolerance);
      plan.cases.push_back(std::move(c));
    };
    if (!rule->blocks.empty()) {
      add_blocks(plan, t, *rule, own, fans, add);
      continue;
    }
    if (rule->zero_rows.empty()) {
      add(t.name, rule->expect, *t.values, fans.value_or(own));
      continue;
    }
    // zero_rows: those rows against "zeros", the others against the law.
    const std::int64_t height = own[0];
    std::vector<bool> is_zero(static_cast<std::size_t>(height), false);
    std::string listed;
    for (const std::int64_t row : rule->zero_rows) {
      if (row < -height || row >= height)
        throw std::invalid_argument("rule '" + rule->match + "': zero_rows has " +
                                    std::to_string(row) + ", outside tensor '" + t.name + "''s " +
                                    std::to_string(height) + " rows");
      is_zero[static_cast<std::size_t>(row < 0 ? row + height : row)] = true;
    }
    const std::size_t row_bytes = t.values->bytes.size() / static_cast<std::size_t>(height);
    auto zero = std::make_unique<tensor_buffer>();
    auto rest = std::make_unique<tensor_buffer>();
    zero->type = rest->type = t.values->type;
    for (std::int64_t r = 0; r < height; ++r) {
      auto& into = is_zero[static_cast<std::size_t>(r)] ? *zero : *rest;
      const auto* begin = t.values->bytes.data() + static_cast<std::size_t>(r) * row_bytes;
      into.bytes.insert(into.bytes.end(), begin, begin + row_bytes);
      if (is_zero[static_cast<std::size_t>(r)])
        listed += (listed.empty() ? "" : ",") + std::to_string(r);
    }
    const auto rows_of = [&](const tensor_buffer& b) {
      tensor_shape s = own;
      s[0] = static_cast<std::int64_t>(b.bytes.size() / row_bytes);
      return s;
    };
    zero->shape = rows_of(*zero);
    rest->shape = rows_of(*rest);
    add(t.name + "[rows " + listed + "]", "zeros", zero->view(), zero->shape);
    if (!rest->bytes.empty()) add(t.name, rule->expect, rest->view(), fans.value_or(own));
    plan.pieces.push_back(std::move(zero));
    plan.pieces.push_back(std::move(rest));
  }
  return plan;
}

void add_plan(run_request& request, const model_plan& plan) {
  request.cases.insert(request.cases.end(), plan.cases.begin(), plan.cases.end());
  request.unmatched.insert(request.unmatched.end(), plan.unmatched.begin(), plan.unmatched.end());
  request.skipped.insert(request.skipped.end(), plan.skipped.begin(), plan.skipped.end());
  request.tied.insert(request.tied.end(), plan.tied.begin(), plan.tied.end());
  request.notes.insert(request.notes.end(), plan.notes.begin(), plan.notes.end());
}

}  // namespace verinit::verify
