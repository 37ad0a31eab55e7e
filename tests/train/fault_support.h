// Helpers of the fault tests (label faults): a small tmpfs to fill up or make read-only, running
// the dispa binary as a child process that a test can stop, signal and kill, and file helpers.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace dispa::test {

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

// Files under `dir` whose name contains ".tmp" (temporary files or folders a failure left behind).
inline std::vector<std::string> leftover_temporaries(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) out.push_back(e.path().string());
  return out;
}

// A tmpfs of `size` (e.g. "2m") mounted on `dir` for the test's lifetime. Mounting needs root
// (CAP_SYS_ADMIN); ok() is false otherwise and why() says so, for the caller to skip.
class Tmpfs {
 public:
  Tmpfs(const std::filesystem::path& dir, const std::string& size) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0)
      mounted_ = true;
    else
      why_ = fmt::format("cannot mount a tmpfs on {}: {} (needs root)", dir_.string(), std::strerror(errno));
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  // A mount left by a test that crashed would make its scratch folder impossible to remove.
  static void unmount_stale(const std::filesystem::path& dir) { ::umount2(dir.c_str(), MNT_DETACH); }
  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }
  bool set_read_only(bool ro) const {
    return ::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | (ro ? MS_RDONLY : 0), nullptr) == 0;
  }
  // Fills the file system with `filler` until a write fails for lack of space.
  void fill(const std::filesystem::path& filler) const {
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    const std::string chunk(4096, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string why_;
};

// The dispa binary run as a child: stderr and stdout go to files; environment additions such as
// DISPA_FAULT. The child is killed if the test ends without waiting for it.
class DispaProcess {
 public:
  DispaProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, const std::filesystem::path& stderr_file)
      : stderr_file_(stderr_file) {
    std::vector<std::string> argv_s = {binary};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (!env.count(key)) env_s.push_back(kv);
    }
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    std::vector<char*> argv, envp;  // built before fork: the child only calls async-signal-safe functions
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    const int err_fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int out_fd = ::open("/dev/null", O_WRONLY);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(err_fd, 2);
      ::dup2(out_fd, 1);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(err_fd);
    ::close(out_fd);
    REQUIRE(pid_ > 0);
  }
  DispaProcess(const DispaProcess&) = delete;
  DispaProcess& operator=(const DispaProcess&) = delete;
  ~DispaProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Waits until the child stops itself (DISPA_FAULT=stop@...); false if it ended instead.
  bool wait_stopped() {
    int status = 0;
    if (::waitpid(pid_, &status, WUNTRACED) != pid_) return false;
    if (WIFSTOPPED(status)) return true;
    reaped_ = true;
    status_ = status;
    return false;
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  // Waits for the end; returns the raw wait status.
  int wait() {
    if (!reaped_) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) == pid_ && WIFSTOPPED(status)) {
      }
      status_ = status;
      reaped_ = true;
    }
    return status_;
  }
  int exit_code() {
    const int s = wait();
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  }
  int killed_by() {
    const int s = wait();
    return WIFSIGNALED(s) ? WTERMSIG(s) : 0;
  }
  std::string err() const { return read_text(stderr_file_); }

 private:
  std::filesystem::path stderr_file_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace dispa::test
