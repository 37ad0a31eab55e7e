// The one way dispa writes a file: the bytes go to a temporary file in the target's own folder
// (same file system, so the final rename is atomic), which is flushed, fsync'ed, renamed over the
// target, and the folder fsync'ed so the rename itself survives a power cut. Until commit() the
// target keeps its old content (or stays absent); on any failure, and when an AtomicFile is
// destroyed without commit() (an exception unwinding), the temporary file is removed. A kill -9
// can leave a temporary `<name>.tmp.XXXXXX` beside the target, never a partial target.
// Errors name the target and the OS error ("cannot write 'run/metrics.json': No space left on device").
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace dispa::io {

class AtomicFile {
 public:
  // Creates the temporary file beside `target`; the folder must exist. Throws dispa::Error when
  // `target` is an existing folder or the temporary file cannot be created.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();  // without commit(): removes the temporary file, target untouched
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  void write(const void* data, size_t n) { write(std::string_view(static_cast<const char*>(data), n)); }
  // Publishes the file: flush, fsync, rename over the target, fsync the folder.
  void commit();

  const std::filesystem::path& target() const { return target_; }
  uint64_t bytes_written() const { return bytes_; }

 private:
  void flush_buffer();
  [[noreturn]] void fail_with_errno(int err, const char* what);
  void discard() noexcept;

  std::filesystem::path target_, temp_;
  int fd_ = -1;
  std::string buffer_;  // small writes are gathered so a TSV row is not one system call
  uint64_t bytes_ = 0;
  bool committed_ = false;
};

// write + commit in one call.
void write_file_atomically(const std::filesystem::path& target, std::string_view content);

// Checks made before a command does any work, so a mistyped --out fails in a second rather than
// after an hour: an output file must not be an existing folder; an output folder must not be an
// existing file. `flag` names the option in the message ("--out").
void check_output_file(const std::filesystem::path& path, std::string_view flag);
void check_output_folder(const std::filesystem::path& path, std::string_view flag);

// fsync of a folder (makes renames and unlinks in it durable); best effort where a file system
// refuses fsync on folders.
void fsync_folder(const std::filesystem::path& folder);

}  // namespace dispa::io
