// Runs a job of the dispa binary under mpirun (or the binary alone) as the dist e2e tests do: the
// flags this machine needs (root, 2 cores: --allow-run-as-root --oversubscribe, shared memory),
// one OpenMP thread per rank, the whole job under timeout(1) so that a hang shows as status 124
// instead of stalling ctest. stdout and stderr are captured.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

namespace dispa::test {

struct JobOutcome {
  int status = -1;  // exit status; 124 = killed by timeout(1)
  std::string out, err;
};

inline std::string read_file_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The mpirun command prefix without -np (MPMD jobs add their own app contexts).
inline std::string mpirun_prefix() {
  return fmt::format("'{}' --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader "
                     "--mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1",
                     DISPA_MPIEXEC);
}

// `env timeout 120 <launch>` with output captured in scratch/; launch is the rest of the line.
inline JobOutcome run_command(const std::filesystem::path& scratch, const std::string& env, const std::string& launch,
                              int timeout_s = 120) {
  std::filesystem::create_directories(scratch);
  const std::string cmd = fmt::format("OMP_NUM_THREADS=1 {} timeout {} {} > '{}' 2> '{}'", env, timeout_s, launch,
                                      (scratch / "out.txt").string(), (scratch / "err.txt").string());
  JobOutcome o;
  const int status = std::system(cmd.c_str());
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = read_file_text(scratch / "out.txt");
  o.err = read_file_text(scratch / "err.txt");
  return o;
}

// `mpirun ... -np ranks dispa args`.
inline JobOutcome run_job(const std::filesystem::path& scratch, const std::string& env, int ranks,
                          const std::string& args) {
  return run_command(scratch, env, fmt::format("{} -np {} '{}' {}", mpirun_prefix(), ranks, DISPA_TOOL, args));
}

}  // namespace dispa::test
