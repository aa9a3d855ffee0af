// Rendering a report (the JSON document beside the other files) and writing its directory
// atomically (io::staged_directory), refusing to replace a directory that holds anything but
// an earlier report.
#include <algorithm>
#include <exception>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>

#include "verinit/io/atomic_file.hpp"
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

// Renders the four texts of `run`, the JSON document (about what the other three cost together)
// on one thread beside the others on a second where the run had one, handing each to
// `json(text)` or `other(name, text)` as soon as it is rendered; an exception on either thread
// is rethrown once both are done.
template <class Json, class Other>
void render_in_parallel(const verify::run_result& run, const Json& json, const Other& other) {
  std::exception_ptr failure[2];
#pragma omp parallel sections num_threads(run.threads_used > 1 ? 2 : 1)
  {
#pragma omp section
    {
      try {
        json(to_json(run));
      } catch (...) {
        failure[0] = std::current_exception();
      }
    }
#pragma omp section
    {
      try {
        other("index.html", to_html(run));
        other("summary.md", to_markdown(run));
        other("junit.xml", to_junit(run));
      } catch (...) {
        failure[1] = std::current_exception();
      }
    }
  }
  for (const auto& f : failure)
    if (f) std::rethrow_exception(f);
}

}  // namespace

report_texts render_report(const verify::run_result& run) {
  report_texts texts;
  render_in_parallel(
      run, [&](std::string text) { texts.json = std::move(text); },
      [&](std::string_view name, std::string text) {
        (name == "index.html"   ? texts.html
         : name == "summary.md" ? texts.markdown
                                : texts.junit) = std::move(text);
      });
  return texts;
}

namespace {

// The directory a report request names, checked: one that may be created or replaced.
fs::path report_target(const fs::path& requested) {
  const fs::path directory = fs::absolute(requested).lexically_normal();
  fs::path target = directory;
  if (!target.has_filename()) target = target.parent_path();  // "out/" names "out"
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
  return target;
}

}  // namespace

bool lies_in_report(const fs::path& directory, const fs::path& path) {
  // As absolute paths with links resolved (weakly: neither need exist), without a trailing
  // separator.
  const auto resolved = [](const fs::path& p) {
    fs::path normal = fs::absolute(p).lexically_normal();
    if (!normal.has_filename()) normal = normal.parent_path();
    return fs::weakly_canonical(normal);
  };
  const fs::path report = resolved(directory), inside = resolved(path);
  return std::mismatch(report.begin(), report.end(), inside.begin(), inside.end()).first ==
         report.end();
}

void write_report(const verify::run_result& run, const fs::path& requested,
                  const fs::path& json_copy) {
  if (!json_copy.empty() && lies_in_report(requested, json_copy))
    throw std::invalid_argument("results copy '" + json_copy.string() +
                                "' is in the report directory '" + requested.string() +
                                "', which is replaced whole; expected a path outside it");
  io::staged_directory staged(report_target(requested));
  std::optional<io::staged_file> copy;
  if (!json_copy.empty()) copy.emplace(json_copy);
  // Each text is written as soon as it is rendered: the writing of one overlaps the rendering
  // of the other. Nothing replaces anything until all are written.
  render_in_parallel(
      run,
      [&](const std::string& json) {
        write_file(staged.path() / "results.json", json);
        if (copy) copy->write(json);
      },
      [&](std::string_view name, const std::string& text) {
        write_file(staged.path() / name, text);
      });
  if (copy) copy->commit();
  staged.commit();
}

void write_report(const report_texts& texts, const fs::path& requested) {
  io::staged_directory staged(report_target(requested));
  write_file(staged.path() / "results.json", texts.json);
  write_file(staged.path() / "index.html", texts.html);
  write_file(staged.path() / "summary.md", texts.markdown);
  write_file(staged.path() / "junit.xml", texts.junit);
  staged.commit();
}

}  // namespace verinit::reports
