// Initialization schemes as values, and the spec strings that name them.
//
// A scheme is written `NAME` or `NAME(key=value,...)`, the same spelling in the C++ API, the
// CLI, the JSON and the reports. Names and keys follow PyTorch (torch.nn.init) and Keras
// (keras.initializers). A scheme holds only its parameters, every one resolved (defaults
// filled in) and checked; it never owns an engine. The catalog below is the single source
// of the names, parameters, defaults and formulas, so `verinit list` cannot drift from the
// parser.
//
// References: Glorot & Bengio 2010 (xavier_*), He et al. 2015 (kaiming_*, he_*), LeCun et
// al. 1998 (lecun_*), Saxe et al. 2014 and Mezzadri 2007 (orthogonal), Martens 2010
// (sparse), Keras VarianceScaling (variance_scaling).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace verinit {

enum class scheme_kind {
  zeros,
  ones,
  constant,
  eye,
  dirac,
  sparse,
  uniform,
  normal,
  truncated_normal,
  xavier_uniform,
  xavier_normal,
  kaiming_uniform,
  kaiming_normal,
  he_uniform,
  he_normal,
  lecun_uniform,
  lecun_normal,
  variance_scaling,
  orthogonal,
};

/// One parameter of a scheme, as `verinit list` shows it.
struct param_info {
  std::string_view key;
  std::string_view default_value;             ///< spelling of the default; empty when required
  std::span<const std::string_view> choices;  ///< empty for a number
  std::string_view description;
};

/// One entry of the catalog: a canonical scheme or an alias of one.
struct scheme_info {
  std::string_view name;
  scheme_kind kind;
  std::string_view alias_of;  ///< spec this name stands for; empty for a canonical name
  std::span<const param_info> params;
  std::string_view formula;
  bool uses_fans;  ///< needs fan_in/fan_out, hence a tensor of >= 2 dims or explicit fans
};

/// Every scheme and alias, canonical names first.
std::span<const scheme_info> scheme_catalog() noexcept;

/// A parsed, validated scheme: its kind and every parameter with its value.
class scheme {
 public:
  struct param {
    std::string key;
    double number = 0;   ///< value of a numeric parameter
    std::string choice;  ///< value of a choice parameter (empty for numbers)
    friend bool operator==(const param&, const param&) = default;
  };

  scheme_kind kind() const noexcept { return kind_; }
  /// Canonical name ("xavier_uniform" also for "glorot_uniform").
  std::string_view name() const noexcept;
  /// The catalog entry of the canonical name.
  const scheme_info& info() const noexcept;
  const std::vector<param>& params() const noexcept { return params_; }
  /// Value of numeric parameter `key`. Throws std::invalid_argument if there is none.
  double number(std::string_view key) const;
  /// Value of choice parameter `key`. Throws std::invalid_argument if there is none.
  const std::string& choice(std::string_view key) const;
  /// Canonical spec with every parameter: parse_scheme(s.spec()) == s.
  std::string spec() const;

  friend bool operator==(const scheme&, const scheme&) = default;

 private:
  friend scheme parse_scheme(std::string_view);
  scheme_kind kind_ = scheme_kind::zeros;
  std::vector<param> params_;
};

/// Parses and validates a spec such as "kaiming_normal(mode=fan_out, nonlinearity=relu)".
/// Throws std::invalid_argument naming the unknown scheme, unknown or repeated key,
/// malformed or out-of-range value (NaN or non-positive std, a >= b, ...).
scheme parse_scheme(std::string_view spec);

}  // namespace verinit
