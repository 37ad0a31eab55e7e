// A trained run loaded back for inference (`dispa predict`, `dispa explain`): the fold models and
// everything needed to featurise data the run never saw, from the files train_run.h documents.
//   * RUN_DIR is a fold folder (it holds run.json) or a run folder holding fold_<k>/ folders; a
//     run folder loads every fold (an ensemble) unless one fold is asked for.
//   * Each model is rebuilt from run.json "model", which must agree key by key with
//     fold_<k>/config.json (both are read; a differing key is an error naming it), and loads
//     fold_<k>/model.safetensors strictly, after its header was checked against the config.
//   * New expression is arranged to the training gene order ("genes") by symbol; the [P, S]
//     pathway index is rebuilt from the "pathways" gene symbols mapped onto that order, so it is
//     the index the model was trained with, whatever the columns of the new file.
//   * Drugs are featurised with the run's featurisation options ("data"): a SMILES never seen in
//     training is fragmented on the fly.
// Folds of one run must agree on genes, pathways, model and data options (checked on load).
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bio/expression.h"
#include "chem/drug_features.h"
#include "model/dispa.h"
#include "train/data_pipeline.h"
#include "train/dataset.h"

namespace dispa::train {

// What to do with a drug whose SMILES cannot be featurised: stop with an error naming the drug
// and its line (default), or skip it, counted and named in a warning.
enum class InvalidDrugs { error, skip };

// Prepared inputs for new data: FeaturizedDataset tables with the run's gene columns and pathway
// index (pairs left empty), plus what was noticed while aligning them.
struct InferenceInputs {
  FeaturizedDataset dataset;
  int64_t missing_genes = 0;            // training genes absent from the expression (set to 0)
  int64_t missing_pathway_genes = 0;    // of those, genes the model's pathways use
  std::vector<std::string> skipped_drugs;  // InvalidDrugs::skip: "name (line N): reason"
  std::vector<int> n_fragments_total;      // per kept drug: BRICS fragments before truncation to L
};

class TrainedRun {
 public:
  // fold < 0: a fold folder itself, or every fold_<k> of a run folder; fold >= 0: that fold only.
  static TrainedRun load(const std::filesystem::path& run_dir, int fold = -1);
  // The fold numbers load(run_dir) would load, without loading any model.
  static std::vector<int> available_folds(const std::filesystem::path& run_dir);

  const std::filesystem::path& dir() const { return dir_; }
  const DispaConfig& config() const { return config_; }
  const DataOptions& data_options() const { return data_; }
  const std::vector<std::string>& genes() const { return genes_; }
  const std::vector<std::string>& pathway_ids() const { return pathway_ids_; }
  const std::vector<std::string>& pathway_descriptions() const { return pathway_descriptions_; }
  const Tensor& pathway_gene_indices() const { return pathway_index_; }  // [P, S] i32 over genes()
  const chem::DrugFeaturizer& featurizer() const { return *featurizer_; }

  size_t n_models() const { return models_.size(); }
  Dispa& model(size_t i) { return *models_.at(i); }
  int fold(size_t i) const { return folds_.at(i); }
  // Moves every model to `device` and puts them in eval mode.
  void to(Device device);

  // Cells (all rows of `expression`) and drugs featurised for this run's models, on the CPU.
  // Missing genes are reported (count and examples); drug errors name `drug_source` and the line.
  InferenceInputs prepare(const bio::ExpressionMatrix& expression, const std::vector<chem::DrugRecord>& drugs,
                          InvalidDrugs invalid = InvalidDrugs::error,
                          const std::string& drug_source = "drugs") const;

 private:
  std::filesystem::path dir_;
  DispaConfig config_;
  DataOptions data_;
  std::vector<std::string> genes_, pathway_ids_, pathway_descriptions_;
  Tensor pathway_index_;
  std::unique_ptr<chem::DrugFeaturizer> featurizer_;
  std::vector<std::unique_ptr<Dispa>> models_;
  std::vector<int> folds_;
};

// Non-finite values in predictions ([model][pair], as predict_with_run returns them) are an error
// naming how many there are and the first pairs (fold, cell, drug): NaN weights or inputs
// propagate to the output, and a table with NaN in it must not look like a result.
void check_finite_predictions(const std::vector<std::vector<float>>& per_fold, const std::vector<int>& folds,
                              const FeaturizedDataset& ds);

// Reads a drugs.tsv for inference: problems in the table (duplicate names, empty SMILES, short
// rows) are errors naming the file and line.
std::vector<chem::DrugRecord> read_drugs_for_inference(const std::filesystem::path& path);

}  // namespace dispa::train
