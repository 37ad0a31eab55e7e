// train/checkpoint: a checkpoint restores model, optimizer, schedule, RNG and the position inside
// an epoch exactly; a corrupted or truncated checkpoint is refused naming the file, and the
// previous one is used when it verifies.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "engine/log.h"
#include "tests/support/error_of.h"
#include "tests/train/fault_support.h"
#include "tests/train/temp_dir.h"
#include "train/checkpoint.h"

using namespace dispa;
using namespace dispa::train;
namespace fs = std::filesystem;

namespace {

DispaConfig small_config() {
  DispaConfig c;
  c.embed_dim = 8;
  c.ffn_hidden = 8;
  c.attn_dim = 8;
  c.heads = 2;
  c.head_dims = {8, 4};
  c.genes = 10;
  c.pathways = 3;
  c.max_genes_per_pathway = 4;
  c.drug_dim = 6;
  c.max_substructures = 3;
  return c;
}

// A model with its optimizer, schedule and RNG, as the trainer holds them.
struct Training {
  Dispa model;
  Adam optimizer;
  ReduceLROnPlateau plateau;
  explicit Training(uint64_t seed)
      : model(small_config(), seed),
        optimizer(model.named_parameters(), 1e-3, 0.9, 0.999, 1e-8, 1e-4),
        plateau(optimizer, {"min", 0.5, 2, 1e-4, "rel", 0, 1e-6, 1e-8}) {}
  TrainingParts parts() { return {model, optimizer, plateau, model.dropout_rng(), 32}; }
};

std::map<std::string, Tensor> host(const std::map<std::string, Tensor>& m) {
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : m) out[k] = v.to(Device::cpu()).clone();
  return out;
}

bool same(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (auto& [k, v] : a)
    if (!b.count(k) || v.to_f64_vector() != b.at(k).to_f64_vector()) return false;
  return true;
}

void flip_byte(const fs::path& file, size_t at) {
  std::string bytes = test::read_text(file);
  REQUIRE(at < bytes.size());
  bytes[at] = char(bytes[at] ^ 0x40);
  test::write_text(file, bytes);
}

TrainerState mid_epoch_state() {
  TrainerState s;
  s.epoch = 1;
  s.step = 5;
  s.loss_sum = 0.1 + 0.2;  // not a short decimal: must survive JSON exactly
  s.loss_count = 160;
  s.best_epoch = 1;
  s.best_val_rmse = 1.0 / 3.0;
  s.history.push_back({1, 2.5, 0.111, 1.0 / 3.0, 1e-3, 0.25, 640.0});
  return s;
}

}  // namespace

TEST_CASE("checkpoint: a mid-epoch checkpoint restores every part exactly") {
  test::TempDir tmp("checkpoint_roundtrip");
  Training a(7);
  a.optimizer.set_learning_rate(5e-4);
  a.plateau.step(2.0);
  a.model.dropout_rng().reserve(1000);
  const TrainerState state = mid_epoch_state();
  const auto best = host(a.model.state_dict());
  save_checkpoint(tmp.path(), a.parts(), state, best);
  CHECK(verify_checkpoint(tmp.path() / "checkpoint") == "");

  Training b(99);  // a fresh process: other initial weights
  TrainerState got;
  std::map<std::string, Tensor> got_best;
  REQUIRE(load_checkpoint(tmp.path(), b.parts(), got, got_best) == tmp.path() / "checkpoint");
  CHECK(same(host(b.model.state_dict()), host(a.model.state_dict())));
  CHECK(same(host(b.optimizer.state()), host(a.optimizer.state())));
  CHECK(same(got_best, best));
  CHECK(b.optimizer.learning_rate() == 5e-4);
  CHECK(b.model.dropout_rng().offset() == a.model.dropout_rng().offset());
  CHECK(b.plateau.best() == 2.0);
  CHECK(got.epoch == 1);
  CHECK(got.step == 5);
  CHECK(got.loss_sum == 0.1 + 0.2);
  CHECK(got.loss_count == 160);
  CHECK(got.best_val_rmse == 1.0 / 3.0);
  REQUIRE(got.history.size() == 1);
  CHECK(got.history[0].val_rmse == 1.0 / 3.0);

  // Before any epoch ends the best RMSE is +inf, which JSON cannot hold: it must come back as inf.
  TrainerState first;
  first.step = 2;
  save_checkpoint(tmp.path(), a.parts(), first, best);
  REQUIRE(load_checkpoint(tmp.path(), b.parts(), got, got_best));
  CHECK(std::isinf(got.best_val_rmse));
  CHECK(got.step == 2);
  // Taken inside an epoch with another batch size: resuming there would replay other batches.
  Training c(1);
  TrainingParts other = c.parts();
  other.batch_size = 64;
  CHECK(test::error_of([&] { load_checkpoint(tmp.path(), other, got, got_best); }).find("with batch size 32; this run uses 64") !=
        std::string::npos);
}

