// verinit identify: which scheme of the catalogue do a tensor's values follow?
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/io/atomic_file.hpp"
#include "verinit/io/tensor_file.hpp"
#include "verinit/verify/identify.hpp"

namespace verinit::cli {
namespace {

struct identify_options {
  std::string input, tensor, input_dtype, shape, json, key;
  std::size_t top = 10;
  verify::run_options run;
};

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", x);
  return text;
}

int run_identify(const identify_options& o) {
  verify::check_options(o.run);
  std::optional<dtype> bits16;
  if (!o.input_dtype.empty()) {
    bits16 = parse_dtype(o.input_dtype);
    if (info(*bits16).size != 2)
      detail::throw_invalid("identify", "--input-dtype", "'" + o.input_dtype + "'",
                            "bfloat16 or float16 (the float format of 16-bit bit patterns)");
  }
  if (o.top < 1) detail::throw_invalid("identify", "--top", "0", ">= 1");
  const auto file = io::tensor_file::open(o.input, o.tensor, bits16, {o.key});
  const tensor_view& samples = file.view();
  const tensor_shape shape = o.shape.empty() ? samples.shape : parse_shape(o.shape);
  const auto candidates = verify::identify(samples, shape, o.run);
  std::cout << "identify " << (o.tensor.empty() ? o.input : o.tensor) << " [" << to_string(shape)
            << "] " << to_string(samples.type) << ", " << samples.size()
            << " values: " << candidates.size()
            << " candidate laws, best first (KS distance D; each verified "
            << "at alpha " << o.run.alpha << ")\n";
  for (std::size_t k = 0; k < candidates.size() && k < o.top; ++k) {
    const auto& c = candidates[k];
    std::cout << "  " << k + 1 << (c.passed ? "  PASS  " : "  FAIL  ") << c.scheme
              << (c.tensor_layout == layout::keras ? " [keras]" : "") << "  D "
              << number(c.statistic) << "  p " << number(c.p_value) << "  variance ratio "
              << number(c.variance_ratio) << "  " << c.law << "\n";
  }
  if (candidates.empty() || !candidates.front().passed)
    std::cout << "no scheme of the catalogue fits\n";
  if (!o.json.empty()) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& c : candidates) {
      const auto finite = [](double x) {
        return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json();
      };
      list.push_back({{"scheme", c.scheme},
                      {"layout", std::string(to_string(c.tensor_layout))},
                      {"law", c.law},
                      {"statistic", finite(c.statistic)},
                      {"p_value", finite(c.p_value)},
                      {"variance_ratio", finite(c.variance_ratio)},
                      {"passed", c.passed}});
    }
    const nlohmann::ordered_json doc{{"input", o.input},
                                     {"tensor", o.tensor},
                                     {"shape", shape},
                                     {"dtype", std::string(to_string(samples.type))},
                                     {"candidates", list}};
    io::write_file_atomically(o.json, doc.dump(2) + "\n");
  }
  return !candidates.empty() && candidates.front().passed ? 0 : 1;
}

}  // namespace

command add_identify(CLI::App& app) {
  auto* command = app.add_subcommand(
      "identify", "Rank the catalogue's schemes by how well a tensor's values fit them");
  auto o = std::make_shared<identify_options>();
  command
      ->add_option("--input", o->input,
                   "An .npy file or a checkpoint (.safetensors, .index.json, .npz, .pt/.pth/.bin)")
      ->required();
  command->add_option("--tensor", o->tensor, "The tensor of a checkpoint (when it holds several)");
  command->add_option("--key", o->key, "A .pt training checkpoint's key holding the state_dict");
  command->add_option("--shape", o->shape,
                      "The shape whose fans define the laws (default: the "
                      "tensor's)");
  command->add_option("--input-dtype", o->input_dtype,
                      "bfloat16 or float16: the format of 16-bit bit patterns");
  command->add_option("--top", o->top, "Candidates to print")->capture_default_str();
  command->add_option("--json", o->json, "Write every candidate as JSON here");
  command->add_option("--seed", o->run.seed, "Seed")->capture_default_str();
  command->add_option("--threads", o->run.threads, "OpenMP threads (0: all)")
      ->capture_default_str();
  command->add_option("--alpha", o->run.alpha, "Each candidate's family-wise error rate")
      ->capture_default_str();
  return [o] { return run_identify(*o); };
}

}  // namespace verinit::cli
