#include "verinit/verify/identify.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string_view>

namespace verinit::verify {
namespace {

const test_result* find_test(const case_result& c, std::string_view name) {
  for (const auto& t : c.tests)
    if (t.name == name) return &t;
  return nullptr;
}

double value_of(const test_result* t, std::string_view key) {
  if (t != nullptr)
    for (const auto& [k, v] : t->values)
      if (k == key) return v;
  return NAN;
}

std::string format(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", x);
  return text;
}

std::string describe(const candidate& c) {
  return c.scheme + (c.tensor_layout == layout::keras ? " in keras layout" : "");
}

}  // namespace

std::vector<std::string> identify_specs(const tensor_shape& shape) {
  std::vector<std::string> specs;
  if (shape.size() >= 2)
    specs = {"torch_linear", "xavier_uniform", "xavier_normal", "kaiming_uniform",
             "kaiming_uniform(mode=fan_out)", "kaiming_normal", "kaiming_normal(mode=fan_out)",
             // gain 1 with fan_out: torch's spelling of U(+-sqrt(3/fan_out)) and N(0,
             // 1/fan_out), before Keras's lecun_* in Keras layout (the same laws on a torch
             // tensor) can name them.
             "kaiming_uniform(mode=fan_out,nonlinearity=linear)",
             "kaiming_normal(mode=fan_out,nonlinearity=linear)", "lecun_uniform", "lecun_normal",
             "variance_scaling(scale=2,mode=fan_in,distribution=truncated_normal)",
             "variance_scaling(scale=1,mode=fan_avg,distribution=truncated_normal)",
             "variance_scaling(scale=1,mode=fan_in,distribution=truncated_normal)", "orthogonal"};
  // The fixed laws people use: N(0, s^2) for s = 0.02 (GPT-2/BERT, timm, ViT), 0.01, 0.001,
  // 0.1 (torch's trunc_normal_(std=s), cut at +-2 absolute, is the same law to double
  // precision for these s: 20 sd and more, so the normal stands for it); timm's +-2 sd cut at
  // 0.02; N(0, 1) (torch's Embedding); Keras's Embedding U(+-0.05).
  for (const char* spec : {"normal(std=0.02)", "truncated_normal(std=0.02,a=-0.04,b=0.04)",
                           "normal(std=0.01)", "normal(std=0.001)", "normal(std=0.1)", "normal",
                           "uniform(a=-0.05,b=0.05)", "zeros", "ones"})
    specs.emplace_back(spec);
  // U(+-1/sqrt(shape[0])): EfficientNet's, MobileNet's and others' classifier (1/sqrt of the
  // out_features), and a bias's torch default from its own length.
  if (!shape.empty() && shape[0] > 0) {
    char text[96];
    const double bound = 1 / std::sqrt(static_cast<double>(shape[0]));
    std::snprintf(text, sizeof text, "uniform(a=%.17g,b=%.17g)", -bound, bound);
    specs.emplace_back(text);
  }
  return specs;
}

std::vector<candidate> identify(const tensor_view& samples, const tensor_shape& shape,
                                const run_options& options) {
  check_options(options);
  std::vector<candidate> out;
  std::set<std::string> laws;
  const bool keras_differs = shape.size() >= 2 && compute_fans(shape, layout::torch).fan_in !=
                                                      compute_fans(shape, layout::keras).fan_in;
  for (const layout l : {layout::torch, layout::keras})
    for (const auto& spec : identify_specs(shape)) {
      if (l == layout::keras && !keras_differs) continue;
      run_request request;
      request.options = options;
      request.options.summaries = false;
      try {
        request.cases.push_back({case_spec::of(spec, shape, l, samples.type), samples, "identify"});
        run_result result = run(request);
        const case_result& c = result.cases.at(0);
        // The law itself, after the formula's derivation ("...: N(0, 0.0447^2)"): one
        // candidate per law, the torch spelling first.
        const auto colon = c.formula.rfind(": ");
        if (!laws.insert(colon == std::string::npos ? c.formula : c.formula.substr(colon + 2))
                 .second)
          continue;
        const test_result* ks = find_test(c, "ks");
        const test_result* variance = find_test(c, "variance");
        candidate k{spec, l, c.formula, 0, 1, NAN, c.passed};
        if (ks != nullptr) {
          k.statistic = ks->statistic;
          k.p_value = ks->p_value;
        } else {
          k.statistic = c.passed ? 0 : 1;
          k.p_value = c.passed ? 1 : 0;
        }
        const double estimate = value_of(variance, "estimate");
        const double expected = value_of(variance, "expected");
        if (expected > 0) k.variance_ratio = estimate / expected;
        out.push_back(std::move(k));
      } catch (const std::invalid_argument&) {
        // The spec does not fit this shape (orthogonal on a vector) or these samples.
      }
    }
  std::stable_sort(out.begin(), out.end(), [](const candidate& a, const candidate& b) {
    if (a.passed != b.passed) return a.passed;
    // NaN distances (non-finite samples) last.
    if (std::isnan(a.statistic) || std::isnan(b.statistic)) return !std::isnan(a.statistic);
    return a.statistic < b.statistic;
  });
  return out;
}

void add_identification(run_result& run, const run_request& request) {
  // The candidates see the tensor's first 2^14 values (the fans from its whole shape; the
  // i.i.d. specs take any count), so two dozen of them cost about one verification of a
  // 2^19-value tensor whatever the tensor's size: a failing run stays within ~2x a passing one.
  // At 2^14 values KS separates laws whose variances differ by ~10% (D's 1e-6 critical value
  // ~0.02); closer ones are reported as fitting, which the statement's "first ... values" says.
  constexpr std::int64_t identified = std::int64_t{1} << 14;
  for (std::size_t i = 0; i < run.cases.size() && i < request.cases.size(); ++i) {
    case_result& c = run.cases[i];
    const auto& samples = request.cases[i].samples;
    if (c.passed || !samples || samples->size() == 0) continue;
    const std::int64_t count = std::min(samples->size(), identified);
    const tensor_view prefix{
        samples->type, count == samples->size() ? samples->shape : tensor_shape{count},
        samples->bytes.first(static_cast<std::size_t>(count) * info(samples->type).size)};
    auto candidates = identify(prefix, samples->shape, run.options);
    // The case's own law failed on every value: no candidate with that law is its answer.
    const auto colon = c.formula.rfind(": ");
    const std::string own = colon == std::string::npos ? c.formula : c.formula.substr(colon + 2);
    std::erase_if(candidates, [&](const candidate& k) {
      const auto at = k.law.rfind(": ");
      return (at == std::string::npos ? k.law : k.law.substr(at + 2)) == own;
    });
    if (candidates.empty()) continue;
    const candidate& best = candidates.front();
    const std::string seen =
        count == samples->size() ? "" : " on its first " + std::to_string(count) + " values";
    c.diagnosis += best.passed ? "; the samples fit " + describe(best) + seen + " (KS D " +
                                     format(best.statistic) + ")"
                               : "; no scheme of the catalogue fits" + seen +
                                     " (closest: " + describe(best) + ", KS D " +
                                     format(best.statistic) + ")";
  }
}

}  // namespace verinit::verify
