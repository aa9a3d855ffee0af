// Scheme specs with expressions (see spec_expression.hpp): the spec's parameters split at the
// top level, the numeric ones that are not numbers evaluated by muparser with the tensor's
// names bound, and {...} anywhere the same.
#include "verinit/verify/spec_expression.hpp"

#include <muParser.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "verinit/scheme.hpp"

namespace verinit::verify {
namespace {

constexpr std::array variables{"fan_in", "fan_out", "receptive_field", "numel", "rank", "layer"};
// shape[i] is read as the variable shape_i_ (the same length, so columns stay the text's).
constexpr int most_dims = 32;

[[noreturn]] void fail(std::string_view expression, const std::string& problem) {
  throw std::invalid_argument("the expression '" + std::string(expression) + "': " + problem);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

// shape[12] -> shape_12_ and ** -> ^; the largest index written, -1 for none.
std::string with_shape_variables(std::string_view text, int& largest) {
  // The variables shape[i] becomes are not names an expression may write (the rules fuzzer
  // found that "shape_5_" would read a placeholder for a tensor of rank 2).
  if (const auto at = text.find("shape_"); at != std::string_view::npos)
    fail(text,
         "unknown name starting 'shape_' (column " + std::to_string(at + 1) + "): write shape[i]");
  std::string out(text);
  largest = -1;
  for (std::size_t at = out.find("shape["); at != std::string::npos;
       at = out.find("shape[", at + 1)) {
    std::size_t end = at + 6;
    while (end < out.size() && std::isdigit(static_cast<unsigned char>(out[end]))) ++end;
    if (end == at + 6 || end >= out.size() || out[end] != ']')
      fail(text,
           "shape must be indexed by a number, shape[0] (column " + std::to_string(at + 1) + ")");
    const int index = std::stoi(out.substr(at + 6, end - at - 6).substr(0, 9));
    if (index >= most_dims)
      fail(text, "shape[" + std::to_string(index) + "] is beyond any tensor's rank");
    largest = std::max(largest, index);
    out[at + 5] = '_';
    out[end] = '_';
  }
  // Python's power operator, as muparser's ^ (and a space: the columns stay the text's).
  for (std::size_t at = out.find("**"); at != std::string::npos; at = out.find("**", at + 2))
    out.replace(at, 2, "^ ");
  return out;
}

struct bindings {
  double fan_in = 1, fan_out = 1, receptive_field = 1, numel = 1, rank = 0, layer = 1;
  std::array<double, most_dims> shape{};
};

// The value of `text`: with the scope's names, or (scope null) with placeholders to check it.
double evaluate(std::string_view text, const expression_scope* scope,
                const expression_constants& constants) {
  int largest = -1;
  const std::string rewritten = with_shape_variables(text, largest);
  bindings b;
  b.shape.fill(1);
  std::optional<std::string> no_fans;
  if (scope != nullptr) {
    const tensor_shape& shape = scope->shape;
    if (largest >= static_cast<int>(shape.size()))
      fail(text, "shape[" + std::to_string(largest) + "] is beyond the tensor's rank " +
                     std::to_string(shape.size()) + " (shape [" + to_string(shape) + "])");
    for (std::size_t i = 0; i < shape.size(); ++i) b.shape[i] = static_cast<double>(shape[i]);
    b.rank = static_cast<double>(shape.size());
    b.numel = 1;
    for (const auto d : shape) b.numel *= static_cast<double>(d);
    if (shape.size() >= 2) {
      const fans f = compute_fans(shape, scope->tensor_layout);
      b.fan_in = static_cast<double>(f.fan_in);
      b.fan_out = static_cast<double>(f.fan_out);
      b.receptive_field = static_cast<double>(f.receptive_field);
    } else {
      no_fans = "a tensor of " + std::to_string(shape.size()) + " dim" +
                (shape.size() == 1 ? "" : "s") + " has no fans";
    }
    b.layer = scope->layer.value_or(NAN);
  }
  try {
    mu::Parser parser;
    parser.DefineVar("fan_in", &b.fan_in);
    parser.DefineVar("fan_out", &b.fan_out);
    parser.DefineVar("receptive_field", &b.receptive_field);
    parser.DefineVar("numel", &b.numel);
    parser.DefineVar("rank", &b.rank);
    parser.DefineVar("layer", &b.layer);
    for (int i = 0; i < most_dims; ++i)
      parser.DefineVar("shape_" + std::to_string(i) + "_", &b.shape[static_cast<std::size_t>(i)]);
    for (const auto& [name, value] : constants) parser.DefineConst(name, value);
    parser.DefineFun("pow", static_cast<double (*)(double, double)>(std::pow));
    parser.SetExpr(rewritten);
    if (scope != nullptr) {
      for (const auto& [name, unused] : parser.GetUsedVar()) {
        if (no_fans && (name == "fan_in" || name == "fan_out" || name == "receptive_field"))
          fail(text, "uses " + name + ", but " + *no_fans);
        if (name == "layer" && !scope->layer)
          fail(text, "uses layer, but the tensor's name has no numeric component");
      }
    }
    const double value = parser.Eval();
    if (scope != nullptr && !std::isfinite(value))
      fail(text, "is " + std::to_string(value) + " for this tensor (shape [" +
                     to_string(scope->shape) + "]), not a finite number");
    return value;
  } catch (const mu::Parser::exception_type& error) {
    std::string message = error.GetMsg();
    // muparser's messages end in a full stop and count from 0.
    if (!message.empty() && message.back() == '.') message.pop_back();
    if (const auto found = message.find(" found at position"); found != std::string::npos)
      message.erase(found);
    const auto pos = static_cast<long long>(error.GetPos());
    fail(text, message + (pos >= 0 ? " (column " + std::to_string(pos + 1) + ")" : ""));
  }
}

const scheme_info* info_of(std::string_view name) {
  for (const auto& entry : scheme_catalog())
    if (entry.name == name) return &entry;
  return nullptr;
}

// The parameters of `body` split at commas outside parentheses, brackets and braces.
std::vector<std::string_view> split_top(std::string_view body) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(body.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(body.substr(start));
  return out;
}

// Rewrites `spec` with each expression's value (`value_of` gives it), or only visits them.
template <class ValueOf>
std::string rewrite(std::string_view spec, ValueOf&& value_of) {
  const auto format = [](double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return std::string(text);
  };
  // Braces first, anywhere.
  std::string text;
  std::size_t at = 0;
  while (at < spec.size()) {
    const std::size_t open = spec.find('{', at);
    if (open == std::string_view::npos) break;
    const std::size_t close = spec.find('}', open);
    if (close == std::string_view::npos)
      throw std::invalid_argument("the spec '" + std::string(spec) + "' has a '{' without '}'");
    text += spec.substr(at, open - at);
    text += format(value_of(spec.substr(open + 1, close - open - 1)));
    at = close + 1;
  }
  text += spec.substr(at);
  // Then the numeric parameters that are not numbers.
  const std::string_view whole = trim(text);
  const std::size_t open = whole.find('(');
  if (open == std::string_view::npos || whole.back() != ')') return std::string(whole);
  const scheme_info* info = info_of(trim(whole.substr(0, open)));
  if (info == nullptr) return std::string(whole);  // parse_scheme names the unknown scheme
  std::string out(whole.substr(0, open + 1));
  bool first = true;
  for (const std::string_view item : split_top(whole.substr(open + 1, whole.size() - open - 2))) {
    if (!first) out += ',';
    first = false;
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      out += item;
      continue;
    }
    const std::string_view key = trim(item.substr(0, equals));
    const std::string_view value = trim(item.substr(equals + 1));
    const auto param = std::find_if(info->params.begin(), info->params.end(),
                                    [&](const param_info& p) { return p.key == key; });
    const bool numeric = param != info->params.end() && param->choices.empty();
    out.append(key).append("=");
    out += numeric && !value.empty() && !is_number(value) ? format(value_of(value))
                                                          : std::string(value);
  }
  return out + ')';
}

}  // namespace

bool is_expression_variable(std::string_view name) noexcept {
  return std::find(variables.begin(), variables.end(), name) != variables.end() || name == "shape";
}

bool has_expressions(std::string_view spec) {
  bool any = false;
  (void)rewrite(spec, [&](std::string_view) {
    any = true;
    return 0.0;
  });
  return any;
}

void check_spec_expressions(std::string_view spec, const expression_constants& constants) {
  (void)rewrite(spec, [&](std::string_view e) { return evaluate(e, nullptr, constants); });
}

std::string evaluate_spec(std::string_view spec, const expression_scope& scope) {
  static const expression_constants none;
  const expression_constants& constants = scope.constants ? *scope.constants : none;
  return rewrite(spec, [&](std::string_view e) { return evaluate(e, &scope, constants); });
}

}  // namespace verinit::verify
