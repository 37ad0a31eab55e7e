// A featurised drug-response dataset held as device tensors: one row per cell and per drug, and
// the measured pairs. Batches gather rows by index on the device, so per step only two small
// index vectors and the targets are uploaded.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "model/dispa.h"

namespace dispa::train {

struct Pair {
  int32_t cell = 0;  // row of cell_expression
  int32_t drug = 0;  // row of drug_global / drug_fragments
  float ln_ic50 = 0.0f;
};

struct FeaturizedDataset {
  std::vector<std::string> cell_ids;       // row order of cell_expression
  std::vector<std::string> drug_names;     // row order of the drug tables
  std::vector<std::string> pathway_ids;    // row order of pathway_gene_indices
  std::vector<std::string> gene_symbols;   // columns of cell_expression
  std::vector<std::vector<std::string>> drug_fragments;  // fragment SMILES per drug (kept ones, ≤ L)
  Tensor cell_expression;       // [C, G] f32
  Tensor pathway_gene_indices;  // [P, S] i32, -1 padding
  Tensor drug_global;           // [N, Dd] f32
  Tensor drug_fragment_features;  // [N, L, Dd] f32, padding rows zero
  Tensor drug_fragment_mask;    // [N, L] f32, 1 = valid
  std::vector<Pair> pairs;

  // Copies the tables to `device` (pairs stay on the host).
  void to(Device device);
  // Model dimensions implied by the tables (genes, pathways, S, Dd, L).
  void fill_config(DispaConfig& config) const;
};

// Inputs for the pairs selected by `indices` (positions into dataset.pairs) plus their targets.
// De-duplicated (the default, what training uses): one expression row per distinct cell and one
// drug row per distinct drug, with cell_rows / drug_rows mapping the pairs onto them. Otherwise one
// row per pair and no row maps (what a framework data loader feeds; dispa bench-step --no-dedup).
struct Batch {
  DispaInputs inputs;
  Tensor target;  // [B] f32
  std::vector<int64_t> pair_indices;
};
Batch make_batch(const FeaturizedDataset& dataset, const std::vector<int64_t>& pair_indices,
                 bool deduplicate = true);

}  // namespace dispa::train
