// Atomic file output (see atomic_file.h): temporary file, write, fsync, rename, fsync the folder.
#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace dispa::io {
namespace fs = std::filesystem;

namespace {

constexpr size_t kBufferBytes = size_t(1) << 20;

// mkstemp creates files with mode 0600; an output file should get the usual 0666 & ~umask.
mode_t file_mode() {
  static const mode_t mode = [] {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mode_t(0666) & ~mask;
  }();
  return mode;
}

}  // namespace

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  check_output_file(target_, "output");
  fs::path folder = target_.parent_path();
  if (folder.empty()) folder = ".";
  // Unique per writer (mkstemp), so two processes writing the same target never share a temporary.
  std::string pattern = (folder / (target_.filename().string() + ".tmp.XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) fail("cannot write '{}': {}", target_.string(), std::strerror(errno));
  temp_ = name.data();
  if (::fchmod(fd_, file_mode()) != 0) fail_with_errno(errno, "cannot write");
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

void AtomicFile::fail_with_errno(int err, const char* what) {
  discard();
  fail("{} '{}': {}", what, target_.string(), std::strerror(err != 0 ? err : EIO));
}

void AtomicFile::flush_buffer() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal (Ctrl-C is handled, not fatal): retry
      fail_with_errno(errno, "cannot write");
    }
    p += n;
    left -= size_t(n);
  }
  buffer_.clear();
}

void AtomicFile::write(std::string_view bytes) {
  DISPA_CHECK(fd_ >= 0 && !committed_, "AtomicFile: write to '{}' after commit or failure", target_.string());
  bytes_ += bytes.size();
  if (buffer_.size() + bytes.size() <= kBufferBytes) {
    buffer_.append(bytes);
    return;
  }
  flush_buffer();
  if (bytes.size() >= kBufferBytes) {  // large tensors go straight through
    buffer_.assign(bytes);
    flush_buffer();
  } else {
    buffer_.append(bytes);
  }
}

void AtomicFile::commit() {
  DISPA_CHECK(fd_ >= 0 && !committed_, "AtomicFile: commit of '{}' twice or after a failure", target_.string());
  flush_buffer();
  // fsync before the rename: otherwise a crash can publish the name with no data behind it.
  if (::fsync(fd_) != 0) fail_with_errno(errno, "cannot write");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail_with_errno(errno, "cannot write");
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail_with_errno(errno, "cannot replace");
  temp_.clear();
  committed_ = true;
  fsync_folder(target_.parent_path().empty() ? fs::path(".") : target_.parent_path());
}

void write_file_atomically(const fs::path& target, std::string_view content) {
  AtomicFile file(target);
  file.write(content);
  file.commit();
}

void check_output_file(const fs::path& path, std::string_view flag) {
  std::error_code ec;
  DISPA_CHECK(!fs::is_directory(path, ec), "{} '{}' is a folder; give a file name", flag, path.string());
}

void check_output_folder(const fs::path& path, std::string_view flag) {
  std::error_code ec;
  DISPA_CHECK(!fs::exists(path, ec) || fs::is_directory(path, ec), "{} '{}' is a file; give a folder", flag,
              path.string());
}

void fsync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace dispa::io
