// End-to-end tests that run the built dispa binary (DISPA_TOOL, defined for the test programs by
// tests/CMakeLists.txt, as DISPA_BINARY_DIR): a fresh scratch folder per program, the binary's exit
// status and stderr, whole text files.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

namespace dispa::test {

// <build>/test_tmp/<name>, emptied and created; call once per program (keep the path).
inline std::filesystem::path fresh_work_dir(const std::string& name) {
  const std::filesystem::path d = std::filesystem::path(DISPA_BINARY_DIR) / "test_tmp" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `dispa <args>` (shell words) with OMP_NUM_THREADS=1; stdout goes to work_dir/stdout.txt.
// Returns the exit status (-1 if it did not exit), stderr in `err`.
inline int run_dispa(const std::filesystem::path& work_dir, const std::string& args, std::string& err) {
  const std::filesystem::path err_file = work_dir / "stderr.txt";
  const std::string cmd = fmt::format("OMP_NUM_THREADS=1 '{}' {} 2> '{}' > '{}'", DISPA_TOOL, args, err_file.string(),
                                      (work_dir / "stdout.txt").string());
  const int status = std::system(cmd.c_str());
  err = read_text(err_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dispa::test
