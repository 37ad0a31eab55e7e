// A DiSPA small enough to check by hand, with its data: `pathways` pathways over 2 genes each,
// `cells` cells, one drug per entry of `fragments` (its number of real fragments; L slots, the
// rest padding), random features and weights from fixed seeds. Optionally in f64: parameters and
// tables are converted in place, so finite differences are exact to ~1e-9.
#pragma once
#include <vector>

#include <fmt/format.h>

#include "engine/tensor.h"
#include "model/dispa.h"
#include "train/dataset.h"

namespace dispa::test {

struct TinyModel {
  DispaConfig config;
  std::unique_ptr<Dispa> model;
  train::FeaturizedDataset data;
};

// Rebinds t's storage to an f64 copy (every handle of t sees it), as Module::to does for devices.
inline void make_f64(const Tensor& t) {
  if (!t.defined() || t.dtype() == DType::f64) return;
  const Tensor d = t.to(DType::f64);
  TensorImpl& impl = t.impl();
  impl.storage = d.impl().storage;
  impl.offset = d.impl().offset;
  impl.dtype = DType::f64;
}

inline TinyModel tiny_model(const std::string& attention, int pathways, int cells, const std::vector<int>& fragments,
                            bool f64, uint64_t seed = 11) {
  TinyModel t;
  DispaConfig& c = t.config;
  c.attention = attention;
  c.embed_dim = 4;
  c.ffn_hidden = 6;
  c.attn_dim = 4;
  c.heads = 1;
  c.head_dims = {4};
  c.ffn_dropout = 0.0;
  c.head_dropout = 0.0;
  c.genes = 2 * pathways;
  c.pathways = pathways;
  c.max_genes_per_pathway = 2;
  c.drug_dim = 3;
  c.max_substructures = 3;
  const int64_t L = c.max_substructures, N = int64_t(fragments.size());
  train::FeaturizedDataset& d = t.data;
  for (int i = 0; i < cells; ++i) d.cell_ids.push_back(fmt::format("C{}", i));
  for (int64_t j = 0; j < N; ++j) d.drug_names.push_back(fmt::format("D{}", j));
  for (int p = 0; p < pathways; ++p) d.pathway_ids.push_back(fmt::format("P{}", p));
  for (int g = 0; g < c.genes; ++g) d.gene_symbols.push_back(fmt::format("G{}", g));
  std::vector<int32_t> index;
  for (int p = 0; p < pathways; ++p) index.insert(index.end(), {2 * p, 2 * p + 1});
  d.pathway_gene_indices = Tensor::from_vector(index, {pathways, 2});
  d.cell_expression = Tensor::normal({cells, c.genes}, 0.0, 1.0, seed, 0);
  d.drug_global = Tensor::normal({N, c.drug_dim}, 0.0, 1.0, seed, 1u << 20);
  std::vector<float> features = Tensor::normal({N, L, c.drug_dim}, 0.0, 1.0, seed, 2u << 20).to_vector<float>();
  std::vector<float> mask(size_t(N * L), 0.0f);
  for (int64_t j = 0; j < N; ++j) {
    d.drug_fragments.emplace_back();
    for (int64_t l = 0; l < L; ++l) {
      const bool valid = l < fragments[size_t(j)];
      mask[size_t(j * L + l)] = valid ? 1.0f : 0.0f;
      if (valid) d.drug_fragments.back().push_back(fmt::format("[{}*]C{}", l, j));
      else
        for (int64_t k = 0; k < c.drug_dim; ++k) features[size_t((j * L + l) * c.drug_dim + k)] = 0.0f;
    }
  }
  d.drug_fragment_features = Tensor::from_vector(features, {N, L, c.drug_dim});
  d.drug_fragment_mask = Tensor::from_vector(mask, {N, L});
  for (int i = 0; i < cells; ++i)
    for (int64_t j = 0; j < N; ++j) d.pairs.push_back({i, int32_t(j), 0.0f});
  t.model = std::make_unique<Dispa>(c, seed);
  t.model->eval();
  if (f64) {
    for (const auto& [_, p] : t.model->named_parameters()) make_f64(p);
    for (const auto& [_, b] : t.model->named_buffers()) make_f64(b);
    for (Tensor* x : {&d.cell_expression, &d.drug_global, &d.drug_fragment_features, &d.drug_fragment_mask}) make_f64(*x);
  }
  return t;
}

}  // namespace dispa::test
