// A small DiSPA and a synthetic pair table for the data-parallel tests: every rank builds the same
// data from fixed seeds, so each can compute the single-process reference itself.
#pragma once
#include <vector>

#include "engine/ops/gather.h"
#include "model/dispa.h"

namespace dispa::test {

inline DispaConfig tiny_dispa_config(std::vector<int64_t> head_dims = {8, 8}) {
  DispaConfig c;
  c.embed_dim = 8;
  c.ffn_hidden = 12;
  c.attn_dim = 8;
  c.heads = 2;
  c.head_dims = std::move(head_dims);
  c.genes = 20;
  c.pathways = 5;
  c.max_genes_per_pathway = 6;
  c.drug_dim = 10;
  c.max_substructures = 4;
  c.ffn_dropout = 0.0;  // masks are drawn per computed row: equivalence needs dropout off
  c.head_dropout = 0.0;
  return c;
}

// 9 cells x 5 drugs = 45 pairs with targets, in a fixed order.
struct TinyPairs {
  DispaConfig config;
  Tensor cells, pathway_index, drugs, subs, mask, targets;  // targets [45]
  int64_t pairs() const { return 45; }

  explicit TinyPairs(const DispaConfig& c) : config(c) {
    cells = Tensor::normal({9, c.genes}, 0, 1, 101);
    std::vector<int32_t> idx(size_t(c.pathways * c.max_genes_per_pathway));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = (i % 7 == 6) ? -1 : int32_t((i * 7) % c.genes);
    pathway_index = Tensor::from_vector(idx, {c.pathways, c.max_genes_per_pathway});
    drugs = Tensor::normal({5, c.drug_dim}, 0, 1, 102);
    subs = Tensor::normal({5, c.max_substructures, c.drug_dim}, 0, 1, 103);
    std::vector<float> m(size_t(5 * c.max_substructures), 0.f);
    for (int64_t d = 0; d < 5; ++d)
      for (int64_t l = 0; l <= d % c.max_substructures; ++l) m[size_t(d * c.max_substructures + l)] = 1.f;
    mask = Tensor::from_vector(m, {5, c.max_substructures});
    targets = Tensor::normal({45}, 0, 1, 104);
  }

  // The expanded batch of the given pair indices (pair p = cell p / 5, drug p % 5).
  DispaInputs batch(const std::vector<int64_t>& pairs, Tensor* target) const {
    std::vector<int32_t> cell_rows, drug_rows, pair_rows;
    for (int64_t p : pairs) {
      cell_rows.push_back(int32_t(p / 5));
      drug_rows.push_back(int32_t(p % 5));
      pair_rows.push_back(int32_t(p));
    }
    const int64_t b = int64_t(pairs.size());
    const Tensor cr = Tensor::from_vector(cell_rows, {b}), dr = Tensor::from_vector(drug_rows, {b});
    *target = gather_rows(targets.reshape({45, 1}), Tensor::from_vector(pair_rows, {b})).reshape({b});
    return {gather_rows(cells, cr), pathway_index, gather_rows(drugs, dr), gather_rows(subs, dr),
            gather_rows(mask, dr), Tensor(), Tensor()};
  }
};

}  // namespace dispa::test