TEST_CASE("checkpoint: a corrupted checkpoint is refused naming the file; the previous one is used") {
  test::TempDir tmp("checkpoint_corrupt");
  Training a(3);
  TrainerState state = mid_epoch_state();
  state.step = 0;
  const auto best = host(a.model.state_dict());
  save_checkpoint(tmp.path(), a.parts(), state, best);  // epoch 1
  const auto epoch1_model = host(a.model.state_dict());
  a.model.dropout_rng().reserve(8);
  state.epoch = 2;
  for (Tensor p : a.model.parameters()) fill_(p, 0.25);
  save_checkpoint(tmp.path(), a.parts(), state, best);  // epoch 2; epoch 1 is now checkpoint.prev
  REQUIRE(fs::exists(tmp.path() / "checkpoint.prev" / "model.safetensors"));
  CHECK(!fs::exists(tmp.path() / "checkpoint.tmp"));

  const fs::path model = tmp.path() / "checkpoint" / "model.safetensors";
  flip_byte(model, fs::file_size(model) - 3);  // in the tensor data: the JSON header still parses
  CHECK(verify_checkpoint(tmp.path() / "checkpoint") == model.string() + ": CRC-32 mismatch (the file is corrupted)");
  Training b(5);
  TrainerState got;
  std::map<std::string, Tensor> got_best;
  logging::set_log_file((tmp.path() / "log.txt").string());
  const auto used = load_checkpoint(tmp.path(), b.parts(), got, got_best);
  logging::set_log_file("");
  CHECK(used == tmp.path() / "checkpoint.prev");
  CHECK(got.epoch == 1);
  CHECK(same(host(b.model.state_dict()), epoch1_model));
  CHECK(test::read_text(tmp.path() / "log.txt")
            .find("warning: " + model.string() + ": CRC-32 mismatch (the file is corrupted); resuming from the "
                  "previous checkpoint " + (tmp.path() / "checkpoint.prev").string() + " instead (epoch 1)") !=
        std::string::npos);

  // Both bad (one truncated, one with a damaged state file): refused, each named.
  const fs::path prev_state = tmp.path() / "checkpoint.prev" / "trainer_state.json";
  const std::string text = test::read_text(prev_state);
  test::write_text(prev_state, text.substr(0, text.size() / 2));
  const std::string err = test::error_of([&] { load_checkpoint(tmp.path(), b.parts(), got, got_best); });
  CHECK(err.starts_with("cannot resume from " + tmp.path().string() + ": " + model.string() + ": CRC-32 mismatch"));
  CHECK(err.find(prev_state.string() + " is not valid JSON (truncated?)") != std::string::npos);

  // A truncated tensor file is caught by its size before it is parsed.
  test::write_text(prev_state, text);
  const fs::path opt = tmp.path() / "checkpoint.prev" / "optimizer.safetensors";
  fs::resize_file(opt, fs::file_size(opt) / 2);
  CHECK(verify_checkpoint(tmp.path() / "checkpoint.prev").find(opt.string() + " has ") == 0);
  // An edited state file (valid JSON, other numbers) fails its own CRC.
  std::string edited = text;
  const size_t at = edited.find("\"epoch\": 1");
  REQUIRE(at != std::string::npos);
  edited.replace(at, 10, "\"epoch\": 7");
  test::write_text(prev_state, edited);
  CHECK(verify_checkpoint(tmp.path() / "checkpoint.prev") ==
        prev_state.string() + ": CRC-32 mismatch (the file is corrupted)");
}
