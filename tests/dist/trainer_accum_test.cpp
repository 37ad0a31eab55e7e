// The trainer's gradient accumulation in one process: --accum 2 at batch 8 is batch 16 (the same
// rows per optimizer step, each micro-batch's loss scaled by its share) on a DiSPA without
// BatchNorm, whose statistics would be per micro-batch. The multi-rank versions run in
// train_e2e_test.cpp and ranks_test.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include <fmt/format.h>

#include "tests/dist/tiny_dispa.h"
#include "tests/support/close.h"
#include "train/trainer.h"

using namespace dispa;

using dispa::test::relative_error;

namespace {

// The tiny pairs as a FeaturizedDataset (9 cells x 5 drugs).
train::FeaturizedDataset tiny_dataset(const test::TinyPairs& t) {
  train::FeaturizedDataset d;
  for (int i = 0; i < 9; ++i) d.cell_ids.push_back(fmt::format("cell{}", i));
  for (int i = 0; i < 5; ++i) d.drug_names.push_back(fmt::format("drug{}", i));
  for (int64_t g = 0; g < t.config.genes; ++g) d.gene_symbols.push_back(fmt::format("G{}", g));
  d.cell_expression = t.cells;
  d.pathway_gene_indices = t.pathway_index;
  d.drug_global = t.drugs;
  d.drug_fragment_features = t.subs;
  d.drug_fragment_mask = t.mask;
  const std::vector<float> y = t.targets.to_vector<float>();
  for (int64_t p = 0; p < 45; ++p) d.pairs.push_back({int32_t(p / 5), int32_t(p % 5), y[size_t(p)]});
  return d;
}

}  // namespace

TEST_CASE("trainer: --accum 2 at batch 8 trains as batch 16 without BatchNorm (1e-5)") {
  const DispaConfig config = test::tiny_dispa_config({});  // no BatchNorm, no dropout
  const test::TinyPairs pairs(config);
  const train::FeaturizedDataset data = tiny_dataset(pairs);
  std::vector<int64_t> train_pairs, val_pairs;
  for (int64_t p = 0; p < 45; ++p) (p < 40 ? train_pairs : val_pairs).push_back(p);
  train::TrainerOptions o;
  o.epochs = 3;
  o.learning_rate = 1e-3;
  o.weight_decay = 1e-2;  // makes the gradient's scale matter to Adam
  o.early_stopping_patience = 0;
  o.seed = 5;
  Dispa whole(config, 3), accumulated(config, 3);
  o.batch_size = 16;
  const train::TrainResult a = train::train_model(whole, data, train_pairs, val_pairs, o);
  o.batch_size = 8;
  o.accum = 2;
  const train::TrainResult b = train::train_model(accumulated, data, train_pairs, val_pairs, o);
  REQUIRE(a.history.size() == 3);
  REQUIRE(b.history.size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    CAPTURE(e);
    CHECK(std::abs(b.history[e].train_loss - a.history[e].train_loss) <= 1e-5 * std::abs(a.history[e].train_loss));
    CHECK(std::abs(b.history[e].val_rmse - a.history[e].val_rmse) <= 1e-5 * a.history[e].val_rmse);
  }
  const NamedTensors pa = whole.named_parameters(), pb = accumulated.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    CAPTURE(pa[i].first);
    CHECK(relative_error(pb[i].second, pa[i].second) <= 1e-5);
  }
  // The same model trained at batch 8 without accumulation is a different training.
  o.accum = 1;
  Dispa small(config, 3);
  const train::TrainResult c = train::train_model(small, data, train_pairs, val_pairs, o);
  CHECK(std::abs(c.history[2].val_rmse - a.history[2].val_rmse) > 1e-4 * a.history[2].val_rmse);
}
