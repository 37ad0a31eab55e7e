// Whole-screen prediction: every cell x drug pair of a prepared dataset, for one model or a fold
// ensemble, in cell-major order (pair k is cell k / N, drug k % N for N drugs), streamed batch by
// batch to a callback so that memory does not grow with the number of pairs.
//
// Why it is fast: DiSPA's cell side (gene FFN, slab norm) depends on the cell alone and its drug
// side (substructure and drug FFNs) on the drug alone, so a screen encodes every drug once
// (encode_drugs, all N drugs' tokens kept: N x (L + 1) x E floats per model) and every cell once
// (encode_cells, in chunks of max(1, batch_size / N) cells); per pair only the two attentions and
// the head run (Dispa::forward_tokens with row maps). A framework's batch inference runs both FFNs
// for every pair.
//
// Memory: besides the inputs and the drug tokens, one chunk of cells' tokens and one batch of at
// most batch_size pairs are alive at a time; ScreenStats counts what was done so tests check both.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/dispa.h"
#include "train/dataset.h"

namespace dispa::train {

struct ScreenBatch {
  int64_t first_pair = 0;                     // cell-major index of the batch's first pair
  std::vector<int32_t> cells, drugs;          // per pair of the batch: rows of the dataset's tables
  std::vector<std::vector<float>> per_model;  // [model][pair of the batch]
};

struct ScreenStats {
  int64_t pairs = 0, batches = 0;
  int64_t max_batch_pairs = 0;        // largest batch handed to the sink (<= batch_size)
  int64_t max_chunk_cells = 0;        // most cells whose tokens were alive at once
  int64_t cell_encodings = 0;         // cell rows encoded, over all models (= cells x models)
  int64_t drug_encodings = 0;         // drug rows encoded, over all models (= drugs x models)
};

using ScreenSink = std::function<void(const ScreenBatch&)>;

// Predicts every pair of cells x drugs of `data` (data.pairs is ignored) with each model (in eval
// mode, on the device of data's tables) and calls `sink` once per batch, in pair order. The models
// must agree on the configuration; batch_size > 0.
ScreenStats screen_all_pairs(const std::vector<const Dispa*>& models, const FeaturizedDataset& data,
                             int64_t batch_size, const ScreenSink& sink);

}  // namespace dispa::train
