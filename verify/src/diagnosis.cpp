#include "verinit/verify/diagnosis.hpp"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include "verinit/dtype.hpp"
#include "verinit/shape.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::verify {
namespace {

const test_result* find_test(const case_result& c, std::string_view name) {
  for (const auto& t : c.tests)
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<double> value_of(const test_result* t, std::string_view key) {
  if (t == nullptr) return std::nullopt;
  for (const auto& [k, v] : t->values)
    if (k == key) return v;
  return std::nullopt;
}

std::string format(double x, int digits = 4) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*g", digits, x);
  return text;
}

struct signature {
  double ratio;
  std::string meaning;
};

// The variance ratios of the common bugs, for a case on `shape`.
std::vector<signature> signatures(const case_result& c) {
  // Truncation at +-2 sd: Var = 1 - 2 * 2 phi(2) / (2 Phi(2) - 1) = 0.773741 (and the 0.8796
  // correction is its square root, 0.879625).
  constexpr double truncated = 0.7737413;
  std::vector<signature> out{
      {2, "a gain of sqrt(2) too many (a ReLU gain where none is due, or the gain applied twice)"},
      {0.5, "a gain of sqrt(2) dropped"},
      {1.0 / 3, "a uniform bound of sqrt(1/fan) where sqrt(3/fan) is due (a std used as bound)"},
      {3, "a uniform bound of sqrt(3/fan) where sqrt(1/fan) is due"},
      {1.0 / 6, "kaiming_uniform with a = sqrt(5) (torch's Linear default) where a = 0 is due"},
      {6, "kaiming_uniform with a = 0 where a = sqrt(5) (torch's Linear default) is due"},
      {truncated, "truncated at +-2 sd without the 0.8796 std correction"},
      {1 / truncated, "the 0.8796 truncation correction applied to an untruncated law"}};
  if (c.spec.shape.size() >= 2 && c.spec.scheme.info().uses_fans) {
    const fans f = compute_fans(c.spec.shape, c.spec.tensor_layout);
    const double in = static_cast<double>(f.fan_in), out_fan = static_cast<double>(f.fan_out);
    const double avg = (in + out_fan) / 2;
    if (f.fan_in != f.fan_out) {
      const std::string swapped = "fan_in and fan_out swapped (the other layout, or mode)";
      out.push_back({in / out_fan, swapped});
      out.push_back({out_fan / in, swapped});
      const std::string averaged = "fan_avg where fan_in or fan_out is due, or the reverse";
      for (const double r : {in / avg, avg / in, out_fan / avg, avg / out_fan})
        out.push_back({r, averaged});
    }
    if (f.receptive_field > 1) {
      const double rf = static_cast<double>(f.receptive_field);
      const std::string kernel = "the receptive field (" + std::to_string(f.receptive_field) +
                                 ") left out of the fans, or counted twice";
      out.push_back({rf, kernel});
      out.push_back({1 / rf, kernel});
    }
  }
  return out;
}

// The fan a scheme's variance divides by: fan_avg for Xavier/Glorot, a `mode` parameter's,
// else fan_in (torch_linear, LeCun, Kaiming's default).
std::optional<double> law_fan(const case_result& c) {
  if (c.spec.shape.size() < 2 || !c.spec.scheme.info().uses_fans) return std::nullopt;
  const fans f = compute_fans(c.spec.shape, c.spec.tensor_layout);
  std::string_view mode = c.spec.scheme.name().starts_with("xavier") ? "fan_avg" : "fan_in";
  for (const auto& p : c.spec.scheme.params())
    if (p.key == "mode") mode = p.choice;
  if (mode == "fan_out") return static_cast<double>(f.fan_out);
  if (mode == "fan_avg")
    return (static_cast<double>(f.fan_in) + static_cast<double>(f.fan_out)) / 2;
  return static_cast<double>(f.fan_in);
}

// The N(0, 0.02^2) of the Hugging Face / GPT-2 convention: a std within 2% of 0.02, where the
// law's is not (the commonest re-initialisation in practice, checked before the fan ratios
// that could match it by chance).
std::string two_percent(double estimate, double ratio) {
  if (std::abs(std::log(std::sqrt(estimate) / 0.02)) >= 0.02 || std::abs(std::log(ratio)) < 0.04)
    return {};
  return "std " + format(std::sqrt(estimate), 3) +
         ": the N(0, 0.02^2) of GPT-2/BERT-style _init_weights (a tensor re-initialised by "
         "another convention)";
}

// A variance no signature explains, for a law from fans: the fan that would give it, named as
// the cause only where the tensor's shape has it (a product of some of its dims, within 1%);
// otherwise said as what the data show (another tensor's size, an RNN's input size, may give
// it, but this tensor cannot say).
std::string unknown_ratio(const case_result& c, double ratio) {
  const auto fan = law_fan(c);
  if (!fan) return {};
  const double implied = *fan / ratio;
  const auto& shape = c.spec.shape;
  if (shape.size() > 12) return {};
  for (std::uint32_t subset = 1; subset < (1u << shape.size()); ++subset) {
    double product = 1;
    for (std::size_t i = 0; i < shape.size(); ++i)
      if (subset >> i & 1u) product *= static_cast<double>(shape[i]);
    if (std::abs(product / implied - 1) < 0.01 && product != *fan)
      return "the law's with a fan of " + format(product, 12) + " in place of " + format(*fan, 6) +
             " (a fan from other dimensions of the shape)";
  }
  return "as a fan of " +
         (implied >= 2 ? "about " + format(std::round(implied), 12) : format(implied, 3)) +
         " in place of " + format(*fan, 6) +
         " would give; no dimension of this tensor's shape gives that fan";
}

}  // namespace

