// `dispa explain` as a library call: one (cell, drug) pair through one fold model of a trained run,
// in eval mode, and both attention maps written out for reading:
//
//   DIR/explanation.json               cell, drug, fold, prediction, fragments, λ of each map, ...
//   DIR/path2sub_attention.tsv         pathway_id, pathway_name, one column per fragment SMILES:
//                                      Path2Sub attention (pathway queries over fragment keys),
//                                      mean over heads
//   DIR/path2sub_attention_by_head.tsv the same with a leading `head` column, one block per head
//   DIR/drug2path_attention.tsv        pathway_id, pathway_name, head_0..head_{H-1}, mean: Drug2Path
//                                      attention (the drug query over pathway keys)
//   DIR/top_pathways.tsv               fragment_index, fragment, rank, pathway_id, pathway_name,
//                                      attention: the top-k pathways of each fragment (head mean)
//   DIR/path2sub_heatmap.svg           pathway names x fragment SMILES, diverging colour scale
//   DIR/drug2path.svg                  bar chart of the top pathways of the Drug2Path map
//
// With internals (analysis/internals.h): DIR/internals.safetensors and DIR/internals/ (the pair runs
// on the CPU). With attributions (analysis/attribution.h): DIR/attributions/ (attribution_tables.h).
// With all_cells: no single pair; the drug's attributions over every cell of the expression table
// (or the first max_cells), aggregated, in DIR/attributions/.
//
// Differential attention (Ye et al. 2024) is A = softmax1 − λ·softmax2 per head, so entries can be
// negative and each row (a pathway over the drug's fragments; the drug over the pathways) sums to
// 1 − λ; vanilla attention rows sum to 1. Only the drug's real fragments are columns (padding
// columns are 0 and left out).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "train/trained_run.h"

namespace dispa::analysis {

struct ExplainOptions {
  std::filesystem::path run_dir;     // fold folder or run folder (then fold 0 unless `fold`)
  int fold = -1;
  std::string cell, drug;
  std::filesystem::path expression;  // default: expression.tsv of the run's data folder
  std::filesystem::path drugs;       // default: drugs.tsv of the run's data folder
  std::filesystem::path out_dir;
  Device device = Device::cpu();
  int top_k = 10;                    // top_pathways.tsv: pathways per fragment (>= 1)
  int top_bars = 20;                 // drug2path.svg: pathways shown (>= 1)
  bool internals = false;            // write internals.safetensors and internals/ (runs on the CPU)
  bool attributions = false;         // write attributions/
  bool all_cells = false;            // attributions aggregated over the cells (no --cell)
  int max_cells = 0;                 // all_cells: at most this many cells (first ones); 0 = all
  int ig_steps = 16;                 // integrated gradients: midpoint-rule steps
};

struct Explanation {
  std::string cell_id, drug_name, attention_kind;
  int fold = 0, heads = 0;
  double prediction = 0;
  std::vector<std::string> fragments;  // the drug's kept fragments (columns), F <= L
  int n_fragments_total = 0;           // before truncation to L
  std::vector<std::string> pathway_ids, pathway_names;
  std::vector<float> path2sub;   // [H, P, F]
  std::vector<float> drug2path;  // [H, P]
  double lambda_path2sub = 0, lambda_drug2path = 0;  // differential only (0 for vanilla)

  size_t n_pathways() const { return pathway_ids.size(); }
  float path2sub_at(int head, size_t p, size_t f) const;
  float path2sub_mean(size_t p, size_t f) const;  // over heads
  float drug2path_mean(size_t p) const;
};

// Runs model `model_index` of `run` on row `cell` and row `drug` of `inputs` (already on the
// model's device).
Explanation explain_pair(train::TrainedRun& run, size_t model_index, const train::FeaturizedDataset& inputs, int32_t cell,
                         int32_t drug);

// Writes the files listed above into `dir` (created).
void write_explanation(const std::filesystem::path& dir, const Explanation& e, int top_k, int top_bars);

// Loads the run, featurises the cell and the drug, explains and writes; returns the explanation.
Explanation run_explain(const ExplainOptions& options);

}  // namespace dispa::analysis
