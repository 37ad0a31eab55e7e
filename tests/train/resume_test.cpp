// A training run killed after some epochs and resumed from its checkpoint must end exactly where an
// uninterrupted run ends (CPU, same thread count): same history, same best epoch, same predictions.
#include <doctest/doctest.h>

#include <filesystem>

#include "engine/log.h"
#include "tests/support/shared_data.h"
#include "train/data_pipeline.h"
#include "train/splits.h"
#include "train/trainer.h"

using namespace dispa;
namespace fs = std::filesystem;

namespace {
DispaConfig tiny_config(const train::FeaturizedDataset& data) {
  DispaConfig c;
  c.embed_dim = 16;
  c.ffn_hidden = 24;
  c.attn_dim = 16;
  c.heads = 2;
  c.head_dims = {16, 8};
  c.ffn_dropout = 0.2;  // dropout on, so the RNG state must be restored too
  c.head_dropout = 0.1;
  data.fill_config(c);
  return c;
}
}  // namespace

TEST_CASE("trainer: a killed and resumed run ends with the same metrics as an uninterrupted one") {
  const fs::path dir = test::shared_path_or_skip("data/gdsc2-mini");
  if (dir.empty()) return;
  logging::set_quiet(true);
  train::DataOptions data_options;
  data_options.data_dir = dir;
  data_options.gmt = dir / "pathways_kegg34.gmt";
  data_options.drugs.fingerprint = {2, 128};
  train::PreparedData data = train::prepare_data(data_options);
  train::KFoldOptions k;
  k.folds = 3;
  const train::Split split = train::kfold_split(data.responses, k);
  const auto train_pairs = split.indices(0, train::Role::train), val_pairs = split.indices(0, train::Role::val),
             test_pairs = split.indices(0, train::Role::test);
  const DispaConfig config = tiny_config(data.dataset);

  const fs::path root = fs::temp_directory_path() / "dispa_resume_test";
  fs::remove_all(root);
  train::TrainerOptions options;
  options.epochs = 4;
  options.batch_size = 64;
  options.learning_rate = 3e-3;
  options.early_stopping_patience = 0;
  options.seed = 5;

  options.run_dir = (root / "uninterrupted").string();
  Dispa a(config, 11);
  const train::TrainResult full = train::train_model(a, data.dataset, train_pairs, val_pairs, options);
  REQUIRE(full.finished);

  options.run_dir = (root / "killed").string();
  options.stop_after_epochs = 2;  // the "kill": return after two epochs, checkpoint on disk
  {
    Dispa b(config, 11);
    const train::TrainResult partial = train::train_model(b, data.dataset, train_pairs, val_pairs, options);
    CHECK(!partial.finished);
    CHECK(partial.history.size() == 2);
  }
  options.stop_after_epochs = 0;
  options.resume = true;
  Dispa c(config, 11);  // a fresh process: new model object, state only from the checkpoint
  const train::TrainResult resumed = train::train_model(c, data.dataset, train_pairs, val_pairs, options);
  logging::set_quiet(false);
  REQUIRE(resumed.finished);
  REQUIRE(resumed.history.size() == full.history.size());
  for (size_t i = 0; i < full.history.size(); ++i) {
    CAPTURE(i);
    CHECK(resumed.history[i].train_loss == full.history[i].train_loss);
    CHECK(resumed.history[i].val_rmse == full.history[i].val_rmse);
  }
  CHECK(resumed.best_epoch == full.best_epoch);
  const auto pa = train::predict_pairs(a, data.dataset, test_pairs), pc = train::predict_pairs(c, data.dataset, test_pairs);
  CHECK(pa == pc);
  fs::remove_all(root);
}
