// A rule's scheme spec whose numbers may be expressions over the tensor it is applied to: the
// one place where a rule's text becomes a law's numbers, for the command line, the Python
// package and the recorder's TOML alike.
//
//   truncated_normal(std=sqrt(1/fan_in), a=-2, b=2)          ViT's conv_proj
//   uniform(a=-1/sqrt(shape[0]), b=1/sqrt(shape[0]))          EfficientNet's classifier
//   normal(std=0.02/sqrt(2*n_layer))                          GPT-2's residual projections
//   normal(std={0.02/sqrt(2*(layer+1))})                      braces: an expression anywhere
//
// A numeric parameter (the scheme catalogue says which) whose value is not a number is an
// expression, as is anything in {...}. Names: fan_in, fan_out (as torch computes them, or
// Keras in layout keras; a tensor of >= 2 dims), receptive_field, numel, rank, shape[i] (i
// below the rank), layer (the name's first numeric component), and the rules file's
// [constants]; functions sqrt, pow, min, max, exp, ln, log, abs and muparser's others;
// + - * / ^ (or **) and parentheses. Parsed and evaluated by muparser (Berg, muparser 2.3), not by
// hand.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "verinit/shape.hpp"

namespace verinit::verify {

/// Named constants of a rules file's [constants] table.
using expression_constants = std::map<std::string, double, std::less<>>;

/// What an expression may name: the tensor it is evaluated for.
struct expression_scope {
  tensor_shape shape;
  verinit::layout tensor_layout = verinit::layout::torch;
  std::optional<double> layer;  ///< the name's first numeric component
  const expression_constants* constants = nullptr;
};

/// The names an expression may use besides the constants (for messages and for checking a
/// [constants] table: a constant may not shadow one).
bool is_expression_variable(std::string_view name) noexcept;

/// Checks every expression of `spec` without a tensor: syntax, names (variables, `constants`,
/// functions), shape[i] written as an index. Throws std::invalid_argument "the expression
/// 'TEXT': PROBLEM at column C".
void check_spec_expressions(std::string_view spec, const expression_constants& constants);

/// `spec` with each expression replaced by its value (17 significant digits), for the tensor
/// of `scope`. Throws std::invalid_argument naming the expression, the column and the problem:
/// a syntax error, an unknown name, shape[i] beyond the rank, fans of a tensor of fewer than 2
/// dims, layer for a name without a numeric component, a value that is not finite.
std::string evaluate_spec(std::string_view spec, const expression_scope& scope);

/// Whether `spec` holds an expression at all (then each tensor gets its own law).
bool has_expressions(std::string_view spec);

}  // namespace verinit::verify
