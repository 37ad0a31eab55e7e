// Testing aid for fault tests: the environment variable DISPA_FAULT=<action>@<point>[#<n>] makes
// the process act the n-th time (default 1) it passes the named point, so a test can kill or
// interrupt the real `dispa` binary at an exact place instead of guessing with timers.
//   actions: kill (SIGKILL itself: as kill -9), stop (SIGSTOP itself: the test then signals it and
//            sends SIGCONT), int / term (send itself SIGINT / SIGTERM: as Ctrl-C / kill),
//            fail (throw dispa::Error "injected fault at <point>")
//   points:  train-step (after each optimizer step), eval-batch (each validation forward),
//            checkpoint-file (after each file of a checkpoint is written, before it is published),
//            checkpoint-swap (between moving the old checkpoint aside and publishing the new),
//            fold-trained (a fold's training has ended; its outputs are not written yet),
//            run-end (every fold done; RUN_DIR/metrics.json not written yet)
// In a launched job (mpirun, srun) DISPA_FAULT_RANK=<r> limits it to rank r (the launcher's rank,
// engine/dist/launch_env.h; a process started without a launcher is rank 0), so a test can kill
// one rank of a data-parallel training; unset, every rank acts.
// A point costs an uncontended lock (a few per training step). Never set it outside tests.
#pragma once
#include <string_view>

namespace dispa {

void fault_point(std::string_view point);

// Replaces the DISPA_FAULT setting for this process (tests calling the library directly); "" = none.
void set_fault_spec(std::string_view spec);

}  // namespace dispa
