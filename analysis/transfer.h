// `dispa transfer` as a library call: zero-shot prediction of drug response for the cells or
// spots of another transcriptome (single-cell or spatial) with a DiSPA run trained on bulk cell
// lines (GDSC2).
//
//   counts (bio/count_matrix.h: 10x folder, .h5, .h5ad, TSV)
//     -> model genes (symbols matched case-insensitively, aliases; coverage of the pathway genes
//        reported, a warning below `low_coverage`, an error with no overlap)
//     -> optional pooling (spatial kNN smoothing, or pseudobulk per label)
//     -> harmonisation to the training scale (transfer_harmonise.h)
//     -> predictions of every unit x drug by the run's models (train/predict.h), in batches of
//        `batch_cells` units, so memory stays bounded for 100k+ cells without pooling
//
// Files written to `out` (docs/TRANSFER.md shows them on the shared data):
//   predictions.tsv       barcode (pseudobulk: label), drug_name, prediction (+ prediction_sd
//                         for an ensemble: sample sd over the fold models)
//   summary_by_drug.tsv   drug_name, n, mean_prediction, sd, min, max (over units)
//   summary_by_label.tsv  label, drug_name, n, mean_prediction, sd (labels given; pseudobulk: n =
//                         cells pooled, mean_prediction = the pooled profile's prediction, sd NA)
//   maps/<drug>.svg|.png  spots at their positions coloured by predicted ln IC50 (positions given)
//   report.html           settings, gene coverage, tables and maps in one self-contained page
//   transfer.json         settings and counts (machine-readable)
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/transfer_harmonise.h"
#include "bio/count_matrix.h"
#include "engine/dtype.h"
#include "train/trained_run.h"

namespace dispa::analysis {

enum class Pooling { none, knn, pseudobulk };
Pooling parse_pooling(const std::string& text);  // none|knn|pseudobulk

struct TransferOptions {
  std::filesystem::path run_dir;     // run folder (fold ensemble) or one fold_<k>/
  int fold = -1;
  std::filesystem::path counts;      // 10x folder, .h5, .h5ad or TSV
  bio::CountReadOptions read;
  std::filesystem::path drugs;       // drugs.tsv (drug_name, smiles)
  std::filesystem::path out;         // output folder (created)
  std::filesystem::path positions;   // optional Space Ranger tissue_positions.csv
  std::filesystem::path labels;      // optional barcode<TAB>label TSV
  std::filesystem::path aliases;     // optional extra alias pairs (previous<TAB>current)
  HarmoniseOptions harmonise;
  Pooling pooling = Pooling::none;
  int knn = 6;                       // neighbours (besides the spot itself) for Pooling::knn
  double low_coverage = 0.8;         // warn below this share of the model's pathway genes
  std::vector<std::string> map_drugs;  // empty: the `auto_maps` drugs whose predictions vary most
  int auto_maps = 4;
  std::string title;                 // report title; default: the counts path
  Device device = Device::cpu();
  int64_t batch_cells = 1024;        // units per prediction batch
  int64_t batch_size = 4096;         // pairs per forward pass
  train::InvalidDrugs invalid_drugs = train::InvalidDrugs::error;
};

// The contents of transfer.json.
nlohmann::json run_transfer(const TransferOptions& options);

}  // namespace dispa::analysis
