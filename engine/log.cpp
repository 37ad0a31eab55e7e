#include "engine/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace dispa::logging {
namespace {
std::atomic<bool> g_quiet{false};
std::mutex g_mutex;
std::FILE* g_log_file = nullptr;

void append_to_file(const std::string& line) {  // caller holds g_mutex
  if (!g_log_file) return;
  std::fprintf(g_log_file, "%s\n", line.c_str());
  std::fflush(g_log_file);
}
}  // namespace

void set_log_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_log_file) std::fclose(g_log_file);
  g_log_file = path.empty() ? nullptr : std::fopen(path.c_str(), "a");
}

void set_quiet(bool quiet) { g_quiet = quiet; }
bool quiet() { return g_quiet; }

void write_line(const std::string& line, bool even_if_quiet) {
  std::lock_guard<std::mutex> lock(g_mutex);
  append_to_file(line);
  if (quiet() && !even_if_quiet) return;
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr)) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  extra_ = extra;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  done_ = total_;
  if (!extra.empty()) extra_ = extra;
  draw(true);
}

void Progress::stop(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  if (!extra.empty()) extra_ = extra;
  draw(true);
}

void Progress::draw(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double pct = total_ > 0 ? 100.0 * double(done_) / double(total_) : 100.0;
  std::string line = fmt::format("{}  {}/{} ({:.0f}%)  {:.1f} s", label_, done_, total_, pct, elapsed);
  if (!extra_.empty()) line += "  " + extra_;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (final_line) append_to_file(line);
  if (quiet()) return;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace dispa::logging
