// `verinit report` (a report from a results JSON) and `verinit propagate`.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "verinit/detail/check.hpp"
#include "verinit/io/atomic_file.hpp"
#include "verinit/reports/detail/format.hpp"
#include "verinit/reports/json.hpp"
#include "verinit/reports/report.hpp"

namespace verinit::cli {

void print_propagation(const verify::propagation_result& p, std::ostream& out) {
  const auto& o = p.options;
  out << (p.passed ? "PASS  " : "FAIL  ") << "signal propagation: " << o.depth
      << "-layer MLP, width " << o.width << ", batch " << o.batch << ", " << o.seeds
      << " seeds; r = Var(z_" << o.depth << ")/Var(z_10), stable iff 0.5 <= r <= 2\n";
  for (const auto& c : p.cases) {
    out << "      " << std::left << std::setw(26) << c.config.label << " r=" << std::setw(10)
        << reports::detail::format_number(c.forward_ratio, 3) << " grad=" << std::setw(10)
        << reports::detail::format_number(c.backward_ratio, 3) << std::setw(11) << c.verdict
        << (c.passed ? "ok" : "FAIL") << " (expected " << c.config.expected << ")" << std::right
        << "\n";
  }
}

command add_report(CLI::App& app) {
  auto* command = app.add_subcommand("report", "Write a report directory from a results JSON file");
  auto from = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  command->add_option("--from", *from, "results.json of `verinit verify --json` or a report")
      ->required();
  command->add_option("--out", *out, "Report directory to write (replaced whole)")->required();
  return [from, out] {
    std::ifstream in(*from, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read '" + *from + "'");
    std::ostringstream text;
    text << in.rdbuf();
    verify::run_result run;
    try {
      run = reports::from_json(text.str());
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("'" + *from + "': " + error.what());
    }
    reports::write_report(run, *out);
    std::cout << "report: " << (std::filesystem::path(*out) / "index.html").string() << "\n";
    return 0;
  };
}

command add_propagate(CLI::App& app) {
  auto* command = app.add_subcommand(
      "propagate", "Signal propagation through a deep MLP initialized by each scheme");
  auto o = std::make_shared<verify::propagation_options>();
  auto json = std::make_shared<std::string>(), report = std::make_shared<std::string>();
  command->add_option("--depth", o->depth, "Layers (>= 20)")->capture_default_str();
  command->add_option("--width", o->width, "Units per layer")->capture_default_str();
  command->add_option("--batch", o->batch, "Inputs pushed through")->capture_default_str();
  command->add_option("--seeds", o->seeds, "Networks per configuration, averaged")
      ->capture_default_str();
  command->add_option("--seed", o->seed, "Seed")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--threads", o->threads, "OpenMP threads (0: all)")->capture_default_str();
  command->add_option("--json", *json, "Write the results as JSON to this file");
  command->add_option("--report", *report, "Write a report directory");
  return [o, json, report] {
    verify::run_request request;
    request.options.seed = o->seed;
    request.options.threads = o->threads;
    request.propagation = *o;
    const verify::run_result run = verify::run(request);
    print_propagation(*run.propagation, std::cout);
    if (!json->empty()) io::write_file_atomically(*json, reports::to_json(run));
    if (!report->empty()) {
      reports::write_report(run, *report);
      std::cout << "report: " << (std::filesystem::path(*report) / "index.html").string() << "\n";
    }
    return run.passed ? 0 : 1;
  };
}

}  // namespace verinit::cli
