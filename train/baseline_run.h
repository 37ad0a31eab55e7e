// `dispa baselines`: the model-free baselines (drug-mean, cell-mean, additive) under any split of a
// data folder, per fold and as mean +- sd over folds. It needs only response.tsv, expression.tsv and
// drugs.tsv (for the known ids) and cells.tsv (for tgsa-cell-blind), so it runs before any
// featurisation and gives the bar a model run must clear on the same split (same seed => same split
// as `dispa train`). Ridge needs cell and drug features and is run by the trainer instead.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "train/baselines.h"

namespace dispa::train {

struct BaselineRunOptions {
  std::filesystem::path data_dir;
  std::string split = "random";      // a scheme name (splits.h)
  int folds = 5;                     // k-fold schemes
  int fold = -1;                     // -1: every fold
  uint64_t seed = 0;
  double val_fraction = 0.1;         // k-fold schemes
  std::filesystem::path split_file;  // reuse this split instead of making one
  std::filesystem::path scaffolds;   // TSV drug_name, scaffold: needed by tgsa-drug-blind
  std::filesystem::path out_dir;     // writes split.tsv and baselines.json; empty: write nothing
  AdditiveOptions additive;
};

struct BaselineRunResult {
  nlohmann::json json;  // {"data", "split", "excluded", "folds": [...], "mean": {...}, "sd": {...}}
  std::string table;    // test metrics per fold, then mean and sd over folds
};

BaselineRunResult run_baseline_evaluation(const BaselineRunOptions& options);

}  // namespace dispa::train
