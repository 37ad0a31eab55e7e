// Faults end the job instead of hanging it: `mpirun -np 4 dispa selftest-dist` with one rank
// killed (SIGKILL) or hung (DISPA_DIST_TEST_KILL / _HANG) before a collective. Each job runs under
// timeout(1) with a bound far above DISPA_DIST_TIMEOUT_S, so "exited by itself" is exit status
// != 124; the message must name rank 1. Also a clean 2-rank selftest (0 wrong elements) and the
// error on every rank ending the job at once. Built without MPI, the program reports "skipped".
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/dist/mpirun_job.h"

namespace {

using dispa::test::JobOutcome;

// Runs `env mpirun ... -np ranks dispa args` under timeout 120.
JobOutcome run_job(const std::string& env, int ranks, const std::string& args) {
  return dispa::test::run_job(std::filesystem::path(DISPA_BINARY_DIR) / "test_tmp" / "dist_fault_e2e", env, ranks,
                              args);
}

}  // namespace

TEST_CASE("selftest-dist on 2 ranks: no wrong element, a line per size") {
  const JobOutcome o = run_job("", 2, "selftest-dist --sizes 1000,70001 --iters 2 --warmup 1");
  CHECK_MESSAGE(o.status == 0, o.err);
  CHECK(o.out.find("# dispa selftest-dist: 2 rank(s), backend mpi, device cpu") == 0);
  CHECK(o.out.find("         4000          1000  float    sum") != std::string::npos);
  CHECK(o.out.find("       280004         70001  float    sum") != std::string::npos);
  CHECK(o.out.find("# wrong elements in total: 0") != std::string::npos);
}

TEST_CASE("a hung rank: the watchdog ends the job, naming the collective and the rank that is elsewhere") {
  const JobOutcome o = run_job("DISPA_DIST_TIMEOUT_S=2 DISPA_DIST_TEST_HANG=1:3", 4,
                            "selftest-dist --sizes 1000 --iters 2 --warmup 1");
  CHECK_MESSAGE(o.status != 0, o.err);
  CHECK_MESSAGE(o.status != 124, "the job did not end by itself:\n" << o.err);  // timeout(1) killed it
  CHECK(o.err.find("rank 1 of 4 (mpi, host") != std::string::npos);
  CHECK(o.err.find("collective #3 all_reduce(sum, 1000 x f32) has not completed after") != std::string::npos);
  CHECK(o.err.find("  rank 1 is not in a collective (last finished #2 ") != std::string::npos);
  CHECK(o.err.find("the job exits with status 75") != std::string::npos);
}

TEST_CASE("a killed rank: the job ends non-zero, naming the rank") {
  const JobOutcome o = run_job("DISPA_DIST_TIMEOUT_S=5 DISPA_DIST_TEST_KILL=1:3", 4,
                            "selftest-dist --sizes 1000 --iters 2 --warmup 1");
  CHECK_MESSAGE(o.status != 0, o.err);
  CHECK_MESSAGE(o.status != 124, "the job did not end by itself:\n" << o.err);
  // OpenMPI's mpirun notices the dead process and ends the job itself (without waiting for the watchdog).
  CHECK(o.err.find("DISPA_DIST_TEST_KILL: killing myself before collective #3") != std::string::npos);
  CHECK(o.err.find("process rank 1") != std::string::npos);
}

TEST_CASE("a killed rank that mpirun does not act on: the watchdog ends the job, naming the silent rank") {
  const JobOutcome o = run_job("DISPA_DIST_TIMEOUT_S=2 DISPA_DIST_TEST_KILL=1:3 OMPI_MCA_orte_abort_on_non_zero_status=0", 4,
                            "selftest-dist --sizes 1000 --iters 2 --warmup 1");
  CHECK_MESSAGE(o.status != 0, o.err);
  CHECK_MESSAGE(o.status != 124, "the job did not end by itself:\n" << o.err);
  CHECK(o.err.find("has not completed after") != std::string::npos);
  CHECK(o.err.find("no answer within 1 s from rank(s) 1 (dead, or stuck outside dispa)") != std::string::npos);
}

TEST_CASE("a rank that fails with an error ends the job at once, with the error") {
  // --sizes 0 is rejected on every rank; the job must end with status 1, not wait for a watchdog.
  const JobOutcome o = run_job("DISPA_DIST_TIMEOUT_S=60", 2, "selftest-dist --sizes 0");
  CHECK(o.status == 1);
  CHECK(o.err.find("error: selftest-dist: size 0 is not in [1, 2^31] elements") != std::string::npos);
}
