// One logger for progress and messages (stderr), silenced by --quiet. Machine-readable output
// (metrics, predictions, tables) goes to files or stdout, never through here. The namespace is
// `logging`, not `log`, because dispa::log is the tensor op.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace dispa::logging {

void set_quiet(bool quiet);
bool quiet();
// To stderr unless quiet (or even_if_quiet), and always to the log file when one is set.
void write_line(const std::string& line, bool even_if_quiet = false);
// Also append every line (and progress end lines) to `path` (a run's train.log); empty = none.
void set_log_file(const std::string& path);

template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  write_line(fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  write_line("warning: " + fmt::format(format, std::forward<Args>(args)...), true);  // shown even when quiet
}

// A progress line for long loops: "label  123/456 (27%)  4.1 s  <extra>". Redrawn in place on a
// terminal (at most 10 times a second); on a pipe or file printed at most every 5 s, plus the end.
class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  void update(int64_t done, const std::string& extra = {});
  void finish(const std::string& extra = {});
  // Ends the line where the loop stopped (done as last updated), e.g. on an interruption.
  void stop(const std::string& extra = {});

 private:
  void draw(bool final_line);
  std::string label_, extra_;
  int64_t total_, done_ = 0;
  bool finished_ = false, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace dispa::logging
