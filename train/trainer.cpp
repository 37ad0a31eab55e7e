#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "engine/ops/loss.h"
#include "engine/optim/optimizer.h"
#include "engine/philox.h"

namespace dispa::train {
namespace fs = std::filesystem;

std::vector<float> predict_pairs(Dispa& model, const FeaturizedDataset& data, const std::vector<int64_t>& pairs,
                                 int64_t batch_size) {
  const bool was_training = model.is_training();
  model.eval();
  NoGrad no_grad;
  std::vector<float> out;
  out.reserve(pairs.size());
  for (size_t start = 0; start < pairs.size(); start += size_t(batch_size)) {
    const size_t end = std::min(pairs.size(), start + size_t(batch_size));
    const Batch batch = make_batch(data, std::vector<int64_t>(pairs.begin() + start, pairs.begin() + end));
    const std::vector<float> p = model.forward(batch.inputs).prediction.to_vector<float>();
    out.insert(out.end(), p.begin(), p.end());
  }
  model.train(was_training);
  return out;
}

namespace {

double rmse_of(const std::vector<float>& pred, const FeaturizedDataset& data, const std::vector<int64_t>& pairs) {
  double s = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double e = double(pred[i]) - data.pairs[size_t(pairs[i])].ln_ic50;
    s += e * e;
  }
  return pairs.empty() ? 0.0 : std::sqrt(s / double(pairs.size()));
}

struct TrainerState {
  int epoch = 0;  // epochs completed
  int best_epoch = 0;
  double best_val_rmse = INFINITY;
  int epochs_without_improvement = 0;
  std::vector<EpochRecord> history;
};

nlohmann::json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"val_loss", r.val_loss}, {"val_rmse", r.val_rmse},
          {"learning_rate", r.learning_rate}, {"seconds", r.seconds}, {"samples_per_second", r.samples_per_second}};
}
EpochRecord epoch_from_json(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.train_loss = j.at("train_loss");
  r.val_loss = j.at("val_loss");
  r.val_rmse = j.at("val_rmse");
  r.learning_rate = j.at("learning_rate");
  r.seconds = j.at("seconds");
  r.samples_per_second = j.at("samples_per_second");
  return r;
}

// Checkpoint = model + optimizer + best-model tensors and one JSON with everything else, written
// into a fresh folder that then replaces the previous one (checkpoint -> checkpoint.old,
// checkpoint.tmp -> checkpoint, remove old): a kill at any point leaves one complete checkpoint.
void write_checkpoint_files(const fs::path& dir, const Dispa& model, const Adam& optimizer, const ReduceLROnPlateau& plateau,
                     const Generator& dropout_rng, const TrainerState& state, const std::map<std::string, Tensor>& best) {
  fs::create_directories(dir);
  std::map<std::string, Tensor> model_state;
  for (auto& [k, v] : model.state_dict()) model_state[k] = v.to(Device::cpu());
  save_safetensors((dir / "model.safetensors").string(), model_state, {{"epoch", std::to_string(state.epoch)}});
  std::map<std::string, Tensor> opt_state;
  for (auto& [k, v] : optimizer.state()) opt_state[k] = v.to(Device::cpu());
  save_safetensors((dir / "optimizer.safetensors").string(), opt_state, {{"epoch", std::to_string(state.epoch)}});
  save_safetensors((dir / "best_model.safetensors").string(), best, {{"epoch", std::to_string(state.best_epoch)}});
  double best_metric;
  int bad, cooldown, last_epoch;
  plateau.get_state(best_metric, bad, cooldown, last_epoch);
  nlohmann::json j = {{"epoch", state.epoch},
                      {"best_epoch", state.best_epoch},
                      {"best_val_rmse", state.best_val_rmse},
                      {"epochs_without_improvement", state.epochs_without_improvement},
                      {"learning_rate", optimizer.learning_rate()},
                      {"dropout_rng", {{"seed", dropout_rng.seed()}, {"offset", dropout_rng.offset()}}},
                      {"plateau", {{"best", best_metric}, {"bad_epochs", bad}, {"cooldown", cooldown}, {"last_epoch", last_epoch}}},
                      {"history", nlohmann::json::array()}};
  for (const EpochRecord& r : state.history) j["history"].push_back(to_json(r));
  const fs::path tmp = dir / "trainer_state.json.tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    DISPA_CHECK(out.good(), "cannot write {}", tmp.string());
  }
  fs::rename(tmp, dir / "trainer_state.json");
}

