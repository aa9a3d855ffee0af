// Writing a report directory atomically.
#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28)
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>

#include "verinit/reports/json.hpp"
#include "verinit/reports/report.hpp"

namespace verinit::reports {
namespace {

namespace fs = std::filesystem;

constexpr const char* report_files[] = {"index.html", "summary.md", "results.json", "junit.xml"};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write '" + path.string() + "'");
}

// Replacing a directory removes what was in it: only an empty one or an earlier report.
bool replaceable(const fs::path& directory) {
  const std::set<std::string> ours(std::begin(report_files), std::end(report_files));
  for (const auto& entry : fs::directory_iterator(directory))
    if (!entry.is_regular_file() || !ours.count(entry.path().filename().string())) return false;
  return true;
}

}  // namespace

void write_report(const verify::run_result& run, const fs::path& requested) {
  const fs::path directory = fs::absolute(requested).lexically_normal();
  fs::path target = directory;
  if (!target.has_filename()) target = target.parent_path();  // "out/" names "out"
  const fs::path parent = target.parent_path();
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    throw std::invalid_argument("report directory is '" + requested.string() +
                                "', but must name a directory to create or replace");
  std::error_code error;
  const auto status = fs::symlink_status(target, error);
  const bool exists = fs::exists(status);
  if (exists && !fs::is_directory(status))
    throw std::invalid_argument("report directory '" + requested.string() +
                                "' exists and is not a directory");
  if (exists && !replaceable(target))
    throw std::invalid_argument("report directory '" + requested.string() +
                                "' exists and holds files other than a verinit report; expected "
                                "a new or empty directory, or an earlier report");
  fs::create_directories(parent, error);
  if (error)
    throw std::runtime_error("cannot create '" + parent.string() + "': " + error.message());

  static std::atomic<unsigned> counter{0};
  const std::string suffix = std::to_string(getpid()) + "-" + std::to_string(counter++);
  const fs::path temporary = parent / ("." + name + ".tmp-" + suffix);
  try {
    fs::create_directory(temporary);
    write_file(temporary / "results.json", to_json(run));
    write_file(temporary / "index.html", to_html(run));
    write_file(temporary / "summary.md", to_markdown(run));
    write_file(temporary / "junit.xml", to_junit(run));
    if (!exists) {
      fs::rename(temporary, target);
    } else if (renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) ==
               0) {
      fs::remove_all(temporary);  // now holds the old report
    } else {
      // No atomic exchange on this file system: move the old report aside first.
      const fs::path old = parent / ("." + name + ".old-" + suffix);
      fs::rename(target, old);
      fs::rename(temporary, target);
      fs::remove_all(old);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(temporary, error);
    throw std::runtime_error("cannot write the report '" + requested.string() +
                             "': " + e.code().message());
  } catch (...) {
    fs::remove_all(temporary, error);
    throw;
  }
}

}  // namespace verinit::reports
