// `verinit verify`: fills a run request from the options (a battery, one scheme, or a tensor
// of an .npy or .safetensors file), runs it through the library, prints a table, writes JSON and
// the report.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "processes.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/io/atomic_file.hpp"
#include "verinit/io/checkpoint.hpp"
#include "verinit/io/tensor_file.hpp"
#include "verinit/reports/json.hpp"
#include "verinit/reports/report.hpp"
#include "verinit/scheme.hpp"
#include "verinit/verify/distributed.hpp"
#include "verinit/verify/identify.hpp"
#include "verinit/verify/model.hpp"
#include "verinit/verify/runner.hpp"

namespace verinit::cli {
namespace {

struct verify_options {
  std::string battery = "standard";
  std::string scheme, shape, layout_text = "torch", dtype = "float32", input, tensor, expect, json,
                             report, input_dtype, rules, key;
  std::string memory = "2G";
  bool check_crc = false;
  std::int64_t samples = 10'000'000;
  verify::run_options run;
};

// A small text file (a rules document) whole; std::runtime_error naming it if unreadable.
std::string read_text(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw std::runtime_error("'" + path + "': no such file");
  if (std::filesystem::file_size(path, error) > (std::uintmax_t{16} << 20))
    throw std::runtime_error("'" + path + "': larger than 16 MiB, not a rules file");
  std::ifstream in(path, std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(in), {}};
  if (!in && !in.eof()) throw std::runtime_error("'" + path + "': cannot be read");
  return text;
}

std::string format_p(double p) {
  std::ostringstream text;
  text << std::setprecision(3) << p;
  return text.str();
}

void print_case(const verify::case_result& c, std::ostream& out) {
  out << (c.passed ? "PASS  " : "FAIL  ") << (c.tensor.empty() ? "" : c.tensor + ": ")
      << c.canonical() << "  ["
      << (c.samples_shape.empty() ? "" : to_string(c.samples_shape) + ", fans of ")
      << to_string(c.spec.shape) << " " << to_string(c.spec.tensor_layout) << " "
      << to_string(c.spec.type) << "]  n=" << c.n << "\n      law: " << c.formula << "\n";
  for (const auto& t : c.tests) {
    out << "      " << std::left << std::setw(18) << t.name << std::right << std::setw(14)
        << std::setprecision(6) << t.statistic << "  " << std::left << std::setw(12)
        << (t.exact ? std::string("exact") : "p=" + format_p(t.p_value)) << std::right
        << (t.informational ? "info"
            : t.passed      ? (t.suspicious ? "ok (suspicious: p < 1e-3)" : "ok")
                            : "FAIL")
        << "   " << t.note << "\n";
  }
  if (c.tolerance.any()) out << "      tolerance: " << verify::to_string(c.tolerance) << "\n";
  if (!c.diagnosis.empty()) out << "      diagnosis: " << c.diagnosis << "\n";
  if (!std::isnan(c.detectable_variance_error))
    out << "      detectable with 99% power: variance error " << std::setprecision(2)
        << 100 * c.detectable_variance_error << "%, mean shift " << c.detectable_mean_shift
        << " sd\n";
}

// "2G", "512M", "64K" (powers of 1024) or plain bytes.
std::int64_t parse_memory(const std::string& text) {
  const auto bad = [&] {
    detail::throw_invalid("verify", "--memory", "'" + text + "'",
                          "a size such as 2G, 512M or 1048576, at least 1M");
  };
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    bad();
  }
  const std::string suffix = text.substr(used);
  double scale = 1;
  if (suffix == "K" || suffix == "k")
    scale = 1024.0;
  else if (suffix == "M" || suffix == "m")
    scale = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "g")
    scale = 1024.0 * 1024 * 1024;
  else if (suffix == "T" || suffix == "t")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!suffix.empty())
    bad();
  const double bytes = value * scale;
  if (!(bytes >= 1024.0 * 1024) || !(bytes < 9.2e18)) bad();
  return static_cast<std::int64_t>(bytes);
}

