// The verinit executable's subcommands: each registers its options on a CLI11 app and returns
// the function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace verinit::cli {

using command = std::function<int()>;

command add_sample(CLI::App& app);
command add_list(CLI::App& app);
command add_demo(CLI::App& app);
command add_verify(CLI::App& app);

}  // namespace verinit::cli
