// A report directory: index.html, summary.md, results.json and junit.xml.
#pragma once

#include <filesystem>
#include <string>

#include "verinit/verify/runner.hpp"

namespace verinit::reports {

/// One self-contained HTML page (inline CSS and SVG, no script, nothing fetched): the overview
/// with failures first, signal propagation, and per scheme its plots and tables.
std::string to_html(const verify::run_result& run);

/// The overview and per-scheme tables in GitHub-flavoured Markdown.
std::string to_markdown(const verify::run_result& run);

/// JUnit XML: one testsuite per scheme (and one for signal propagation), one testcase per test,
/// a <failure> with the statistic, p-value and threshold for each failed one.
std::string to_junit(const verify::run_result& run);

/// The four files of a report, rendered: results.json (to_json), index.html, summary.md and
/// junit.xml.
struct report_texts {
  std::string json, html, markdown, junit;
};

/// Renders the four files, the JSON document beside the others on a second thread where the
/// run had one (the texts do not depend on it).
report_texts render_report(const verify::run_result& run);

/// Whether `path` is the report directory `directory` or lies inside it (links resolved): a
/// file there would be removed when the report replaces the directory whole. write_report
/// refuses such a `json_copy`; the command line checks its --json before the run.
bool lies_in_report(const std::filesystem::path& directory, const std::filesystem::path& path);

/// Writes the four files into `directory` atomically: they are written to a fresh sibling
/// directory which then replaces `directory` by rename, so an interrupted run leaves no
/// half-written report and a re-run replaces the old one whole. Where `json_copy` is not
/// empty, the results document is also written there (atomically, as
/// io::write_file_atomically: what `verinit verify --json` writes), from the same text, and
/// replaced only once all four files are written. Each text is written as soon as it is
/// rendered, the JSON document on one thread beside the others on a second where the run had
/// one. Throws std::invalid_argument if `directory` cannot be a report's (a file, or a
/// directory holding other files) or `json_copy` lies in it, std::runtime_error naming the
/// path on an I/O error (the old report and the old copy, if any, are then left as they were,
/// but for a failure between the two renames at the end: the copy is replaced first).
void write_report(const verify::run_result& run, const std::filesystem::path& directory,
                  const std::filesystem::path& json_copy = {});

/// The same for texts already rendered (a caller that also writes the JSON document alone
/// renders it once).
void write_report(const report_texts& texts, const std::filesystem::path& directory);

}  // namespace verinit::reports
