#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "engine/autograd.h"
#include "engine/fault_injection.h"
#include "engine/interrupt.h"
#include "engine/log.h"
#include "engine/ops/loss.h"
#include "engine/optim/optimizer.h"
#include "engine/philox.h"
#include "engine/ops/elementwise.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/trainer_dist.h"

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
    const std::vector<float> p = model.predict(batch.inputs).to_vector<float>();
    out.insert(out.end(), p.begin(), p.end());
    fault_point("eval-batch");
  }
  model.train(was_training);
  return out;
}

std::vector<float> predict_pairs_sharded(Dispa& model, const FeaturizedDataset& data,
                                         const std::vector<int64_t>& pairs, dist::Communicator* comm,
                                         int64_t batch_size) {
  if (!is_data_parallel(comm) || comm->size() == 1) return predict_pairs(model, data, pairs, batch_size);
  const auto [begin, end] = rank_slice(int64_t(pairs.size()), comm->rank(), comm->size());
  const std::vector<float> mine =
      predict_pairs(model, data, std::vector<int64_t>(pairs.begin() + begin, pairs.begin() + end), batch_size);
  std::vector<float> out;
  out.reserve(pairs.size());
  for (const std::string& bytes :
       comm->all_gather_bytes(std::string(reinterpret_cast<const char*>(mine.data()), mine.size() * sizeof(float)))) {
    const size_t n = bytes.size() / sizeof(float);
    out.resize(out.size() + n);
    std::memcpy(out.data() + out.size() - n, bytes.data(), n * sizeof(float));
  }
  DISPA_CHECK(out.size() == pairs.size(), "predict: gathered {} predictions for {} pairs", out.size(), pairs.size());
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

// What one rank needs besides the model for data-parallel steps (absent in one process).
struct Parallel {
  dist::Communicator* comm = nullptr;
  std::unique_ptr<GradientBuckets> buckets;
  bool overlap = false;  // start buckets during the last backward (pays off on CUDA only)
};

// One optimizer step: this rank's micro-batches of `step` (forward, scaled loss, backward; the
// gradients accumulate), the gradients summed over the ranks, then the update. Returns the step's
// mean loss over all its rows (every rank the same) and whether a rank asked to stop.
StepAgreement train_step(const TrainingParts& parts, const FeaturizedDataset& data,
                         const std::vector<int64_t>& train_pairs, const ShardedStep& step, Parallel& parallel,
                         const TrainerOptions& options, int epoch, int64_t index, bool stop_requested) {
  double local = 0;
  for (size_t k = 0; k < step.micro.size(); ++k) {
    std::vector<int64_t> idx;
    idx.reserve(step.micro[k].positions.size());
    for (int64_t position : step.micro[k].positions) idx.push_back(train_pairs[size_t(position)]);
    if (parallel.overlap && k + 1 == step.micro.size()) parallel.buckets->start_overlap();
    const Batch batch = make_batch(data, idx);
    // The prediction alone: no attention maps, so Drug2Path may take its re-associated form.
    const Tensor prediction =
        parts.model.forward_tokens(parts.model.encode(batch.inputs), ForwardOutputs::prediction).prediction;
    const Tensor loss = mse_loss(prediction, batch.target);
    const double scale = step.loss_scale(k);
    local += loss.item() * scale;
    // Scaling the loss (not the gradient) keeps sync BatchNorm's backward all-reduce right (contract 3).
    (scale == 1.0 ? loss : affine_scalar(loss, scale, 0.0)).backward();
  }
  if (parallel.buckets) parallel.buckets->reduce();
  const StepAgreement agreed = agree_on_step(parallel.comm, local, stop_requested);
  DISPA_CHECK(std::isfinite(agreed.loss), "train: non-finite loss {} at epoch {}, step {} (batch of {} pairs)",
              agreed.loss, epoch, index + 1, step.global_rows);
  if (options.clip_grad_norm > 0) {
    const double norm = clip_grad_norm(parts.model.named_parameters(), options.clip_grad_norm);
    DISPA_CHECK(std::isfinite(norm), "train: non-finite gradient norm at epoch {}, step {}", epoch, index + 1);
  }
  parts.optimizer.step();
  parts.optimizer.zero_grad();
  return agreed;
}

// Points BatchNorm at the communicator for the call's duration (--sync-batchnorm).
struct SyncBatchNorm {
  SyncBatchNorm(Dispa& model, dist::Communicator* comm) : model_(model), on_(comm != nullptr) {
    if (on_) enable_sync_batchnorm(model_, comm);
  }
  ~SyncBatchNorm() {
    if (on_) enable_sync_batchnorm(model_, nullptr);
  }
  Dispa& model_;
  bool on_;
};

}  // namespace

