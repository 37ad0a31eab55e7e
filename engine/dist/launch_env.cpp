#include "engine/dist/launch_env.h"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "engine/error.h"

namespace dispa::dist {
namespace {

// Value of `name` as a non-negative int; -1 when unset.
int read_int(const EnvLookup& lookup, const char* name) {
  const char* text = lookup(name);
  if (!text) return -1;
  const std::string s(text);
  size_t used = 0;
  long value = -1;
  try {
    value = std::stol(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DISPA_CHECK(used == s.size() && !s.empty() && value >= 0 && value < (1L << 30),
              "launcher environment: {}='{}' is not a non-negative integer", name, s.substr(0, 40));
  return static_cast<int>(value);
}

}  // namespace

std::string LaunchInfo::describe() const {
  return fmt::format("rank {} of {}, local rank {} ({})", rank, size > 0 ? std::to_string(size) : "?", local_rank,
                     source);
}

LaunchInfo launch_info_from_environment(const EnvLookup& lookup_in) {
  const EnvLookup lookup = lookup_in ? lookup_in : EnvLookup([](const char* n) { return std::getenv(n); });
  LaunchInfo info;
  info.source = "none";
  struct Scheme {
    const char *source, *rank, *size, *local;
  };
  const Scheme schemes[] = {
      {"OpenMPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"Slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"},
  };
  for (const Scheme& s : schemes) {
    const int rank = read_int(lookup, s.rank), size = read_int(lookup, s.size);
    if (rank < 0 || size < 0) continue;
    DISPA_CHECK(size >= 1 && rank < size, "launcher environment: {}={} is not below {}={}", s.rank, rank, s.size,
                size);
    const int local = read_int(lookup, s.local);
    info = {rank, size, local < 0 ? 0 : local, true, s.source};
    return info;
  }
  // PMIx alone gives the rank; the size then comes from MPI (the backends cross-check).
  const int pmix_rank = read_int(lookup, "PMIX_RANK");
  if (pmix_rank >= 0) info = {pmix_rank, 0, 0, true, "PMIx"};
  return info;
}

}  // namespace dispa::dist
