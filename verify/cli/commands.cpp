// `verinit sample`, `verinit list` and `verinit demo`.
#include "commands.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "verinit/detail/check.hpp"
#include "verinit/io/npy.hpp"
#include "verinit/io/safetensors.hpp"
#include "verinit/verinit.hpp"

namespace verinit::cli {
namespace {

// Options that describe a tensor and how to sample it, shared by several commands.
struct tensor_options {
  std::string scheme_spec;
  std::string shape_text;
  std::string layout_text = "torch";
  std::string dtype = "float32";
  std::uint64_t seed = 0;
  int threads = 0;
};

void add_tensor_options(CLI::App& command, tensor_options& o) {
  command.add_option("--scheme", o.scheme_spec, "Scheme spec, e.g. 'kaiming_normal(mode=fan_out)'")
      ->required();
  command.add_option("--shape", o.shape_text, "Tensor shape D1,D2[,...]")->required();
  command
      .add_option("--layout", o.layout_text, "Axis layout: torch [out,in,*k] or keras [*k,in,out]")
      ->capture_default_str();
  command.add_option("--dtype", o.dtype, "float16, bfloat16, float32 or float64")
      ->capture_default_str();
  // NonNegativeNumber: CLI11 would otherwise wrap "-1" to 2^64 - 1 for an unsigned option.
  command.add_option("--seed", o.seed, "Seed (the same seed gives the same bits)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command.add_option("--threads", o.threads, "OpenMP threads (0: all)")->capture_default_str();
}

std::vector<std::byte> allocate(std::int64_t count, dtype type) {
  const double bytes = static_cast<double>(count) * static_cast<double>(info(type).size);
  try {
    if (bytes < 9e18) return std::vector<std::byte>(static_cast<std::size_t>(bytes));
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  detail::throw_invalid("sample", "element count", std::to_string(count),
                        "small enough to fit in memory");
}

// The output format, from the file's extension: .npy (float16/32/64: numpy has no bfloat16)
// or .safetensors (any of the four). Checked before anything is sampled.
enum class output_format { npy, safetensors };

output_format output_format_of(const std::string& out, dtype type) {
  const std::string extension = std::filesystem::path(out).extension().string();
  if (extension == ".safetensors") return output_format::safetensors;
  if (extension != ".npy")
    detail::throw_invalid("sample", "--out", "'" + out + "'",
                          "a file ending in .npy or .safetensors");
  if (info(type).npy_descr.empty())
    detail::throw_invalid("sample", "--dtype", std::string(to_string(type)) + " with --out .npy",
                          "float16, float32 or float64 (numpy has no " +
                              std::string(to_string(type)) +
                              "; write it with --out FILE.safetensors)");
  return output_format::npy;
}

int run_sample(const tensor_options& o, const std::string& out, const std::string& name) {
  const scheme s = parse_scheme(o.scheme_spec);
  const tensor_shape shape = parse_shape(o.shape_text);
  fill_options options;
  options.layout = parse_layout(o.layout_text);
  options.seed = o.seed;
  options.threads = o.threads;
  const dtype type = parse_dtype(o.dtype);
  const output_format format = output_format_of(out, type);
  if (format == output_format::safetensors && (name.empty() || name == "__metadata__"))
    detail::throw_invalid("sample", "--name", "'" + name + "'",
                          "a tensor name (not empty, not __metadata__)");
  // Refuse an unwritable destination before spending time on sampling.
  const std::filesystem::path path(out);
  const std::filesystem::path parent =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(parent))
    throw std::runtime_error("cannot write '" + out + "': directory '" + parent.string() +
                             "' does not exist");
  if (std::filesystem::is_directory(path))
    throw std::runtime_error("cannot write '" + out + "': it is a directory");
  std::vector<std::byte> weights = allocate(element_count(shape), type);
  const mutable_tensor_view view{type, shape, weights};
  fill(view, s, options);
  if (format == output_format::npy) {
    io::write_npy(path, view);
  } else {
    const std::pair<std::string, tensor_view> tensor{name, view};
    io::write_safetensors(path, std::span(&tensor, 1),
                          {{"verinit_scheme", s.spec()},
                           {"verinit_seed", std::to_string(o.seed)},
                           {"verinit_layout", o.layout_text}});
  }
  return 0;
}

int run_list(bool json) {
  if (json) {
    nlohmann::ordered_json schemes = nlohmann::ordered_json::array();
    for (const auto& info : scheme_catalog()) {
      nlohmann::ordered_json params = nlohmann::ordered_json::array();
      for (const auto& p : info.params) {
        nlohmann::ordered_json param{{"key", p.key},
                                     {"type", p.choices.empty() ? "number" : "choice"},
                                     {"required", p.default_value.empty()},
                                     {"description", p.description}};
        if (!p.default_value.empty()) param["default"] = p.default_value;
        if (!p.choices.empty())
          param["choices"] = std::vector<std::string>(p.choices.begin(), p.choices.end());
        params.push_back(param);
      }
      nlohmann::ordered_json entry{{"name", info.name},
                                   {"formula", info.formula},
                                   {"uses_fans", info.uses_fans},
                                   {"params", params}};
      if (!info.alias_of.empty()) entry["alias_of"] = info.alias_of;
      schemes.push_back(entry);
    }
    std::cout << nlohmann::ordered_json{{"schemes", schemes}}.dump(2) << '\n';
    return 0;
  }
  for (const auto& info : scheme_catalog()) {
    std::cout << info.name;
    if (!info.alias_of.empty()) std::cout << "  (alias of " << info.alias_of << ")";
    std::cout << "\n    " << info.formula << '\n';
    for (const auto& p : info.params) {
      std::cout << "    " << p.key << " = "
                << (p.default_value.empty() ? std::string("<required>")
                                            : std::string(p.default_value));
      if (!p.choices.empty()) {
        std::cout << "  {";
        for (std::size_t i = 0; i < p.choices.size(); ++i)
          std::cout << (i ? "|" : "") << p.choices[i];
        std::cout << '}';
      }
      std::cout << "  " << p.description << '\n';
    }
  }
  return 0;
}

// A first look at every scheme: sample it and compare mean and std with the law lib/ resolves.
// (Not a verification: the verifier, with its independent theory, is `verinit verify`.)
int run_demo(std::uint64_t seed, std::int64_t samples) {
  const tensor_shape dense{samples / 1000, 1000};
  std::cout << std::left << std::setw(36) << "scheme" << std::right << std::setw(12) << "n"
            << std::setw(13) << "mean" << std::setw(13) << "std" << std::setw(13) << "law std"
            << std::setw(12) << "M/s" << '\n';
  for (const auto& info : scheme_catalog()) {
    if (!info.alias_of.empty()) continue;
    std::string spec(info.name);
    tensor_shape shape = dense;
    if (info.kind == scheme_kind::constant) spec = "constant(value=0.5)";
    if (info.kind == scheme_kind::sparse) spec = "sparse(sparsity=0.1)";
    if (info.kind == scheme_kind::dirac) shape = {64, 64, 3, 3};
    if (info.kind == scheme_kind::orthogonal) shape = {512, 1024};
    const scheme s = parse_scheme(spec);
    const auto start = std::chrono::steady_clock::now();
    fill_options options;
    options.seed = seed;
    const auto weights = sample<float>(shape, s, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double sum = 0, squares = 0;
    for (const float w : weights) sum += w;
    const double mean = sum / static_cast<double>(weights.size());
    for (const float w : weights) squares += (w - mean) * (w - mean);
    const double std = std::sqrt(squares / static_cast<double>(weights.size()));
    std::string law_std = "-";
    if (is_elementwise(s.kind())) {
      const element_law law = resolve_law(s, compute_fans(shape, layout::torch));
      double expected = 0;
      if (const auto* u = std::get_if<uniform_law>(&law))
        expected = (u->b - u->a) / std::sqrt(12.0);
      if (const auto* n = std::get_if<normal_law>(&law)) expected = n->std;
      if (const auto* t = std::get_if<truncated_normal_law>(&law))
        expected = t->std * truncated_normal_2sigma_std;
      std::ostringstream text;
      text << std::setprecision(6) << expected;
      law_std = text.str();
    }
    std::cout << std::left << std::setw(36) << spec << std::right << std::setw(12) << weights.size()
              << std::setw(13) << std::setprecision(5) << mean << std::setw(13) << std
              << std::setw(13) << law_std << std::setw(12) << std::fixed << std::setprecision(0)
              << static_cast<double>(weights.size()) / seconds / 1e6 << std::defaultfloat << '\n';
  }
  std::cout << "(law std of truncated_normal assumes the +-2 sigma cut of the defaults)\n";
  return 0;
}

}  // namespace

command add_sample(CLI::App& app) {
  auto* command =
      app.add_subcommand("sample", "Sample a weight tensor and write it as .npy or .safetensors");
  auto options = std::make_shared<tensor_options>();
  auto out = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>("weight");
  add_tensor_options(*command, *options);
  command->add_option("--out", *out, "Output file: X.npy or X.safetensors")->required();
  command->add_option("--name", *name, "The tensor's name in a .safetensors file")
      ->capture_default_str();
  return [options, out, name] { return run_sample(*options, *out, *name); };
}

command add_list(CLI::App& app) {
  auto* command = app.add_subcommand("list", "List every scheme with its parameters and formula");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Machine-readable output");
  return [json] { return run_list(*json); };
}

command add_demo(CLI::App& app) {
  auto* command = app.add_subcommand("demo", "Sample every scheme once and show its moments");
  auto seed = std::make_shared<std::uint64_t>(0);
  auto samples = std::make_shared<std::int64_t>(1000000);
  command->add_option("--seed", *seed, "Seed")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--samples", *samples, "Weights per scheme (>= 1000)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1000}, std::int64_t{1} << 40));
  return [seed, samples] { return run_demo(*seed, *samples); };
}

}  // namespace verinit::cli
