// Whole-screen prediction (see predict_screen.h).
#include "train/predict_screen.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops/shape.h"

namespace dispa::train {
namespace {

Tensor row_index(const std::vector<int32_t>& rows, Device device) {
  return Tensor::from_vector(rows, {int64_t(rows.size())}).to(device);
}

// Drug-side tokens of rows [d0, d1) of every drug's tokens (the whole table when it is all).
DispaTokens drug_range(const DispaTokens& all, int64_t d0, int64_t d1) {
  if (d0 == 0 && d1 == all.drug_token.dim(0)) return all;
  DispaTokens t;
  t.fragment_tokens = slice(all.fragment_tokens, 0, d0, d1);
  t.drug_token = slice(all.drug_token, 0, d0, d1);
  t.mask = slice(all.mask, 0, d0, d1);
  return t;
}

}  // namespace

ScreenStats screen_all_pairs(const std::vector<const Dispa*>& models, const FeaturizedDataset& data,
                             int64_t batch_size, const ScreenSink& sink) {
  DISPA_CHECK(batch_size > 0, "predict: batch size must be positive, got {}", batch_size);
  DISPA_CHECK(!models.empty(), "predict: no model to screen with");
  NoGrad no_grad;
  const int64_t C = data.cell_expression.dim(0), N = data.drug_global.dim(0);
  const Device device = data.cell_expression.device();
  ScreenStats stats;
  if (C == 0 || N == 0) return stats;

  // Every drug once per model, in chunks of batch_size drugs (bounded activations).
  std::vector<DispaTokens> drugs(models.size());
  for (size_t m = 0; m < models.size(); ++m) {
    std::vector<Tensor> fragments, tokens, masks;
    for (int64_t d0 = 0; d0 < N; d0 += batch_size) {
      const int64_t d1 = std::min(N, d0 + batch_size);
      DispaTokens t = models[m]->encode_drugs(slice(data.drug_global, 0, d0, d1),
                                              slice(data.drug_fragment_features, 0, d0, d1),
                                              slice(data.drug_fragment_mask, 0, d0, d1));
      fragments.push_back(t.fragment_tokens);
      tokens.push_back(t.drug_token);
      masks.push_back(t.mask);
    }
    drugs[m].fragment_tokens = fragments.size() == 1 ? fragments[0] : concat(fragments, 0);
    drugs[m].drug_token = tokens.size() == 1 ? tokens[0] : concat(tokens, 0);
    drugs[m].mask = masks.size() == 1 ? masks[0] : concat(masks, 0);
    stats.drug_encodings += N;
  }

  // Cells in chunks whose pairs fill about one batch; a chunk of one cell is split over drug
  // ranges when N > batch_size.
  const int64_t chunk_cells = std::max<int64_t>(1, batch_size / N);
  const int64_t drugs_per_batch = std::min(N, batch_size);
  std::vector<Tensor> cell_tokens(models.size());
  ScreenBatch batch;
  batch.per_model.resize(models.size());
  for (int64_t c0 = 0; c0 < C; c0 += chunk_cells) {
    const int64_t c1 = std::min(C, c0 + chunk_cells);
    const Tensor expression = slice(data.cell_expression, 0, c0, c1);
    for (size_t m = 0; m < models.size(); ++m)
      cell_tokens[m] = models[m]->encode_cells(expression, data.pathway_gene_indices);  // [c1 - c0, P, E]
    stats.cell_encodings += (c1 - c0) * int64_t(models.size());
    stats.max_chunk_cells = std::max(stats.max_chunk_cells, c1 - c0);
    for (int64_t d0 = 0; d0 < N; d0 += drugs_per_batch) {
      const int64_t d1 = std::min(N, d0 + drugs_per_batch);
      batch.cells.clear();
      batch.drugs.clear();
      std::vector<int32_t> cell_rows, drug_rows;
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t d = d0; d < d1; ++d) {
          batch.cells.push_back(int32_t(c));
          batch.drugs.push_back(int32_t(d));
          cell_rows.push_back(int32_t(c - c0));
          drug_rows.push_back(int32_t(d - d0));
        }
      batch.first_pair = c0 * N + d0;
      const Tensor cell_index = row_index(cell_rows, device), drug_index = row_index(drug_rows, device);
      for (size_t m = 0; m < models.size(); ++m) {
        DispaTokens t = drug_range(drugs[m], d0, d1);
        t.pathway_tokens = cell_tokens[m];
        t.cell_rows = cell_index;
        t.drug_rows = drug_index;
        batch.per_model[m] =
            models[m]->forward_tokens(t, ForwardOutputs::prediction).prediction.to(Device::cpu()).to_vector<float>();
      }
      const int64_t n = int64_t(batch.cells.size());
      stats.pairs += n;
      stats.batches += 1;
      stats.max_batch_pairs = std::max(stats.max_batch_pairs, n);
      sink(batch);
    }
  }
  return stats;
}

}  // namespace dispa::train
