// The run folder of `dispa train` as a unit that survives faults and misuse:
//   - a lock (RUN_DIR/lock: "<pid> <host>", held with flock while a process writes the run), so
//     two trainings never write one folder; a lock left by a dead process is taken over with a
//     warning (flock is released by the kernel when its holder dies, so "stale" is exact);
//   - the run's record (RUN_DIR/run_options.json: format "dispa run options 1", state
//     "running"|"finished", options {data, split, model, trainer, no_ridge, device}), written
//     before any training, so that --resume reuses the options and split of the run and refuses
//     conflicting ones instead of silently training something else;
//   - what a folder holds (nothing, an unfinished run, a finished run) and --overwrite.
// Options that may change on --resume: --epochs (only up, to extend a run), --device, and what is
// not recorded (--quiet, --tf32, OMP_NUM_THREADS, --dist and the number of ranks, --parallel-folds).
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "train/train_run.h"

namespace dispa::train {

class RunLock {
 public:
  // Takes RUN_DIR/lock or throws naming the pid and host that hold it.
  explicit RunLock(const std::filesystem::path& run_dir);
  ~RunLock();  // removes the lock file and releases it
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

enum class RunState { empty, unfinished, finished };

struct RunStatus {
  RunState state = RunState::empty;
  std::optional<nlohmann::json> record;  // run_options.json; absent in runs of older dispa versions
};

// What RUN_DIR holds: its record's state, or for folders without a record, finished when
// metrics.json exists and unfinished when split.tsv or a fold_<k>/ folder does.
RunStatus inspect_run(const std::filesystem::path& run_dir);

// Removes the run files of RUN_DIR (run_options.json, split.tsv, metrics.json, train.log,
// fold_<k>/); other files are left alone.
void clear_run(const std::filesystem::path& run_dir);

// Removes the temporary files (`<name>.tmp.XXXXXX`, engine/io/atomic_file.h) and checkpoint.tmp/
// folders that a process killed while writing left in RUN_DIR; call with the lock held.
void remove_stale_temporaries(const std::filesystem::path& run_dir);

// The run-defining options as recorded in run_options.json ("options").
nlohmann::json options_record(const TrainRunOptions& options);
void write_run_record(const std::filesystem::path& run_dir, const TrainRunOptions& options, RunState state);

// The options a --resume continues with: the record's, with --epochs and --device taken from
// `requested` when given. Throws listing every conflict as "run was trained with --seed 0,
// --embed-dim 64; this command asks for --seed 1, --embed-dim 32".
TrainRunOptions resume_options(const nlohmann::json& record, const TrainRunOptions& requested);

}  // namespace dispa::train
