#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/fault_injection.h"
#include "engine/interrupt.h"
#include "engine/log.h"
#include "engine/ops/loss.h"
#include "engine/optim/optimizer.h"
#include "engine/philox.h"
#include "train/checkpoint.h"

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
    fault_point("eval-batch");
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

std::map<std::string, Tensor> host_copy(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : state) out[k] = v.to(Device::cpu()).clone();
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One optimizer step on `pairs`; returns the batch's mean loss.
double train_step(const TrainingParts& parts, const FeaturizedDataset& data, const std::vector<int64_t>& pairs,
                  const TrainerOptions& options, int epoch, int64_t step) {
  const Batch batch = make_batch(data, pairs);
  const Tensor loss = mse_loss(parts.model.forward(batch.inputs).prediction, batch.target);
  const double loss_value = loss.item();
  DISPA_CHECK(std::isfinite(loss_value), "train: non-finite loss {} at epoch {}, step {} (batch of {} pairs)",
              loss_value, epoch, step + 1, pairs.size());
  loss.backward();
  if (options.clip_grad_norm > 0) {
    const double norm = clip_grad_norm(parts.model.named_parameters(), options.clip_grad_norm);
    DISPA_CHECK(std::isfinite(norm), "train: non-finite gradient norm at epoch {}, step {}", epoch, step + 1);
  }
  parts.optimizer.step();
  parts.optimizer.zero_grad();
  return loss_value;
}

}  // namespace

TrainResult train_model(Dispa& model, const FeaturizedDataset& data, const std::vector<int64_t>& train_pairs,
                        const std::vector<int64_t>& val_pairs, const TrainerOptions& options) {
  DISPA_CHECK(!train_pairs.empty(), "train: no training pairs");
  DISPA_CHECK(options.epochs >= 1, "train: --epochs must be at least 1, got {}", options.epochs);
  DISPA_CHECK(options.batch_size >= 2, "train: batch size must be at least 2 (BatchNorm), got {}", options.batch_size);
  Adam optimizer(model.named_parameters(), options.learning_rate, 0.9, 0.999, 1e-8, options.weight_decay);
  ReduceLROnPlateau plateau(optimizer, options.plateau);
  const TrainingParts parts{model, optimizer, plateau, model.dropout_rng(), options.batch_size};
  TrainerState state;
  std::map<std::string, Tensor> best = host_copy(model.state_dict());
  const fs::path fold_dir = options.run_dir;  // empty: no checkpoints
  if (options.resume) {
    DISPA_CHECK(!fold_dir.empty(), "train: --resume needs a run folder");
    if (const auto from = load_checkpoint(fold_dir, parts, state, best)) {
      if (state.step > 0)
        logging::info("resuming inside epoch {} after step {} (best val RMSE {:.4f} at epoch {})", state.epoch + 1,
                      state.step, state.best_val_rmse, state.best_epoch);
      else
        logging::info("resuming after epoch {} (best val RMSE {:.4f} at epoch {})", state.epoch, state.best_val_rmse,
                      state.best_epoch);
    } else {
      logging::info("no checkpoint in {}: starting from scratch", fold_dir.string());
    }
  }
  auto checkpoint = [&] {
    if (!fold_dir.empty()) save_checkpoint(fold_dir, parts, state, best);
  };
  auto interrupted = [&](int signal, const std::string& where) {
    return Interrupted(signal, fmt::format("interrupted by {} {}; {}", signal_name(signal), where,
                                           fold_dir.empty() ? std::string("nothing saved (no run folder)")
                                                            : "checkpoint saved in " + (fold_dir / "checkpoint").string()));
  };

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
    // The order depends only on (seed, epoch), so a resumed epoch replays the same batches.
    const std::vector<int64_t> order = philox_permutation(int64_t(train_pairs.size()), options.seed, uint64_t(epoch));
    const int64_t n = int64_t(order.size());
    const int64_t steps = (n + options.batch_size - 1) / options.batch_size;
    logging::Progress progress(fmt::format("epoch {}/{}", epoch, options.epochs), steps);
    for (int64_t step = state.step; step < steps; ++step) {
      const int64_t begin = step * options.batch_size, end = std::min(n, begin + options.batch_size);
      if (end - begin >= 2) {  // BatchNorm needs two samples; at most one pair is skipped per epoch
        std::vector<int64_t> idx(size_t(end - begin));
        for (int64_t i = begin; i < end; ++i) idx[size_t(i - begin)] = train_pairs[size_t(order[size_t(i)])];
        const double loss_value = train_step(parts, data, idx, options, epoch, step);
        state.loss_sum += loss_value * double(end - begin);
        state.loss_count += end - begin;
      }
      state.step = step + 1;
      progress.update(step + 1, fmt::format("loss {:.4f}", state.loss_sum / double(std::max<int64_t>(1, state.loss_count))));
      fault_point("train-step");
      if (const int signal = interrupt_signal()) {  // Ctrl-C: this step is done; save the position in the epoch
        state.epoch_seconds += seconds_since(start);
        progress.stop(fmt::format("interrupted by {}", signal_name(signal)));
        checkpoint();
        throw interrupted(signal, fmt::format("in epoch {} after step {} of {}", epoch, step + 1, steps));
      }
    }
    const double seconds = state.epoch_seconds + seconds_since(start);
    EpochRecord record;
    record.epoch = epoch;
    record.train_loss = state.loss_sum / double(std::max<int64_t>(1, state.loss_count));
    record.learning_rate = optimizer.learning_rate();
    record.seconds = seconds;
    record.samples_per_second = double(state.loss_count) / std::max(seconds, 1e-9);
    const std::vector<float> val_pred = predict_pairs(model, data, val_pairs);
    record.val_rmse = rmse_of(val_pred, data, val_pairs);
    record.val_loss = record.val_rmse * record.val_rmse;
    progress.finish(fmt::format("loss {:.4f}  val RMSE {:.4f}  lr {:.2g}  {:.0f} samples/s", record.train_loss,
                                record.val_rmse, record.learning_rate, record.samples_per_second));
    plateau.step(record.val_rmse);
    state.history.push_back(record);
    state.epoch = epoch;
    state.step = 0;
    state.loss_sum = 0;
    state.loss_count = 0;
    state.epoch_seconds = 0;
    if (record.val_rmse < state.best_val_rmse) {
      state.best_val_rmse = record.val_rmse;
      state.best_epoch = epoch;
      state.epochs_without_improvement = 0;
      best = host_copy(model.state_dict());
    } else {
      ++state.epochs_without_improvement;
    }
    checkpoint();
    ++epochs_this_call;
    if (const int signal = interrupt_signal()) throw interrupted(signal, fmt::format("after epoch {}", epoch));
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