int run_verify(verify_options o, const CLI::App& command) {
  // Under a launcher, MPI is joined first: an error on one rank from here on (a file another
  // host lacks) ends every rank (main's abort_all) instead of leaving them waiting.
  processes& world = processes::world();
  o.run.memory_bytes = parse_memory(o.memory);
  verify::check_options(o.run);
  const bool single = command.count("--scheme") > 0;
  const bool input = command.count("--input") > 0;
  if (single && input)
    detail::throw_invalid("verify", "options", "--scheme with --input", "one of them");
  if ((single || input) && command.count("--battery") > 0)
    detail::throw_invalid("verify", "options", "--battery with --scheme or --input", "one of them");
  const bool model = command.count("--rules") > 0;
  if (model && !input)
    detail::throw_invalid("verify", "--rules", "given", "used with --input (a checkpoint)");
  if (model && !o.expect.empty())
    detail::throw_invalid("verify", "options", "--expect with --rules", "one of them");
  if (model && !o.input_dtype.empty())
    detail::throw_invalid("verify", "options", "--input-dtype with --rules", "one of them");
  if (model && !o.tensor.empty())
    detail::throw_invalid("verify", "options", "--tensor with --rules", "one of them");
  if (input && !model && o.expect.empty())
    detail::throw_invalid("verify", "--expect", "missing", "given with --input (or --rules)");
  if (!input && !o.tensor.empty())
    detail::throw_invalid("verify", "--tensor", "given", "used only with --input");
  if (!input && !o.input_dtype.empty())
    detail::throw_invalid("verify", "--input-dtype", "given", "used only with --input");
  if (!input && !o.expect.empty())
    detail::throw_invalid("verify", "--expect", "given", "used only with --input");
  if (single && o.shape.empty())
    detail::throw_invalid("verify", "--shape", "missing", "given with --scheme");
  if (o.samples < 1) detail::throw_invalid("verify", "samples", std::to_string(o.samples), ">= 1");
  if (!o.report.empty() && !o.json.empty() && reports::lies_in_report(o.report, o.json))
    detail::throw_invalid("verify", "--json", "'" + o.json + "'",
                          "outside the --report directory (which is replaced whole)");
  o.run.summaries = !o.json.empty() || !o.report.empty();
  const layout tensor_layout = parse_layout(o.layout_text);
  verify::run_request request;
  // --input: read (or mapped) before any work, held through the run.
  std::optional<io::tensor_file> file;
  std::optional<io::checkpoint> checkpoint;
  std::optional<io::checkpoint_views> views;  // a checkpoint's tensors, held through the run
  verify::model_plan plan;
  if (model) {
    const verify::model_rules rules = verify::parse_rules(read_text(o.rules), o.rules);
    checkpoint = io::checkpoint::open(o.input, {o.key, o.check_crc});
    // Copies (inflated, swapped) within half the budget (the tests' working memory is the other
    // half), the rest in a temporary file: a checkpoint larger than --memory is fine.
    views.emplace(*checkpoint, o.run.memory_bytes / 2);
    std::vector<verify::model_tensor> tensors;
    for (std::size_t i = 0; i < checkpoint->tensors().size(); ++i) {
      const auto& e = checkpoint->tensors()[i];
      tensors.push_back({e.name, e.dtype_name, e.shape, (*views)[i], e.storage, e.withheld});
    }
    plan = verify::plan_model(tensors, rules, tensor_layout, o.input);
    plan.notes.insert(plan.notes.end(), checkpoint->notes().begin(), checkpoint->notes().end());
    verify::add_plan(request, plan);
  } else if (input) {
    std::optional<verinit::dtype> bits16;
    if (!o.input_dtype.empty()) {
      bits16 = parse_dtype(o.input_dtype);
      if (info(*bits16).size != 2)
        detail::throw_invalid("verify", "--input-dtype", "'" + o.input_dtype + "'",
                              "bfloat16 or float16 (the float format of 16-bit bit patterns)");
    }
    file = io::tensor_file::open(o.input, o.tensor, bits16, {o.key, o.check_crc});
    const tensor_view& samples = file->view();
    const tensor_shape shape = o.shape.empty() ? samples.shape : parse_shape(o.shape);
    verify::case_spec spec = verify::case_spec::of(o.expect, shape, tensor_layout, samples.type);
    request.cases.push_back({std::move(spec), samples, o.input});
  } else if (single) {
    request.cases.push_back({verify::case_spec::of(o.scheme, parse_shape(o.shape), tensor_layout,
                                                   parse_dtype(o.dtype), o.samples),
                             std::nullopt, "verinit"});
  } else {
    request = verify::battery_request(o.battery, o.run);
  }
  request.options = o.run;
  if (isatty(STDERR_FILENO) != 0) {
    // "[3/48] blocks.2.mlp.weight, 96.0 of 768.0 MiB": cases done of all, and of a file's
    // bytes those before this case.
    std::vector<double> bytes_before{0};
    for (const auto& c : request.cases)
      bytes_before.push_back(bytes_before.back() +
                             (c.samples ? static_cast<double>(c.samples->bytes.size()) : 0.0));
    request.progress = [&request, bytes_before](std::size_t index, std::size_t total,
                                                std::string_view what) {
      std::cerr << "\r[" << index + 1 << "/" << total << "] ";
      if (index < request.cases.size() && !request.cases[index].tensor.empty())
        what = request.cases[index].tensor;
      std::cerr << what;
      if (bytes_before.back() > 0)
        std::cerr << ", " << std::fixed << std::setprecision(1)
                  << bytes_before[std::min(index, bytes_before.size() - 1)] / 1048576.0 << " of "
                  << bytes_before.back() / 1048576.0 << " MiB" << std::defaultfloat;
      std::cerr << "\033[K" << std::flush;
    };
  }
  verify::run_result run;
  if (world.distributed()) {
    // Each rank its share of the work (verify/distributed.hpp), rank 0 folds them, decides and
    // writes everything; every rank exits with rank 0's code. A share is a status byte, then
    // the share or the rank's error.
    std::vector<std::byte> share{std::byte{0}};
    try {
      const auto bytes = verify::run_share(request, world.rank(), world.size());
      share.insert(share.end(), bytes.begin(), bytes.end());
    } catch (const std::exception& error) {
      const std::string what = "rank " + std::to_string(world.rank()) + " of " +
                               std::to_string(world.size()) + ": " + error.what();
      share.assign(1, std::byte{1});
      for (const char c : what) share.push_back(static_cast<std::byte>(c));
    }
    std::vector<std::vector<std::byte>> shares = world.gather(share);
    int status = 0;
    if (world.rank() == 0) {
      for (const auto& s : shares)
        if (status == 0 && s.at(0) != std::byte{0}) {
          std::cerr << "verinit: "
                    << std::string(reinterpret_cast<const char*>(s.data()) + 1, s.size() - 1)
                    << "\n";
          status = 2;
        }
      for (auto& s : shares) s.erase(s.begin());
    }
    if (world.broadcast(status) != 0) return 2;
    if (world.rank() != 0) return world.broadcast(0);
    run = verify::run_from_shares(request, shares);
  } else {
    run = verify::run(request);
  }
  verify::add_identification(run, request);
  if (request.progress) std::cerr << "\r\033[K" << std::flush;
  for (const auto& c : run.cases) print_case(c, std::cout);
  if (run.propagation) print_propagation(*run.propagation, std::cout);
  const auto list = [](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    std::cout << what << " (" << names.size() << "):";
    for (const auto& name : names) std::cout << " " << name;
    std::cout << "\n";
  };
  for (const auto& p : run.pooled) {
    std::cout << (p.passed ? "PASS  " : "FAIL  ") << "pooled rule '" << p.rule << "' over "
              << p.tensors.size() << " tensors (" << static_cast<std::int64_t>(p.n) << " weights):";
    for (const auto& t : p.tests)
      std::cout << " " << t.name
                << (t.name == "pooled_ks"                 ? " D "
                    : t.name == "pooled_anderson_darling" ? " A^2 "
                                                          : " z ")
                << format_p(t.statistic) << " (p_adj " << format_p(t.adjusted_p_value)
                << (t.informational ? ", info)"
                    : t.passed      ? ")"
                                    : ", FAIL)");
    std::cout << "\n      detectable with 99% power: variance error "
              << format_p(100 * p.detectable_variance_error) << "%, mean shift "
              << format_p(p.detectable_mean_shift) << " sd";
    if (!std::isnan(p.detectable_ks_distance))
      std::cout << "; for certain: a CDF error of KS distance "
                << format_p(p.detectable_ks_distance);
    std::cout << ", common to the rule's tensors\n";
    if (p.tolerance.any())
      std::cout << "      tolerance: " << verify::to_string(p.tolerance) << "\n";
  }
  list("FAIL  no rule matches", run.unmatched);
  list("skipped", run.skipped);
  for (const auto& [name, verified] : run.tied)
    std::cout << "tied  " << name << " = " << verified << " (verified once)\n";
  for (const auto& note : run.notes) std::cout << "note: " << note << "\n";
  std::size_t failed = 0, tests = 0;
  for (const auto& c : run.cases) {
    failed += !c.passed;
    tests += c.tests.size();
  }
  std::cout << (run.passed ? "PASSED" : "FAILED") << ": " << run.cases.size() - failed << " of "
            << run.cases.size() << (run.is_model() ? " tensors passed" : " schemes passed")
            << (run.unmatched.empty()
                    ? ""
                    : ", " + std::to_string(run.unmatched.size()) + " matched no rule")
            << ", " << tests << " tests (Holm-Bonferroni over " << run.family_size
            << " statistical tests at family-wise alpha " << run.options.alpha << ", seed "
            << run.options.seed << ")"
            << (run.propagation ? run.propagation->passed ? "; signal propagation passed"
                                                          : "; signal propagation FAILED"
                                : "")
            << (run.unmatched.empty()
                    ? ""
                    : "; " + std::to_string(run.unmatched.size()) + " tensors matched no rule")
            << "\n";
  if (!o.report.empty()) {
    reports::write_report(run, o.report, o.json);
    std::cout << "report: " << (std::filesystem::path(o.report) / "index.html").string() << "\n";
  } else if (!o.json.empty()) {
    io::write_file_atomically(o.json, reports::to_json(run));
  }
  return world.broadcast(run.passed ? 0 : 1);
}

}  // namespace

