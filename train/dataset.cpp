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

Batch make_batch(const FeaturizedDataset& d, const std::vector<int64_t>& pair_indices, bool deduplicate) {
  const int64_t B = static_cast<int64_t>(pair_indices.size());
  // Distinct cells and drugs of the batch (first-appearance order) and each pair's row among them:
  // the model then runs the cell-only and drug-only parts once per distinct cell / drug. Without
  // de-duplication every pair gets its own rows.
  std::vector<int32_t> cells, drugs, cell_rows(static_cast<size_t>(B)), drug_rows(static_cast<size_t>(B));
  std::vector<int32_t> cell_slot(d.cell_ids.size(), -1), drug_slot(d.drug_names.size(), -1);
  std::vector<float> target(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    const Pair& p = d.pairs.at(static_cast<size_t>(pair_indices[size_t(i)]));
    if (!deduplicate || cell_slot[size_t(p.cell)] < 0) {
      cell_slot[size_t(p.cell)] = int32_t(cells.size());
      cells.push_back(p.cell);
    }
    if (!deduplicate || drug_slot[size_t(p.drug)] < 0) {
      drug_slot[size_t(p.drug)] = int32_t(drugs.size());
      drugs.push_back(p.drug);
    }
    cell_rows[size_t(i)] = cell_slot[size_t(p.cell)];
    drug_rows[size_t(i)] = drug_slot[size_t(p.drug)];
    target[size_t(i)] = p.ln_ic50;
  }
  const Device device = d.cell_expression.device();
  const Tensor cell_index = Tensor::from_vector(cells, {int64_t(cells.size())}, device);
  const Tensor drug_index = Tensor::from_vector(drugs, {int64_t(drugs.size())}, device);
  Batch batch;
  batch.inputs.expression = gather_rows(d.cell_expression, cell_index);             // [Bc, G]
  batch.inputs.pathway_gene_indices = d.pathway_gene_indices;                        // [P, S]
  batch.inputs.drug = gather_rows(d.drug_global, drug_index);                       // [Bd, Dd]
  batch.inputs.substructures = gather_rows(d.drug_fragment_features, drug_index);   // [Bd, L, Df]
  batch.inputs.mask = gather_rows(d.drug_fragment_mask, drug_index);                // [Bd, L]
  if (deduplicate) {
    batch.inputs.cell_rows = Tensor::from_vector(cell_rows, {B}, device);
    batch.inputs.drug_rows = Tensor::from_vector(drug_rows, {B}, device);
  }
  batch.target = Tensor::from_vector(target, {B}, device);
  batch.pair_indices = pair_indices;
  return batch;
}

}  // namespace dispa::train