fs::path sibling(const fs::path& dir, const char* suffix) { return fs::path(dir.string() + suffix); }

void save_checkpoint(const fs::path& dir, const Dispa& model, const Adam& optimizer, const ReduceLROnPlateau& plateau,
                     const Generator& dropout_rng, const TrainerState& state, const std::map<std::string, Tensor>& best) {
  const fs::path fresh = sibling(dir, ".tmp"), old = sibling(dir, ".old");
  fs::remove_all(fresh);
  write_checkpoint_files(fresh, model, optimizer, plateau, dropout_rng, state, best);
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(fresh, dir);
  fs::remove_all(old);
}

bool load_checkpoint(const fs::path& dir, Dispa& model, Adam& optimizer, ReduceLROnPlateau& plateau,
                     Generator& dropout_rng, TrainerState& state, std::map<std::string, Tensor>& best) {
  fs::path json_path = dir / "trainer_state.json";
  if (!fs::exists(json_path) && fs::exists(sibling(dir, ".old") / "trainer_state.json")) {
    logging::warn("{} is incomplete (killed while saving?): resuming from the previous checkpoint", dir.string());
    return load_checkpoint(sibling(dir, ".old"), model, optimizer, plateau, dropout_rng, state, best);
  }
  if (!fs::exists(json_path)) return false;
  std::ifstream in(json_path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", json_path.string(), e.what());
  }
  const Device device = model.parameters().front().device();
  auto to_device = [&](std::map<std::string, Tensor> m) {
    for (auto& [k, v] : m) v = v.to(device);
    return m;
  };
  model.load_state_dict(to_device(load_safetensors((dir / "model.safetensors").string()).tensors));
  optimizer.load_state(to_device(load_safetensors((dir / "optimizer.safetensors").string()).tensors));
  best = load_safetensors((dir / "best_model.safetensors").string()).tensors;
  optimizer.set_learning_rate(j.at("learning_rate"));
  dropout_rng.set_state(j.at("dropout_rng").at("seed"), j.at("dropout_rng").at("offset"));
  plateau.set_state(j.at("plateau").at("best"), j.at("plateau").at("bad_epochs"), j.at("plateau").at("cooldown"),
                    j.at("plateau").at("last_epoch"));
  state.epoch = j.at("epoch");
  state.best_epoch = j.at("best_epoch");
  state.best_val_rmse = j.at("best_val_rmse");
  state.epochs_without_improvement = j.at("epochs_without_improvement");
  state.history.clear();
  for (const auto& r : j.at("history")) state.history.push_back(epoch_from_json(r));
  return true;
}

std::map<std::string, Tensor> host_copy(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : state) out[k] = v.to(Device::cpu()).clone();
  return out;
}

}  // namespace

