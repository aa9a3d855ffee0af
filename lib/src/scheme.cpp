// The scheme catalog and the spec-string parser.
#include "verinit/scheme.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "verinit/detail/check.hpp"

namespace verinit {
namespace {

using namespace std::string_view_literals;

constexpr std::array fan_modes{"fan_in"sv, "fan_out"sv};
constexpr std::array avg_modes{"fan_in"sv, "fan_out"sv, "fan_avg"sv};
constexpr std::array distributions{"truncated_normal"sv, "normal"sv, "untruncated_normal"sv,
                                   "uniform"sv};
constexpr std::array nonlinearities{"leaky_relu"sv,
                                    "relu"sv,
                                    "linear"sv,
                                    "conv1d"sv,
                                    "conv2d"sv,
                                    "conv3d"sv,
                                    "conv_transpose1d"sv,
                                    "conv_transpose2d"sv,
                                    "conv_transpose3d"sv,
                                    "sigmoid"sv,
                                    "tanh"sv,
                                    "selu"sv};

constexpr param_info gain_param[] = {{"gain", "1", {}, "scale factor"}};
constexpr param_info constant_params[] = {{"value", "", {}, "the value of every element"}};
constexpr param_info dirac_params[] = {{"groups", "1", {}, "number of conv groups"}};
constexpr param_info sparse_params[] = {
    {"sparsity", "", {}, "fraction of each column set to zero, in [0, 1]"},
    {"std", "0.01", {}, "std of the non-zero values"}};
constexpr param_info uniform_params[] = {{"a", "0", {}, "lower bound (included)"},
                                         {"b", "1", {}, "upper bound (excluded)"}};
constexpr param_info normal_params[] = {{"mean", "0", {}, "mean"}, {"std", "1", {}, "std > 0"}};
constexpr param_info truncated_params[] = {{"mean", "0", {}, "mean before truncation"},
                                           {"std", "1", {}, "std before truncation"},
                                           {"a", "-2", {}, "absolute lower bound"},
                                           {"b", "2", {}, "absolute upper bound"}};
constexpr param_info kaiming_params[] = {
    {"a", "0", {}, "negative slope of the rectifier after this layer"},
    {"mode", "fan_in", fan_modes, "fan_in preserves the forward variance, fan_out the backward"},
    {"nonlinearity", "leaky_relu", nonlinearities, "what calculate_gain is asked for"}};
constexpr param_info variance_scaling_params[] = {
    {"scale", "1", {}, "target variance times the fan"},
    {"mode", "fan_in", avg_modes, "which fan divides the scale"},
    {"distribution", "truncated_normal", distributions,
     "truncated_normal is cut at +-2 sigma with sigma = sqrt(scale/fan)/0.87962566103423978; "
     "normal (= Keras untruncated_normal) is not cut"}};

constexpr scheme_info catalog[] = {
    {"zeros", scheme_kind::zeros, "", {}, "W = 0", false},
    {"ones", scheme_kind::ones, "", {}, "W = 1", false},
    {"constant", scheme_kind::constant, "", constant_params, "W = value", false},
    {"eye", scheme_kind::eye, "", {}, "W[i][i] = 1, else 0 (2-D)", false},
    {"dirac", scheme_kind::dirac, "", dirac_params,
     "conv identity: W[g*out/groups + d, d, center...] = 1 (3 to 5 dims)", false},
    {"sparse", scheme_kind::sparse, "", sparse_params,
     "N(0, std^2) with exactly ceil(sparsity*rows) zeros per column (Martens 2010; 2-D)", false},
    {"uniform", scheme_kind::uniform, "", uniform_params, "U[a, b)", false},
    {"normal", scheme_kind::normal, "", normal_params, "N(mean, std^2)", false},
    {"truncated_normal", scheme_kind::truncated_normal, "", truncated_params,
     "N(mean, std^2) conditioned on [a, b]", false},
    {"xavier_uniform", scheme_kind::xavier_uniform, "", gain_param,
     "U(+-gain*sqrt(6/(fan_in+fan_out)))", true},
    {"xavier_normal", scheme_kind::xavier_normal, "", gain_param,
     "N(0, (gain*sqrt(2/(fan_in+fan_out)))^2), untruncated", true},
    {"kaiming_uniform", scheme_kind::kaiming_uniform, "", kaiming_params,
     "U(+-gain*sqrt(3/fan)), gain = calculate_gain(nonlinearity, a)", true},
    {"kaiming_normal", scheme_kind::kaiming_normal, "", kaiming_params,
     "N(0, (gain/sqrt(fan))^2), gain = calculate_gain(nonlinearity, a), untruncated", true},
    {"he_uniform", scheme_kind::he_uniform, "", {}, "U(+-sqrt(6/fan_in))", true},
    {"he_normal", scheme_kind::he_normal, "", {}, "N(0, 2/fan_in), untruncated", true},
    {"lecun_uniform", scheme_kind::lecun_uniform, "", {}, "U(+-sqrt(3/fan_in))", true},
    {"lecun_normal", scheme_kind::lecun_normal, "", {}, "N(0, 1/fan_in), untruncated", true},
    {"variance_scaling", scheme_kind::variance_scaling, "", variance_scaling_params,
     "Var = scale/fan: U(+-sqrt(3*scale/fan)), N(0, scale/fan), or TN(0, sigma^2) on "
     "[-2 sigma, 2 sigma], sigma = sqrt(scale/fan)/0.87962566103423978",
     true},
    {"orthogonal", scheme_kind::orthogonal, "", gain_param,
     "gain * Haar-random matrix with orthonormal rows or columns (QR of a Gaussian matrix, "
     "sign-corrected; Saxe et al. 2014, Mezzadri 2007)",
     false},
    {"glorot_uniform", scheme_kind::xavier_uniform, "xavier_uniform", gain_param,
     "= xavier_uniform", true},
    {"glorot_normal", scheme_kind::xavier_normal, "xavier_normal", gain_param, "= xavier_normal",
     true},
    {"torch_linear",
     scheme_kind::kaiming_uniform,
     "kaiming_uniform(a=2.23606797749979)",
     {},
     "U(+-1/sqrt(fan_in)): PyTorch's default nn.Linear/ConvNd weight init",
     true},
};

const scheme_info* find_info(std::string_view name) {
  for (const auto& info : catalog)
    if (info.name == name) return &info;
  return nullptr;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

double parse_number(std::string_view scheme_name, std::string_view key, std::string_view text) {
  double value = 0;
  const char* first = text.data();
  if (!text.empty() && text.front() == '+') ++first;  // from_chars rejects a leading '+'
  const auto [end, error] = std::from_chars(first, text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size())
    detail::throw_invalid(scheme_name, key, quoted(text), "a number");
  return value;
}

std::string join(std::span<const std::string_view> words) {
  std::string text;
  for (const auto word : words) text.append(text.empty() ? "" : ", ").append(word);
  return text;
}

// Parameter checks that do not depend on the tensor.
void validate(const scheme& s) {
  const std::string_view name = s.name();
  for (const auto& p : s.params())
    if (p.choice.empty()) detail::check_finite(name, p.key, p.number);
  switch (s.kind()) {
    case scheme_kind::dirac: {
      const double groups = s.number("groups");
      if (!(groups >= 1) || groups != std::floor(groups) || groups > 1e9)
        detail::throw_invalid(name, "groups", detail::format_number(groups), "an integer >= 1");
      break;
    }
    case scheme_kind::sparse:
      detail::check_probability(name, "sparsity", s.number("sparsity"));
      detail::check_positive(name, "std", s.number("std"));
      break;
    case scheme_kind::normal:
      detail::check_positive(name, "std", s.number("std"));
      break;
    case scheme_kind::uniform:
    case scheme_kind::truncated_normal: {
      if (s.kind() == scheme_kind::truncated_normal)
        detail::check_positive(name, "std", s.number("std"));
      const double a = s.number("a"), b = s.number("b");
      if (!(a < b))
        detail::throw_invalid(name, "a", detail::format_number(a),
                              "< b = " + detail::format_number(b));
      break;
    }
    case scheme_kind::xavier_uniform:
    case scheme_kind::xavier_normal:
    case scheme_kind::orthogonal:
      detail::check_positive(name, "gain", s.number("gain"));
      break;
    case scheme_kind::variance_scaling:
      detail::check_positive(name, "scale", s.number("scale"));
      break;
    default:
      break;
  }
}

}  // namespace

std::span<const scheme_info> scheme_catalog() noexcept { return catalog; }

std::string_view scheme::name() const noexcept { return info().name; }

const scheme_info& scheme::info() const noexcept {
  for (const auto& entry : catalog)
    if (entry.kind == kind_ && entry.alias_of.empty()) return entry;
  return catalog[0];  // unreachable: every kind has a canonical entry
}

double scheme::number(std::string_view key) const {
  for (const auto& p : params_)
    if (p.key == key && p.choice.empty()) return p.number;
  detail::throw_invalid(name(), "numeric parameter", quoted(key), "one of this scheme's numbers");
}

const std::string& scheme::choice(std::string_view key) const {
  for (const auto& p : params_)
    if (p.key == key && !p.choice.empty()) return p.choice;
  detail::throw_invalid(name(), "choice parameter", quoted(key), "one of this scheme's choices");
}

std::string scheme::spec() const {
  std::string text(name());
  if (params_.empty()) return text;
  text += '(';
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (i > 0) text += ',';
    text.append(params_[i].key).append("=");
    text +=
        params_[i].choice.empty() ? detail::format_number(params_[i].number) : params_[i].choice;
  }
  return text + ')';
}

namespace {

// Levenshtein distance (insertions, deletions, substitutions), two rows.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = std::min(
          {previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

scheme parse_scheme(std::string_view spec) {
  const std::string_view text = trim(spec);
  const std::size_t open = text.find('(');
  const std::string_view name = trim(text.substr(0, open));
  const scheme_info* info = find_info(name);
  if (info == nullptr) {
    // The nearest names (edit distance at most 3, and under half the name's length), not all
    // of them: "did you mean he_normal?".
    std::vector<std::pair<std::size_t, std::string_view>> near;
    for (const auto& entry : catalog) {
      const std::size_t d = edit_distance(name, entry.name);
      if (d <= 3 && 2 * d < std::max<std::size_t>(entry.name.size(), 2))
        near.emplace_back(d, entry.name);
    }
    std::stable_sort(near.begin(), near.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string names;
    for (std::size_t i = 0; i < near.size() && i < 3; ++i)
      names.append(i == 0 ? "" : " or ").append(near[i].second);
    detail::throw_invalid("scheme", "name", quoted(name),
                          near.empty() ? "a scheme of the catalogue (verinit list)"
                                       : "a scheme of the catalogue: did you mean " + names + "?");
  }
  std::string_view body;
  if (open != std::string_view::npos) {
    if (text.back() != ')')
      detail::throw_invalid(name, "spec", quoted(spec),
                            "NAME or NAME(key=value,...) ending in ')'");
    body = trim(text.substr(open + 1, text.size() - open - 2));
  }
  if (!info->alias_of.empty() && info->alias_of.find('(') != std::string_view::npos) {
    if (!body.empty())
      detail::throw_invalid(name, "parameters", quoted(body),
                            "none: it stands for " + std::string(info->alias_of));
    return parse_scheme(info->alias_of);
  }
  const scheme_info& canonical = *find_info(info->alias_of.empty() ? info->name : info->alias_of);

  std::vector<std::pair<std::string_view, std::string_view>> given;
  for (std::size_t start = 0; !body.empty() && start <= body.size();) {
    const std::size_t comma = std::min(body.find(',', start), body.size());
    const std::string_view item = trim(body.substr(start, comma - start));
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos)
      detail::throw_invalid(name, "parameter", quoted(item), "written key=value");
    const std::string_view key = trim(item.substr(0, equals));
    const std::string_view value = trim(item.substr(equals + 1));
    const bool known = std::any_of(canonical.params.begin(), canonical.params.end(),
                                   [&](const param_info& p) { return p.key == key; });
    if (!known) {
      std::string keys;
      for (const auto& p : canonical.params) keys.append(keys.empty() ? "" : ", ").append(p.key);
      detail::throw_invalid(
          name, "key", quoted(key),
          keys.empty() ? std::string("absent: this scheme takes no parameters") : "one of " + keys);
    }
    for (const auto& [seen, unused] : given)
      if (seen == key) detail::throw_invalid(name, "key", quoted(key), "given once");
    given.emplace_back(key, value);
    start = comma + 1;
  }

  scheme result;
  result.kind_ = canonical.kind;
  for (const auto& p : canonical.params) {
    std::string_view value = p.default_value;
    for (const auto& [key, text_value] : given)
      if (key == p.key) value = text_value;
    if (value.empty()) detail::throw_invalid(name, p.key, "missing", "given (it has no default)");
    scheme::param param{std::string(p.key), 0, {}};
    if (p.choices.empty()) {
      param.number = parse_number(name, p.key, value);
    } else {
      if (std::find(p.choices.begin(), p.choices.end(), value) == p.choices.end())
        detail::throw_invalid(name, p.key, quoted(value), "one of " + join(p.choices));
      param.choice = value == "untruncated_normal" ? "normal" : std::string(value);
    }
    result.params_.push_back(std::move(param));
  }
  validate(result);
  return result;
}

}  // namespace verinit
