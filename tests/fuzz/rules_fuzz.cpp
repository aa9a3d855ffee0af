// libFuzzer target for the rules reader (TOML through tomlplusplus, then verinit's checks):
// any bytes must give rules or a std::invalid_argument, never a crash or a sanitizer report;
// the rules it accepts match names, and their expressions evaluate (muparser) for tensors of
// a few shapes, without one either.
// Build and run (clang): cmake --preset fuzz && cmake --build --preset fuzz &&
//   build/fuzz/tests/fuzz/rules_fuzz -max_total_time=600 -rss_limit_mb=512 tests/fuzz/corpus_rules
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "verinit/scheme.hpp"
#include "verinit/verify/model.hpp"
#include "verinit/verify/spec_expression.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto rules = verinit::verify::parse_rules(text, "fuzz.toml");
    // Every accepted tolerance is one check_tolerance accepts (in [0, 1), not NaN).
    const auto in_range = [](const verinit::verify::tolerance& t) {
      for (const double v : {t.variance, t.mean, t.ks})
        if (!(v >= 0 && v < 1)) return false;
      return true;
    };
    if (!in_range(rules.tolerance)) __builtin_trap();
    for (const auto& rule : rules.rules) {
      if (rule.tolerance && !in_range(*rule.tolerance)) __builtin_trap();
      // Every accepted rule has a glob, and an expect or blocks (not both) unless it skips.
      if (rule.match.empty() || (!rule.skip && rule.expect.empty() && rule.blocks.empty()) ||
          (!rule.expect.empty() && !rule.blocks.empty()))
        __builtin_trap();
      (void)verinit::verify::glob_match(rule.match, "transformer.h.11.attn.c_proj.weight");
      (void)verinit::verify::glob_match(rule.match, rule.match);
      for (const auto& shape : {verinit::tensor_shape{768, 3, 16, 16}, verinit::tensor_shape{10},
                                verinit::tensor_shape{}}) {
        try {
          const std::string spec = verinit::verify::evaluate_spec(
              rule.expect, {shape, verinit::layout::torch, 3.0, &rules.constants});
          (void)verinit::parse_scheme(spec);
        } catch (const std::invalid_argument&) {
        }
      }
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
