// Launcher environment, the DISPA_DIST_* settings, backend names and the single-process
// communicator (the --dist none path every single-process run takes).
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>

#include "engine/dist/communicator.h"
#include "tests/support/error_of.h"

using namespace dispa;
using namespace dispa::dist;

namespace {
EnvLookup env(const std::map<std::string, std::string>& vars) {
  auto copy = std::make_shared<std::map<std::string, std::string>>(vars);
  return [copy](const char* name) -> const char* {
    auto it = copy->find(name);
    return it == copy->end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST_CASE("launch env: OpenMPI, Slurm and PMIx variables give rank, size and local rank") {
  const LaunchInfo none = launch_info_from_environment(env({}));
  CHECK_FALSE(none.launched);
  CHECK(none.rank == 0);
  CHECK(none.size == 1);

  const LaunchInfo ompi = launch_info_from_environment(
      env({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "8"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}));
  CHECK(ompi.launched);
  CHECK(ompi.rank == 3);
  CHECK(ompi.size == 8);
  CHECK(ompi.local_rank == 1);
  CHECK(ompi.source == "OpenMPI");
  CHECK(ompi.describe() == "rank 3 of 8, local rank 1 (OpenMPI)");

  const LaunchInfo slurm = launch_info_from_environment(
      env({{"SLURM_PROCID", "5"}, {"SLURM_STEP_NUM_TASKS", "16"}, {"SLURM_LOCALID", "5"}, {"SLURM_NTASKS", "16"}}));
  CHECK(slurm.source == "Slurm");
  CHECK(slurm.rank == 5);
  CHECK(slurm.size == 16);
  CHECK(slurm.local_rank == 5);

  // An sbatch script has SLURM_PROCID and SLURM_NTASKS but no step: not a launched rank.
  CHECK_FALSE(launch_info_from_environment(env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}})).launched);

  // mpirun inside a Slurm allocation: OpenMPI's variables win.
  const LaunchInfo both = launch_info_from_environment(env({{"OMPI_COMM_WORLD_RANK", "1"},
                                                            {"OMPI_COMM_WORLD_SIZE", "2"},
                                                            {"SLURM_PROCID", "0"},
                                                            {"SLURM_STEP_NUM_TASKS", "1"}}));
  CHECK(both.source == "OpenMPI");
  CHECK(both.rank == 1);

  const LaunchInfo pmix = launch_info_from_environment(env({{"PMIX_RANK", "7"}}));
  CHECK(pmix.launched);
  CHECK(pmix.rank == 7);
  CHECK(pmix.size == 0);  // unknown: MPI says
}

TEST_CASE("launch env: malformed variables are errors naming the variable and its value") {
  CHECK(test::error_of([] {
          launch_info_from_environment(env({{"OMPI_COMM_WORLD_RANK", "two"}, {"OMPI_COMM_WORLD_SIZE", "4"}}));
        }) == "launcher environment: OMPI_COMM_WORLD_RANK='two' is not a non-negative integer");
  CHECK(test::error_of([] {
          launch_info_from_environment(env({{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "4"}}));
        }) == "launcher environment: OMPI_COMM_WORLD_RANK=4 is not below OMPI_COMM_WORLD_SIZE=4");
  CHECK(test::error_of([] { launch_info_from_environment(env({{"PMIX_RANK", "-1"}})); }) ==
        "launcher environment: PMIX_RANK='-1' is not a non-negative integer");
}