TrainResult train_model(Dispa& model, const FeaturizedDataset& data, const std::vector<int64_t>& train_pairs,
                        const std::vector<int64_t>& val_pairs, const TrainerOptions& options) {
  DISPA_CHECK(!train_pairs.empty(), "train: no training pairs");
  DISPA_CHECK(options.batch_size >= 2, "train: batch size must be at least 2 (BatchNorm), got {}", options.batch_size);
  Adam optimizer(model.named_parameters(), options.learning_rate, 0.9, 0.999, 1e-8, options.weight_decay);
  ReduceLROnPlateau plateau(optimizer, options.plateau);
  TrainerState state;
  std::map<std::string, Tensor> best = host_copy(model.state_dict());
  const fs::path checkpoint_dir = options.run_dir.empty() ? fs::path() : fs::path(options.run_dir) / "checkpoint";
  if (options.resume) {
    DISPA_CHECK(!checkpoint_dir.empty(), "train: --resume needs a run folder");
    if (load_checkpoint(checkpoint_dir, model, optimizer, plateau, model.dropout_rng(), state, best))
      logging::info("resuming after epoch {} (best val RMSE {:.4f} at epoch {})", state.epoch, state.best_val_rmse,
                state.best_epoch);
    else
      logging::info("no checkpoint in {}: starting from scratch", checkpoint_dir.string());
  }

  int epochs_this_call = 0;
  TrainResult result;
  while (state.epoch < options.epochs) {
    if (options.early_stopping_patience > 0 && state.epochs_without_improvement >= options.early_stopping_patience)
      break;
    if (options.stop_after_epochs > 0 && epochs_this_call >= options.stop_after_epochs) {
      result.history = state.history;
      result.best_epoch = state.best_epoch;
      result.best_val_rmse = state.best_val_rmse;
      return result;  // not finished: a later call with resume continues
    }
    const int epoch = state.epoch + 1;
    const auto start = std::chrono::steady_clock::now();
    model.train();
    const std::vector<int64_t> order = philox_permutation(int64_t(train_pairs.size()), options.seed, uint64_t(epoch));
    const int64_t n = int64_t(order.size());
    const int64_t steps = (n + options.batch_size - 1) / options.batch_size;
    logging::Progress progress(fmt::format("epoch {}/{}", epoch, options.epochs), steps);
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t begin = step * options.batch_size, end = std::min(n, begin + options.batch_size);
      if (end - begin < 2) continue;  // BatchNorm needs two samples; at most one pair is skipped per epoch
      std::vector<int64_t> idx(size_t(end - begin));
      for (int64_t i = begin; i < end; ++i) idx[size_t(i - begin)] = train_pairs[size_t(order[size_t(i)])];
      const Batch batch = make_batch(data, idx);
      const Tensor loss = mse_loss(model.forward(batch.inputs).prediction, batch.target);
      const double loss_value = loss.item();
      DISPA_CHECK(std::isfinite(loss_value), "train: non-finite loss {} at epoch {}, step {} (batch of {} pairs)",
                  loss_value, epoch, step + 1, end - begin);
      loss.backward();
      if (options.clip_grad_norm > 0) {
        const double norm = clip_grad_norm(model.named_parameters(), options.clip_grad_norm);
        DISPA_CHECK(std::isfinite(norm), "train: non-finite gradient norm at epoch {}, step {}", epoch, step + 1);
      }
      optimizer.step();
      optimizer.zero_grad();
      loss_sum += loss_value * double(end - begin);
      loss_count += end - begin;
      progress.update(step + 1, fmt::format("loss {:.4f}", loss_sum / double(loss_count)));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EpochRecord record;
    record.epoch = epoch;
    record.train_loss = loss_sum / double(std::max<int64_t>(1, loss_count));
    record.learning_rate = optimizer.learning_rate();
    record.seconds = seconds;
    record.samples_per_second = double(loss_count) / std::max(seconds, 1e-9);
    const std::vector<float> val_pred = predict_pairs(model, data, val_pairs);
    record.val_rmse = rmse_of(val_pred, data, val_pairs);
    record.val_loss = record.val_rmse * record.val_rmse;
    progress.finish(fmt::format("loss {:.4f}  val RMSE {:.4f}  lr {:.2g}  {:.0f} samples/s", record.train_loss,
                                record.val_rmse, record.learning_rate, record.samples_per_second));
    plateau.step(record.val_rmse);
    state.history.push_back(record);
    state.epoch = epoch;
    if (record.val_rmse < state.best_val_rmse) {
      state.best_val_rmse = record.val_rmse;
      state.best_epoch = epoch;
      state.epochs_without_improvement = 0;
      best = host_copy(model.state_dict());
    } else {
      ++state.epochs_without_improvement;
    }
    if (!checkpoint_dir.empty())
      save_checkpoint(checkpoint_dir, model, optimizer, plateau, model.dropout_rng(), state, best);
    ++epochs_this_call;
  }
  if (state.epochs_without_improvement >= options.early_stopping_patience && options.early_stopping_patience > 0)
    logging::info("early stopping: no validation improvement for {} epochs", state.epochs_without_improvement);
  const Device device = model.parameters().front().device();
  std::map<std::string, Tensor> best_on_device;
  for (auto& [k, v] : best) best_on_device[k] = v.to(device);
  model.load_state_dict(best_on_device);
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.best_val_rmse = state.best_val_rmse;
  result.finished = true;
  return result;
}

}  // namespace dispa::train
