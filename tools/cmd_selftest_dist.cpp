// `dispa selftest-dist`: all-reduce correctness and bandwidth on every rank of a job, the first
// thing to run on a new cluster (engine/dist/selftest.h). Under mpirun or srun every rank runs it;
// without a launcher it runs as one rank.
#include <memory>

#include "engine/dist/selftest.h"
#include "tools/command.h"

namespace dispa::tools {
namespace {

const CommandRegistration registration("selftest-dist", [](CLI::App& app, int& exit_code) {
  auto options = std::make_shared<dist::SelftestOptions>();
  CLI::App* cmd = app.add_subcommand(
      "selftest-dist", "All-reduce known values at several sizes on every rank: wrong elements (must be 0), time, "
                       "algorithm and bus bandwidth (run under mpirun/srun)");
  cmd->add_option("--device", options->device, "cpu (MPI) or cuda (NCCL; each rank takes GPU local_rank)")
      ->capture_default_str();
  cmd->add_option("--dist", options->dist, "auto (none without a launcher, else mpi for cpu, nccl for cuda), "
                                           "none, mpi or nccl")
      ->capture_default_str();
  cmd->add_option("--sizes", options->sizes, "Message sizes in f32 elements")->capture_default_str()->delimiter(',');
  cmd->add_option("--iters", options->iters, "Timed all-reduces per size")->capture_default_str();
  cmd->add_option("--warmup", options->warmup, "Untimed all-reduces per size first")->capture_default_str();
  cmd->callback([options, &exit_code] {
    dist::run_selftest_dist(*options);
    exit_code = 0;
  });
});

}  // namespace
}  // namespace dispa::tools