command add_list_tensors(CLI::App& app) {
  auto* command = app.add_subcommand(
      "list-tensors", "Print the tensors of a checkpoint: name, dtype, shape, bytes");
  auto path = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  command
      ->add_option("--input", *path,
                   "A checkpoint (.safetensors, .index.json, .npz, .pt/.pth/.bin, a directory) "
                   "or .npy file")
      ->required();
  command->add_option("--key", *key, "A .pt training checkpoint's key holding the state_dict");
  return [path, key] {
    if (std::filesystem::path(*path).extension() == ".npy") {
      const auto file = io::tensor_file::open(*path);
      std::cout << "(array)\t" << to_string(file.view().type) << "\t["
                << to_string(file.view().shape) << "]\t" << file.view().bytes.size() << "\n";
    } else {
      const auto file = io::checkpoint::open(*path, {*key});
      std::uint64_t bytes = 0;
      for (const auto& e : file.tensors()) {
        std::cout << e.name << "\t" << e.dtype_name << "\t[" << to_string(e.shape) << "]\t"
                  << e.bytes;
        if (e.storage != nullptr && e.storage != &e)
          std::cout << "\ttied to " << static_cast<const io::checkpoint_entry*>(e.storage)->name;
        else if (e.withheld.empty())
          bytes += e.bytes;  // the bytes of the distinct tensors read
        if (!e.withheld.empty()) std::cout << "\tnot verified: " << e.withheld;
        std::cout << "\n";
      }
      for (const auto& note : file.notes()) std::cout << "note: " << note << "\n";
      std::cout << file.tensors().size() << " tensors, " << bytes << " bytes (" << file.format()
                << ")\n";
    }
    return 0;
  };
}

