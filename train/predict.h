// `dispa predict` as a library call: a trained run (one fold, or the fold ensemble of a run folder)
// predicts ln(IC50) for cells and drugs given as files, including cells and drugs the run never
// saw (trained_run.h: expression is matched to the training genes by symbol, new SMILES are
// fragmented on the fly). Eval mode, no tape, batched.
//
// Pairs: every cell x drug (cells in expression-file order, drugs in drugs-file order within each
// cell: a whole screen, predicted by screen_all_pairs in predict_screen.h, which encodes each cell
// and each drug once and streams the rows to the file, so memory stays bounded for 10^6+ pairs),
// or the rows of a pairs TSV (header with `cell_id` and `drug_name`, other columns ignored;
// an id absent from the expression or drugs file is an error naming the file and line).
// Output TSV (header, one row per pair, in pair order):
//   cell_id  drug_name  prediction                  (one model)
//   cell_id  drug_name  prediction  prediction_sd   (ensemble: mean over folds, sample sd)
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "train/trained_run.h"

namespace dispa::train {

struct PredictOptions {
  std::filesystem::path run_dir;     // fold folder or run folder (ensemble)
  int fold = -1;                     // >= 0: only this fold of a run folder
  std::filesystem::path expression;  // any layout bio::read_expression reads
  std::filesystem::path drugs;       // drugs.tsv (drug_name, smiles)
  std::filesystem::path pairs;       // optional pairs TSV; empty = every cell x drug
  std::filesystem::path out;         // predictions TSV; empty = not written
  Device device = Device::cpu();
  int64_t batch_size = 1024;
  InvalidDrugs invalid_drugs = InvalidDrugs::error;
  // false: the returned table holds only `folds` and `pairs` (rows go to `out` as they are
  // computed); what dispa predict uses, so a screen's memory does not grow with its pairs.
  bool keep_table = true;
};

struct PredictionTable {
  std::vector<std::string> cell_ids, drug_names;  // one per pair
  std::vector<int> folds;                         // the models, in per_fold order
  std::vector<std::vector<float>> per_fold;       // [model][pair]
  std::vector<float> prediction, sd;              // mean over models; sample sd (0 for one model)
  int64_t pairs = 0;                              // pairs predicted (also without keep_table)
};

PredictionTable run_predict(const PredictOptions& options);

// Predictions of every model of `run` for the pairs of `inputs.pairs` ([model][pair]); batches of
// `batch_size`, a progress line for large jobs. The dataset must be on the models' device.
std::vector<std::vector<float>> predict_with_run(TrainedRun& run, const FeaturizedDataset& inputs,
                                                 int64_t batch_size);

void write_prediction_table(const std::filesystem::path& file, const PredictionTable& table);

}  // namespace dispa::train