TEST_CASE("settings: DISPA_DIST_TIMEOUT_S, DISPA_DIST_DEBUG and the test hooks") {
  const Settings defaults = Settings::from_environment(env({}));
  CHECK(defaults.timeout_s == 300);
  CHECK_FALSE(defaults.debug);
  CHECK(defaults.hang_rank == -1);
  CHECK(defaults.kill_rank == -1);

  const Settings s = Settings::from_environment(env({{"DISPA_DIST_TIMEOUT_S", "2.5"},
                                                     {"DISPA_DIST_DEBUG", "1"},
                                                     {"DISPA_DIST_TEST_HANG", "1:7"},
                                                     {"DISPA_DIST_TEST_KILL", "3:2"}}));
  CHECK(s.timeout_s == 2.5);
  CHECK(s.debug);
  CHECK(s.hang_rank == 1);
  CHECK(s.hang_seq == 7);
  CHECK(s.kill_rank == 3);
  CHECK(s.kill_seq == 2);

  CHECK(test::error_of([] { Settings::from_environment(env({{"DISPA_DIST_TIMEOUT_S", "0"}})); }) ==
        "DISPA_DIST_TIMEOUT_S='0': expected a number of seconds > 0");
  CHECK(test::error_of([] { Settings::from_environment(env({{"DISPA_DIST_TIMEOUT_S", "5min"}})); }) ==
        "DISPA_DIST_TIMEOUT_S='5min': expected a number of seconds > 0");
  CHECK(test::error_of([] { Settings::from_environment(env({{"DISPA_DIST_DEBUG", "yes"}})); }) ==
        "DISPA_DIST_DEBUG='yes': expected 0 or 1");
  CHECK(test::error_of([] { Settings::from_environment(env({{"DISPA_DIST_TEST_HANG", "1"}})); }) ==
        "DISPA_DIST_TEST_HANG='1': expected RANK:SEQ (a rank and a collective sequence number >= 1)");
}

TEST_CASE("backends: names, and what a build without them says") {
  CHECK(parse_backend("none") == Backend::none);
  CHECK(parse_backend("mpi") == Backend::mpi);
  CHECK(parse_backend("nccl") == Backend::nccl);
  CHECK(test::error_of([] { parse_backend("gloo"); }) ==
        "unknown distributed backend 'gloo' (expected none, mpi or nccl)");
  CHECK(backend_unavailable_reason(Backend::none).empty());
  CHECK(backend_unavailable_reason(Backend::mpi).empty() == bool(DISPA_WITH_MPI));
  CHECK(backend_unavailable_reason(Backend::nccl).empty() == bool(DISPA_WITH_NCCL));
  if (!DISPA_WITH_MPI) {
    CHECK(backend_unavailable_reason(Backend::mpi).find("scripts/setup.sh installs openmpi-bin and libopenmpi-dev") !=
          std::string::npos);
    CHECK(test::error_of([] { make_communicator(Backend::mpi, Settings()); }) ==
          backend_unavailable_reason(Backend::mpi));
  }
  if (!DISPA_WITH_NCCL)
    CHECK(test::error_of([] { make_communicator(Backend::nccl, Settings()); }) ==
          backend_unavailable_reason(Backend::nccl));
}

TEST_CASE("single process: collectives are the identity and are numbered") {
  auto comm = make_communicator(Backend::none, Settings());
  CHECK(comm->rank() == 0);
  CHECK(comm->size() == 1);
  CHECK(comm->device() == Device::cpu());
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  comm->all_reduce(t, ReduceOp::sum);
  comm->all_reduce(t, ReduceOp::avg);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
  comm->broadcast(t, 0);
  comm->barrier();
  CHECK(comm->all_gather_bytes("abc") == std::vector<std::string>{"abc"});
  std::string bytes = "xyz";
  comm->broadcast_bytes(bytes, 0);
  CHECK(bytes == "xyz");
  CHECK(comm->sequence() == 6);
  CHECK(comm->who().rfind("rank 0 of 1 (none, host ", 0) == 0);
  CHECK(test::error_of([&] { comm->broadcast(t, 1); }) == "broadcast: root 1 is not a rank of " + comm->who());
}

TEST_CASE("single process: --dist none refuses to run as one rank of a launched job") {
  setenv("OMPI_COMM_WORLD_RANK", "1", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  const std::string message = test::error_of([] { make_communicator(Backend::none, Settings()); });
  unsetenv("OMPI_COMM_WORLD_RANK");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  CHECK(message ==
        "this process is rank 1 of 4, local rank 0 (OpenMPI) but --dist is none: every rank would train alone and "
        "write the same files; pass --dist mpi (CPU) or --dist nccl (CUDA), or start one process");
}
