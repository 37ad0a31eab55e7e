// `dispa train` as a library call: prepare the data folder, make (or reuse) the split, and for each
// selected fold train DiSPA, evaluate it and the baselines (drug-mean, cell-mean, additive, ridge on
// [pathway ssGSEA scores, drug fingerprint]) on the same test pairs, and write the run folder:
//
//   RUN_DIR/run_options.json            the options that define the run and its state (running,
//                                       finished): --resume reuses them (train/run_folder.h)
//   RUN_DIR/lock                        pid and host of the process writing the run (while it runs)
//   RUN_DIR/split.tsv                   the split (reusable with --split-file; reused by --resume)
//   RUN_DIR/metrics.json                mean over folds (keys rmse, mae, pearson, spearman, r2,
//                                       per_drug_pearson_mean/median; baselines.<name>.<key>),
//                                       plus "sd" and "folds"
//   RUN_DIR/fold_<k>/run.json           model config, data options, pathway genes, gene order
//   RUN_DIR/fold_<k>/config.json        the model configuration alone (dispa forward format)
//   RUN_DIR/fold_<k>/model.safetensors  best weights by validation RMSE (PyTorch state-dict names)
//   RUN_DIR/fold_<k>/checkpoint/        model, optimizer, RNG and schedule state (train/checkpoint.h),
//                                       checkpoint.prev/ the one before it
//   RUN_DIR/fold_<k>/metrics.json       this fold's test metrics and baselines
//   RUN_DIR/fold_<k>/predictions.tsv    cell_id, drug_name, ln_ic50, prediction (test pairs)
//   RUN_DIR/fold_<k>/learning_curve.svg, train.log
// Every file is written atomically (engine/io/atomic_file.h).
// Data-parallel (dist other than none, under mpirun/srun; docs/distributed.md): every rank calls
// run_training with the same options (checked at start-up); rank 0 alone holds the lock, settles
// the run folder and writes every file, and hands the settled options and the split to the others.
// parallel_folds > 1 trains that many folds at once in one process, one thread each.
#pragma once
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "model/dispa.h"
#include "train/data_pipeline.h"
#include "train/trainer.h"

namespace dispa::train {

struct TrainRunOptions {
  DataOptions data;
  std::string split = "random";       // random|cell-blind|drug-blind|disjoint|tgsa-mixed|...
  int folds = 5;
  std::optional<int> fold;            // train only this fold, in [0, folds); unset = every fold
  double val_fraction = 0.1;
  std::filesystem::path split_file;   // reuse a split instead of making one
  DispaConfig model;                  // data-dependent dims are filled from the dataset
  TrainerOptions trainer;             // seed, epochs, batch, lr, ...; run_dir set per fold
  Device device = Device::cpu();
  std::filesystem::path out_dir;
  bool resume = false;                // continue the run in out_dir with its recorded options
  bool overwrite = false;             // replace a run already in out_dir
  bool ridge_baseline = true;
  // Not run-defining (not recorded; a resumed run may change them):
  std::string dist = "none";          // none|mpi|nccl|auto: data-parallel backend (--dist)
  int parallel_folds = 1;             // folds trained at once, one thread each (--parallel-folds)
  // The flags the command line gave ("--seed", ...). With --resume the run's recorded options
  // fill in everything else, and only these are compared with the record. Unset (library
  // callers): every run-defining option of this struct is compared.
  std::optional<std::set<std::string>> given_flags;
};

// Returns the contents of RUN_DIR/metrics.json (also printed as a table). Refuses an out_dir that
// holds a run unless resume or overwrite is set, and one another process is writing (lock).
// --resume of a finished run with no more epochs to train returns its metrics.json unchanged.
// Throws dispa::Interrupted after saving a checkpoint when SIGINT/SIGTERM arrives.
nlohmann::json run_training(const TrainRunOptions& options);

// Aggregates per-fold metrics JSON objects into mean and sd (sample sd; 0 for one fold).
nlohmann::json aggregate_folds(const std::vector<nlohmann::json>& folds);

}  // namespace dispa::train
