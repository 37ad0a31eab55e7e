// The tiny trained run that the trained-run tests (predict, explain, transfer, evaluate) share:
// gdsc2-mini, 2 folds, 1 epoch, a 16-wide model, no ridge baseline. Each test binary trains it
// once, on first use, through `run_training` (the library call `dispa train` makes).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/log.h"
#include "tests/support/shared_data.h"
#include "train/train_run.h"
#include "train/tsv_reader.h"

namespace dispa::test {

struct TinyRun {
  std::filesystem::path data, run;
  bool ok = false;  // false when the shared data are absent (the test then skips)
};

// A 16-wide DiSPA (2 heads, head 16-8) and no ridge baseline: a gdsc2-mini run in about a second.
inline void use_tiny_model(train::TrainRunOptions& o) {
  o.model.embed_dim = 16;
  o.model.ffn_hidden = 32;
  o.model.attn_dim = 16;
  o.model.heads = 2;
  o.model.head_dims = {16, 8};
  o.ridge_baseline = false;
}

// Trains the tiny run into DISPA_BINARY_DIR/test_tmp/<name> (every fold, or only `fold`).
inline TinyRun train_tiny_run(const std::string& name, std::optional<int> fold = std::nullopt) {
  TinyRun r;
  r.data = shared_path_or_skip("data/gdsc2-mini");
  if (r.data.empty()) return r;
  logging::set_quiet(true);
  r.run = std::filesystem::path(DISPA_BINARY_DIR) / "test_tmp" / name;
  std::filesystem::remove_all(r.run);
  train::TrainRunOptions o;
  o.data.data_dir = r.data;
  o.data.gmt = r.data / "pathways_kegg34.gmt";
  o.folds = 2;
  o.fold = fold;
  o.trainer.epochs = 1;
  o.trainer.batch_size = 64;
  use_tiny_model(o);
  o.out_dir = r.run;
  train::run_training(o);
  r.ok = true;
  return r;
}

// A TSV whose first two columns identify a (cell, drug) pair: pair -> every field of its row.
inline std::map<std::pair<std::string, std::string>, std::vector<std::string>> read_pair_table(
    const std::filesystem::path& file, std::vector<std::string>* header = nullptr) {
  train::TsvReader reader(file);
  if (header) *header = reader.header();
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> rows;
  while (reader.next()) rows[{reader.field(0), reader.field(1)}] = reader.fields();
  return rows;
}

}  // namespace dispa::test