TrainResult train_model(Dispa& model, const FeaturizedDataset& data, const std::vector<int64_t>& train_pairs,
                        const std::vector<int64_t>& val_pairs, const TrainerOptions& options) {
  DISPA_CHECK(!train_pairs.empty(), "train: no training pairs");
  DISPA_CHECK(options.epochs >= 1, "train: --epochs must be at least 1, got {}", options.epochs);
  DISPA_CHECK(options.batch_size >= 2, "train: batch size must be at least 2 (BatchNorm), got {}", options.batch_size);
  DISPA_CHECK(options.accum >= 1, "train: --accum must be at least 1, got {}", options.accum);
  Parallel parallel;
  if (is_data_parallel(options.comm)) parallel.comm = options.comm;
  dist::Communicator* const comm = parallel.comm;
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->size() : 1;
  const bool writer = rank == 0;  // contract 8: only rank 0 reads and writes the fold's files
  Adam optimizer(model.named_parameters(), options.learning_rate, 0.9, 0.999, 1e-8, options.weight_decay);
  ReduceLROnPlateau plateau(optimizer, options.plateau);
  // Checkpoint positions count optimizer steps, each of accum global batches.
  const TrainingParts parts{model, optimizer, plateau, model.dropout_rng(), options.batch_size * options.accum};
  const SyncBatchNorm sync_bn(model, options.sync_batchnorm ? comm : nullptr);
  TrainerState state;
  std::map<std::string, Tensor> best;
  if (writer) best = host_copy(model.state_dict());
  const fs::path fold_dir = options.run_dir;  // empty: no checkpoints
  if (options.resume && writer) {
    DISPA_CHECK(!fold_dir.empty(), "train: --resume needs a run folder");
    if (const auto from = load_checkpoint(fold_dir, parts, state, best)) {
      if (state.step > 0)
        logging::info("{}resuming inside epoch {} after step {} (best val RMSE {:.4f} at epoch {})", options.label,
                      state.epoch + 1, state.step, state.best_val_rmse, state.best_epoch);
      else
        logging::info("{}resuming after epoch {} (best val RMSE {:.4f} at epoch {})", options.label, state.epoch,
                      state.best_val_rmse, state.best_epoch);
    } else {
      logging::info("{}no checkpoint in {}: starting from scratch", options.label, fold_dir.string());
    }
  }
  if (comm) {
    // Contract 4: the same model, configuration, options and data on every rank, then rank 0's
    // state (fresh or resumed) everywhere.
    check_model_consistency(*comm, model, model.config().to_json(),
                            trainer_check_items(options, data, train_pairs, val_pairs));
    share_trainer_state(*comm, parts, state);
    broadcast_from_rank0(*comm, model, &optimizer);
    parallel.buckets = std::make_unique<GradientBuckets>(*comm, model.named_parameters());
    parallel.overlap = model.parameters().front().is_cuda();
  }
  // Only rank 0 writes; the others wait until its files are complete (an error there ends the job).
  auto checkpoint = [&] {
    if (writer && !fold_dir.empty()) save_checkpoint(fold_dir, parts, state, best);
    if (comm) comm->barrier();
  };
  auto interrupted = [&](int signal, const std::string& where) {
    return Interrupted(signal, fmt::format("{}interrupted by {} {}; {}", options.label, signal_name(signal), where,
                                           fold_dir.empty() ? std::string("nothing saved (no run folder)")
                                                            : "checkpoint saved in " + (fold_dir / "checkpoint").string()));
  };
  // A stop request seen on any rank stops every rank after the same step (signals reach ranks at
  // different moments). Cancelled by a failed fold beside this one: saved, then an error.
  auto stop_reason = [&]() -> int { return interrupt_signal(); };
  auto cancelled = [&] { return options.cancel && options.cancel->load(); };
  auto throw_stop = [&](const std::string& where) {
    if (cancelled()) fail("{}stopped {} because another fold failed; checkpoint saved", options.label, where);
    throw interrupted(stop_reason() ? stop_reason() : SIGINT, where);
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
    // The order depends only on (seed, epoch), so a resumed epoch replays the same batches, on any
    // number of ranks (contract 2).
    ShardingOptions sharding_options;
    sharding_options.batch_size = options.batch_size;
    sharding_options.accum = options.accum;
    sharding_options.rank = rank;
    sharding_options.world = world;
    sharding_options.sync_batchnorm = options.sync_batchnorm && comm;
    const EpochSharding sharding(philox_permutation(int64_t(train_pairs.size()), options.seed, uint64_t(epoch)),
                                 sharding_options);
    const int64_t steps = sharding.steps();
    logging::Progress progress(fmt::format("{}epoch {}/{}", options.label, epoch, options.epochs), steps);
    for (int64_t step = state.step; step < steps; ++step) {
      const ShardedStep sharded = sharding.step(step);
      const StepAgreement agreed = train_step(parts, data, train_pairs, sharded, parallel, options, epoch, step,
                                              stop_reason() != 0 || cancelled());
      state.loss_sum += agreed.loss * double(sharded.global_rows);
      state.loss_count += sharded.global_rows;
      state.step = step + 1;
      progress.update(step + 1, fmt::format("loss {:.4f}", state.loss_sum / double(std::max<int64_t>(1, state.loss_count))));
      fault_point("train-step");
      if (agreed.stop || (!comm && (stop_reason() || cancelled()))) {  // this step is done: save the position
        state.epoch_seconds += seconds_since(start);
        progress.stop(stop_reason() ? fmt::format("interrupted by {}", signal_name(stop_reason())) : "stopped");
        checkpoint();
        throw_stop(fmt::format("in epoch {} after step {} of {}", epoch, step + 1, steps));
      }
    }
    const double seconds = state.epoch_seconds + seconds_since(start);
    EpochRecord record;
    record.epoch = epoch;
    record.train_loss = state.loss_sum / double(std::max<int64_t>(1, state.loss_count));
    record.learning_rate = optimizer.learning_rate();
    record.seconds = seconds;
    record.samples_per_second = double(state.loss_count) / std::max(seconds, 1e-9);
    // Per-rank BatchNorm statistics differ between ranks: evaluate (and save) rank 0's everywhere.
    if (comm && !options.sync_batchnorm)
      for (auto& [name, t] : model.named_buffers()) comm->broadcast(t, 0);
    const std::vector<float> val_pred = predict_pairs_sharded(model, data, val_pairs, comm);
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
      if (writer) best = host_copy(model.state_dict());
    } else {
      ++state.epochs_without_improvement;
    }
    checkpoint();
    ++epochs_this_call;
    if (any_rank(comm, stop_reason() != 0 || cancelled())) throw_stop(fmt::format("after epoch {}", epoch));
  }
  if (state.epochs_without_improvement >= options.early_stopping_patience && options.early_stopping_patience > 0)
    logging::info("{}early stopping: no validation improvement for {} epochs", options.label,
                  state.epochs_without_improvement);
  if (writer) {
    const Device device = model.parameters().front().device();
    std::map<std::string, Tensor> best_on_device;
    for (auto& [k, v] : best) best_on_device[k] = v.to(device);
    model.load_state_dict(best_on_device);
  }
  if (comm) broadcast_from_rank0(*comm, model, nullptr);  // the best weights, which only rank 0 kept
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.best_val_rmse = state.best_val_rmse;
  result.finished = true;
  return result;
}

}  // namespace dispa::train
