// Where a rank learns who it is before any communication: the launcher's environment.
// mpirun (OpenMPI) sets OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK; srun sets SLURM_PROCID,
// SLURM_STEP_NUM_TASKS and SLURM_LOCALID in each task of a job step (not in the batch script
// itself, which is why SLURM_NTASKS alone is not read); PMIx launchers set PMIX_RANK. OpenMPI's
// variables win when both are present (mpirun inside a Slurm allocation). The MPI and NCCL
// backends take rank and size from MPI itself and use this for the local rank (which GPU) and to
// cross-check; the none backend uses it to refuse running as one rank of many.
#pragma once
#include <functional>
#include <string>

namespace dispa::dist {

struct LaunchInfo {
  int rank = 0, size = 1, local_rank = 0;  // size 0: unknown (PMIx gives only the rank)
  bool launched = false;  // a launcher's variables were found
  std::string source;     // "OpenMPI", "Slurm", "PMIx" or "none"
  std::string describe() const;  // "rank 1 of 4, local rank 1 (OpenMPI)"
};

using EnvLookup = std::function<const char*(const char* name)>;  // nullptr when unset

// Reads the variables through `lookup` (std::getenv by default). A variable that is set but is not
// a non-negative integer in range is an error naming it and its value.
LaunchInfo launch_info_from_environment(const EnvLookup& lookup = {});

}  // namespace dispa::dist
