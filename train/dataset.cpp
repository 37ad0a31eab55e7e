#include "train/dataset.h"

#include "engine/ops/gather.h"

namespace dispa::train {

void FeaturizedDataset::to(Device device) {
  cell_expression = cell_expression.to(device);
  pathway_gene_indices = pathway_gene_indices.to(device);
  drug_global = drug_global.to(device);
  drug_fragment_features = drug_fragment_features.to(device);
  drug_fragment_mask = drug_fragment_mask.to(device);
}

void FeaturizedDataset::fill_config(DispaConfig& config) const {
  config.genes = cell_expression.dim(1);
  config.pathways = pathway_gene_indices.dim(0);
  config.max_genes_per_pathway = pathway_gene_indices.dim(1);
  config.drug_dim = drug_global.dim(1);
  config.substructure_dim = drug_fragment_features.dim(2) == drug_global.dim(1) ? 0 : drug_fragment_features.dim(2);
  config.max_substructures = drug_fragment_features.dim(1);
}

Batch make_batch(const FeaturizedDataset& d, const std::vector<int64_t>& pair_indices) {
  const int64_t B = static_cast<int64_t>(pair_indices.size());
  std::vector<int32_t> cells(B), drugs(B);
  std::vector<float> target(B);
  for (int64_t i = 0; i < B; ++i) {
    const Pair& p = d.pairs.at(static_cast<size_t>(pair_indices[i]));
    cells[i] = p.cell;
    drugs[i] = p.drug;
    target[i] = p.ln_ic50;
  }
  const Device device = d.cell_expression.device();
  const Tensor cell_index = Tensor::from_vector(cells, {B}, device);
  const Tensor drug_index = Tensor::from_vector(drugs, {B}, device);
  Batch batch;
  batch.inputs.expression = gather_rows(d.cell_expression, cell_index);             // [B, G]
  batch.inputs.pathway_gene_indices = d.pathway_gene_indices;                        // [P, S]
  batch.inputs.drug = gather_rows(d.drug_global, drug_index);                       // [B, Dd]
  batch.inputs.substructures = gather_rows(d.drug_fragment_features, drug_index);   // [B, L, Dd]
  batch.inputs.mask = gather_rows(d.drug_fragment_mask, drug_index);                // [B, L]
  batch.target = Tensor::from_vector(target, {B}, device);
  batch.pair_indices = pair_indices;
  return batch;
}

}  // namespace dispa::train
