// Files and directories that appear whole or not at all.
//
// Every writer of verinit (the .npy writer, the CLI's JSON, the report directory) goes through
// these, so a reader never sees a half-written file and an interrupted run leaves the previous
// version in place.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <span>
#include <string_view>

namespace verinit::io {

/// Writes the concatenation of `parts` to `path`: into a temporary sibling, then renamed over
/// `path` (rename(2) is atomic within a file system). Throws std::runtime_error naming the path
/// and the failure; the temporary file is then removed and `path` left as it was.
void write_file_atomically(const std::filesystem::path& path,
                           std::initializer_list<std::span<const std::byte>> parts);
/// The same for a number of parts known only at run time (a header and each tensor's bytes).
void write_file_atomically(const std::filesystem::path& path,
                           std::span<const std::span<const std::byte>> parts);
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

/// A file written into a temporary sibling of `target` and renamed over it by commit(): what
/// write_file_atomically does in one call, for a writer that decides only later whether the
/// new file replaces the old one (a report's copy of its results, committed with the report).
/// Destroying an uncommitted one removes the temporary file.
class staged_file {
 public:
  /// Checks `target` (not a directory; its directory exists) and creates the temporary file.
  /// Throws std::runtime_error naming `target` when it cannot.
  explicit staged_file(const std::filesystem::path& target);
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;
  ~staged_file();

  /// Appends to the temporary file (failures surface at commit()).
  void write(std::span<const std::byte> bytes);
  void write(std::string_view text);
  /// Renames the temporary file over `target`. Throws std::runtime_error naming `target` (a
  /// failed write, or the rename); the temporary file is then removed and `target` left as it
  /// was.
  void commit();

 private:
  std::filesystem::path target_, temporary_;
  std::ofstream file_;
  bool finished_ = false;  // committed, or given up and removed
};

/// A directory built in a temporary sibling of `target` and moved into place by commit(): by
/// an exchange where the file system allows it (renameat2 with RENAME_EXCHANGE), else by two
/// renames (the old directory moved aside first). Until commit() nothing of `target` changes;
/// destroying an uncommitted one removes the temporary directory.
class staged_directory {
 public:
  /// Creates the temporary directory (and target's parents). Throws std::runtime_error naming
  /// the path when it cannot.
  explicit staged_directory(const std::filesystem::path& target);
  staged_directory(const staged_directory&) = delete;
  staged_directory& operator=(const staged_directory&) = delete;
  ~staged_directory();

  /// Where to write the directory's contents.
  const std::filesystem::path& path() const noexcept { return temporary_; }
  /// Replaces `target` (or creates it) with the temporary directory, then removes the old one.
  /// Throws std::runtime_error naming the target, also when it exists and is not a directory;
  /// `target` is then as it was.
  void commit();

 private:
  std::filesystem::path target_, temporary_;
  bool committed_ = false;
};

}  // namespace verinit::io