std::string diagnose(const case_result& c) {
  if (c.passed) return {};
  const test_result* support = find_test(c, "support");
  const test_result* variance = find_test(c, "variance");
  const test_result* mean = find_test(c, "mean");
  if (const auto non_finite = value_of(support, "non_finite"); non_finite && *non_finite > 0)
    return format(*non_finite, 12) +
           " non-finite values: uninitialised memory (torch.empty) or an overflow";
  const auto estimate = value_of(variance, "estimate");
  const auto expected = value_of(variance, "expected");
  // v / sigma^2; NaN without a variance test.
  const double ratio = estimate && expected && *expected > 0 ? *estimate / *expected : NAN;
  if (ratio > 1e6)
    return "values far beyond any plausible law (variance " + format(ratio, 3) +
           " times the law's): uninitialised memory?";
  const auto distinct = value_of(support, "distinct_values");
  const auto expected_distinct = value_of(support, "expected_distinct_values");
  const auto m = value_of(mean, "estimate");
  if (((distinct && *distinct == 1) || (estimate && *estimate == 0)) && m && *m == 0)
    return "every value is 0: left at zeros (a bias or weight never initialised, or a buffer "
           "never filled)";
  const bool all_equal =
      (distinct && *distinct == 1) || value_of(support, "all_equal_probability_bound").has_value();
  if (all_equal && m && *m == 0 && estimate && *estimate == 0)
    return "every value is 0: left at zeros (a bias or weight never initialised, or zeroed "
           "after it was drawn)";
  if (all_equal)
    return "every value is the same (one distinct value" +
           (m ? ", " + format(*m + value_of(mean, "expected").value_or(0)) : std::string()) +
           "): a constant where the law has none, or a buffer never filled";
  // A value exactly at a truncation bound the law reaches with probability 0 (the extreme
  // test says which): PyTorch's trunc_normal_ clamp atom, or a clamp of the code's own.
  if (const test_result* extreme = find_test(c, "extreme");
      extreme && !extreme->passed &&
      extreme->note.find("exactly at the law's") != std::string::npos)
    return extreme->note.substr(extreme->note.find("a value exactly at"));
  if (ratio < 1e-12) return "every value is at the law's mean: a constant";
  if (distinct && expected_distinct && *distinct < *expected_distinct / 4)
    return "only " + format(*distinct, 12) + " distinct values where " +
           format(*expected_distinct, 6) +
           " are expected: a lattice (a sampler computed at low precision)";
  // Values outside the support say the law is wrong; the variance ratio says how.
  const std::string outside = support && !support->passed
                                  ? "values outside the law's support (" + support->note + ")"
                                  : std::string();
  const auto with_outside = [&](const std::string& text) {
    return outside.empty() ? text : outside + "; " + text;
  };
  std::string shift;
  if (mean != nullptr && !mean->passed) {
    const auto mu = value_of(mean, "expected");
    shift = "mean " + (m ? format(*m) : std::string("?")) + " where " +
            (mu ? format(*mu) : std::string("?")) + " is due (z = " + format(mean->statistic, 3) +
            ")";
  }
  if (!std::isnan(ratio) && variance != nullptr && !variance->passed) {
    const signature* best = nullptr;
    double best_distance = 0.03;
    const auto known = signatures(c);
    for (const auto& s : known) {
      const double distance = std::abs(std::log(ratio / s.ratio));
      if (distance < best_distance) {
        best_distance = distance;
        best = &s;
      }
    }
    // PyTorch 1.13's bfloat16 normal_ (Box-Muller computed in bfloat16): variance 0.985 of the
    // law's, measured with Debian's torch (pytorch/pytorch#166853); a narrower window than the
    // others, since it is a 1.5% effect.
    if (!best && c.spec.type == dtype::bfloat16 && std::abs(ratio - 0.985) < 0.006)
      return with_outside(
          "variance " + format(ratio) +
          " times the law's, as a normal computed in bfloat16 gives (Box-Muller in bfloat16, "
          "tails clipped near 3.3 sd: PyTorch's bfloat16 normal_)" +
          (shift.empty() ? "" : "; " + shift));
    // What the data show first (the std's ratio, then the variance's), a cause only where a
    // signature, the shape or a convention supports one.
    std::string text =
        "std " + format(std::sqrt(ratio)) + " times the law's (variance " + format(ratio) + ")";
    if (const std::string convention = two_percent(*estimate, ratio); !convention.empty())
      text += ": " + convention;
    else if (best != nullptr)
      text += ": " + best->meaning;
    else if (const std::string other = unknown_ratio(c, ratio); !other.empty())
      text += ": " + other;
    else
      text += ": no known cause fits (no signature of a common bug)";
    return with_outside(shift.empty() ? text : text + "; " + shift);
  }
  if (!outside.empty()) return shift.empty() ? outside : outside + "; " + shift;
  if (!shift.empty()) return shift;
  for (const auto& t : c.tests)
    if (!t.passed && (t.name == "ks" || t.name == "anderson_darling" || t.name == "chi_square" ||
                      t.name == "extreme"))
      return "the law's shape differs (" + t.name +
             " fails) while its mean and variance fit: another family, clipped or heavy tails";
  for (const auto& t : c.tests)
    if (!t.passed) return "the " + t.name + " test fails: " + t.note;
  return "failed";
}

}  // namespace verinit::verify
