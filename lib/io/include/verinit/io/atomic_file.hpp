// Files and directories that appear whole or not at all.
//
// Every writer of verinit (the .npy writer, the CLI's JSON, the report directory) goes through
// these two, so a reader never sees a half-written file and an interrupted run leaves the
// previous version in place.
#pragma once

#include <cstddef>
#include <filesystem>
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
  /// Throws std::runtime_error naming the target; `target` is then as it was.
  void commit();

 private:
  std::filesystem::path target_, temporary_;
  bool committed_ = false;
};

}  // namespace verinit::io
