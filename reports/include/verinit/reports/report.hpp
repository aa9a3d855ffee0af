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

/// Writes the four files into `directory` atomically: they are written to a fresh sibling
/// directory which then replaces `directory` by rename, so an interrupted run leaves no
/// half-written report and a re-run replaces the old one whole. Where `json_copy` is not
/// empty, the results document is also written there (atomically, as
/// io::write_file_atomically: what `verinit verify --json` writes), from the same text.
/// Each text is written as soon as it is rendered, the JSON document on one thread beside the
/// others on a second where the run had one. Throws std::invalid_argument if `directory`
/// cannot be a report's (a file, or a directory holding other files), std::runtime_error
/// naming the path on an I/O error (the old report, if any, is then left as it was).
void write_report(const verify::run_result& run, const std::filesystem::path& directory,
                  const std::filesystem::path& json_copy = {});

/// The same for texts already rendered (a caller that also writes the JSON document alone
/// renders it once).
void write_report(const report_texts& texts, const std::filesystem::path& directory);

}  // namespace verinit::reports
