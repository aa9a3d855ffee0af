// The verinit executable's subcommands: each registers its options on a CLI11 app and returns
// the function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>

#include "verinit/verify/propagation.hpp"

namespace verinit::cli {

using command = std::function<int()>;

command add_sample(CLI::App& app);
command add_list(CLI::App& app);
command add_demo(CLI::App& app);
command add_verify(CLI::App& app);
command add_list_tensors(CLI::App& app);
command add_identify(CLI::App& app);
command add_report(CLI::App& app);
command add_propagate(CLI::App& app);

/// The signal-propagation table, one configuration a line.
void print_propagation(const verify::propagation_result& result, std::ostream& out);

}  // namespace verinit::cli
