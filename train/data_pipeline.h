// From a data folder (the format of shared/data/gdsc2/README.md) to a FeaturizedDataset:
// expression.tsv -> cell rows (bio), a GMT -> the [P, S] pathway index (bio, sets >= min size),
// drugs.tsv -> drug and BRICS-fragment features (chem), response.tsv -> pairs (train/response).
// Pairs whose cell or drug is missing are counted, reported with examples and excluded.
// Also the side tables the splits and baselines need: lineage per cell, Murcko scaffold per drug,
// pathway scores per cell (ridge baseline).
#pragma once
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "bio/expression.h"
#include "bio/gmt.h"
#include "bio/pathway_index.h"
#include "chem/drug_features.h"
#include "train/dataset.h"
#include "train/response.h"

namespace dispa::train {

struct DataOptions {
  std::filesystem::path data_dir;      // expression.tsv, response.tsv, drugs.tsv (+ cells.tsv)
  std::filesystem::path gmt;           // gene sets; default data_dir/pathways_kegg.gmt
  bio::PathwayIndexOptions pathways;   // min size 5 (the paper's KEGG setting), no cap
  chem::DrugFeatureOptions drugs;      // L = 17, Morgan r=2 1024 bits + descriptors
  bio::ExpressionReadOptions expression;
  nlohmann::json to_json() const;      // recorded in run.json
  static DataOptions from_json(const nlohmann::json& j);
};

struct PreparedData {
  FeaturizedDataset dataset;    // cells and drugs in ResponseTable order
  ResponseTable responses;      // pairs, ids
  ExcludedPairs excluded;
  bio::PathwayIndex pathways;
  std::unordered_map<std::string, std::string> lineage_of_cell;   // empty if no cells.tsv
  std::unordered_map<std::string, std::string> scaffold_of_drug;  // Bemis-Murcko, "" if acyclic
};

PreparedData prepare_data(const DataOptions& options);

// Per-drug featurisation for prediction on new drugs with the options of a trained run.
// A drug that cannot be featurised is an error "DRUG_SOURCE:LINE: ..." naming the drug.
void featurize_drugs_into(const chem::DrugFeaturizer& featurizer, const std::vector<chem::DrugRecord>& drugs,
                          FeaturizedDataset& dataset, const std::string& drug_source = "drugs.tsv");

// The cell rows of `expression` arranged to `genes` (the training columns, by symbol). Genes absent
// from `expression` are filled with 0 (the mean of z-scored data) and counted in *missing.
Tensor align_expression(const bio::ExpressionMatrix& expression, const std::vector<std::string>& genes,
                        int64_t* missing);

}  // namespace dispa::train
