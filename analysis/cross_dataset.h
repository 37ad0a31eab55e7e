// `dispa evaluate` as a library call: a run trained on one screen (GDSC2) predicts the measured
// responses of another (GDSC1, ../shared/data/gdsc1/README.md) on the same cell lines, scored in
// groups of drugs:
//   shared  drugs the training screen also has (same compound, another assay version); the
//           target's drugs.tsv maps them by `gdsc2_drug_name` (or, without that column, by equal
//           name); they are featurised from the training SMILES, exactly as in training;
//   unseen  drugs the run never saw, featurised from the target's SMILES;
//   all     both.
// Metrics as in train/metrics.h, per fold model, with the baselines of the run's training pairs
// (that fold's `train` pairs of RUN/split.tsv): drug_mean, cell_mean and additive effect models
// fitted on the training screen (an unseen drug has no effect: drug_mean then predicts the
// training mean and additive the cell effect). For shared drugs with a value in both screens,
// group `shared_measured_in_both` also scores the training screen's own measurement
// (`training_measurement`): the agreement between the two assays, the ceiling of what a model of
// one screen can reach on the other.
//
// Files written to `out` (default RUN_DIR/eval_<name of the data folder>, e.g. eval_gdsc1):
//   metrics.json     the format of dispa train's metrics.json for group `all` (mean over folds,
//                    baselines, sd, folds), plus "groups": {name: the same per group}, "ensemble"
//                    (mean prediction over folds, per group; runs with several folds) and counts;
//                    a group without pairs (e.g. no unseen drug) has null metrics
//   predictions.tsv  cell_id, drug_name, group, ln_ic50, prediction (mean over fold models)
#pragma once
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/dtype.h"

namespace dispa::analysis {

struct CrossDatasetOptions {
  std::filesystem::path run_dir;     // run folder (every fold) or one fold_<k>/
  int fold = -1;
  std::filesystem::path data;        // target folder: response.tsv, drugs.tsv (+ in_gdsc2, gdsc2_drug_name)
  std::filesystem::path expression;  // default: DATA/expression.tsv, else the training data's expression.tsv
  std::filesystem::path train_data;  // default: the data folder recorded in run.json
  std::filesystem::path out;         // default: RUN_DIR/eval_<name of DATA>
  Device device = Device::cpu();
  int64_t batch_size = 4096;
};

nlohmann::json run_cross_dataset(const CrossDatasetOptions& options);

}  // namespace dispa::analysis
