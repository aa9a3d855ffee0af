// verinit: sample, list and (with the verifier) verify weight initializers.
//
// Exit codes: 0 success, 1 a verification failed, 2 a usage or input error (one line on
// stderr naming the bad value and what was expected). No exception escapes main.
#include <exception>
#include <iostream>
#include <map>
#include <new>
#include <stdexcept>

#include "commands.hpp"
#include "processes.hpp"
#include "verinit/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"verinit: verified neural-network weight initializers", "verinit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "verinit " + std::string(verinit::version));
  std::map<const CLI::App*, verinit::cli::command> commands;
  for (auto add : {verinit::cli::add_verify, verinit::cli::add_report, verinit::cli::add_propagate,
                   verinit::cli::add_sample, verinit::cli::add_list, verinit::cli::add_demo,
                   verinit::cli::add_list_tensors, verinit::cli::add_identify}) {
    auto run = add(app);
    commands[app.get_subcommands({}).back()] = run;
  }
  // Name an unknown command (CLI11 alone would only say that a subcommand is required).
  const auto is_command = [&](const char* word) {
    for (const auto* sub : app.get_subcommands({}))
      if (sub->get_name() == word) return true;
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !is_command(argv[1])) {
    std::cerr << "verinit: command is '" << argv[1]
              << "', but must be one of verify, report, propagate, sample, list, demo, "
                 "list-tensors"
              << " (see --help)\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    std::cerr << "verinit: " << error.what() << " (see --help)\n";
    return 2;
  }
  // An error on one rank of an MPI run may leave the others waiting for its share: it ends them
  // all with its code (processes::abort_all does nothing outside an MPI run).
  const auto fail = [](const std::string& message, int code) {
    std::cerr << "verinit: " << message << '\n';
    verinit::cli::processes::abort_all(code);
    return code;
  };
  try {
    for (const auto& [subcommand, run] : commands)
      if (subcommand->parsed()) return run();
    return 2;
  } catch (const std::invalid_argument& error) {
    return fail(error.what(), 2);
  } catch (const std::runtime_error& error) {
    return fail(error.what(), 2);
  } catch (const std::bad_alloc&) {
    return fail("out of memory", 2);
  } catch (const std::exception& error) {
    return fail(std::string("internal error: ") + error.what(), 3);
  }
}
