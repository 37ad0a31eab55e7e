// doctest main for the MPI test programs. dist_ranks_test runs under mpirun: every rank runs every
// test case in the same order (each case issues the same collectives on all ranks); ranks other
// than 0 print only their failures, and mpirun's exit status is non-zero when any rank failed.
// dist_fault_e2e starts mpirun jobs itself. Built without MPI both report "skipped" (77).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/dist/launch_env.h"

int main(int argc, char** argv) {
  if (!DISPA_WITH_MPI) {
    std::printf("built without MPI: skipping the MPI tests in %s (scripts/setup.sh installs OpenMPI)\n",
                argv[0]);
    return 77;
  }
  doctest::Context context(argc, argv);
  if (dispa::dist::launch_info_from_environment().rank != 0) context.setOption("minimal", true);
  return context.run();
}