command add_verify(CLI::App& app) {
  auto* command = app.add_subcommand("verify", "Verify schemes against their theoretical laws");
  auto o = std::make_shared<verify_options>();
  command
      ->add_option("--battery", o->battery,
                   "smoke (CI gate), standard or large (10^9 samples, two-level)")
      ->capture_default_str();
  command->add_option("--scheme", o->scheme, "Verify one scheme (with --shape)");
  command->add_option("--shape", o->shape, "Tensor shape D1,D2,... (fans come from it)");
  command->add_option("--layout", o->layout_text, "torch [out,in,*k] or keras [*k,in,out]")
      ->capture_default_str();
  command->add_option("--samples", o->samples, "Weights to draw for --scheme (whole tensors)")
      ->capture_default_str();
  command
      ->add_option("--dtype", o->dtype,
                   "float16, bfloat16, float32 or float64 (for --scheme; 16-bit: i.i.d. "
                   "schemes)")
      ->capture_default_str();
  command->add_option(
      "--input", o->input,
      "Verify the samples in this file (.npy, .safetensors, .index.json, .npz, .pt/.pth/.bin) "
      "with --expect, or every tensor of this checkpoint with --rules");
  command->add_option("--tensor", o->tensor,
                      "The tensor of a checkpoint --input (needed when it holds several)");
  command->add_option("--expect", o->expect, "The scheme the --input samples should follow");
  command->add_option("--key", o->key,
                      "A .pt training checkpoint's key holding the state_dict (default: the "
                      "root, else state_dict, model_state_dict, model or module)");
  command->add_flag("--check-crc", o->check_crc,
                    "Check each .pt storage's CRC-32 (zlib's: about 0.5 GB/s on a core, so off "
                    "by default; the pickle's is always checked)");
  command->add_option("--rules", o->rules,
                      "A rules file (TOML): verify every tensor of the --input checkpoint "
                      "against the law its rule names");
  command->add_option("--input-dtype", o->input_dtype,
                      "bfloat16 or float16: the format of an --input of 16-bit bit patterns "
                      "(.npy '<u2', '<i2', '<V2', '|V2'; safetensors U16, I16)");
  command->add_option("--seed", o->run.seed, "Seed (fixed by default: the gate is deterministic)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--threads", o->run.threads, "OpenMP threads (0: all)")
      ->capture_default_str();
  command->add_option("--alpha", o->run.alpha, "Family-wise error rate of the run")
      ->capture_default_str();
  command
      ->add_option("--memory", o->memory,
                   "Memory for a case's samples; an i.i.d. case beyond it is verified streaming "
                   "(bracketed KS and A^2), e.g. 512M, 2G")
      ->capture_default_str();
  command->add_option("--json", o->json, "Write the results as JSON to this file");
  command->add_option("--report", o->report,
                      "Write a report directory (index.html, summary.md, results.json, "
                      "junit.xml), replacing an earlier report there");
  return [o, command] { return run_verify(*o, *command); };
}

}  // namespace verinit::cli
