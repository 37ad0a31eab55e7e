// The training loop: Adam with L2 weight decay (torch.optim.Adam semantics), ReduceLROnPlateau on
// the validation RMSE, early stopping, optional gradient clipping, a non-finite check on every
// step, a checkpoint after every epoch (train/checkpoint.h: model, optimizer, RNG and schedule
// state) so a killed run resumes with --resume and ends with the same numbers, and the best model
// kept by validation RMSE. Under an InterruptHandler (engine/interrupt.h) a SIGINT/SIGTERM ends
// the current step, saves a checkpoint that records the position inside the epoch, and throws
// Interrupted. Deterministic for a given seed on the CPU (same thread count).
// Data-parallel (TrainerOptions::comm, docs/distributed.md "The contract"): every rank calls
// train_model with the same arguments; each takes its share of every global batch, gradients are
// summed over the ranks (train/data_parallel.h), evaluation is sharded and gathered, and only
// rank 0 reads and writes checkpoints, whose state it hands to the others at start-up.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dist/communicator.h"

#include "engine/optim/schedule.h"
#include "model/dispa.h"
#include "train/dataset.h"
#include "train/permutation.h"  // philox_permutation (epoch order)

namespace dispa::train {

struct TrainerOptions {
  int epochs = 100;
  int64_t batch_size = 512;
  double learning_rate = 1e-4;
  double weight_decay = 1e-4;
  double clip_grad_norm = 0.0;        // 0 = off
  int early_stopping_patience = 10;   // epochs without validation improvement; 0 = off
  ReduceLROnPlateau::Options plateau{"min", 0.5, 5, 1e-4, "rel", 0, 1e-6, 1e-8};
  uint64_t seed = 0;
  std::string run_dir;                // the fold folder: checkpoints go to run_dir/checkpoint; empty = none
  bool resume = false;
  int stop_after_epochs = 0;          // testing aid: return after this many epochs of this call
  int accum = 1;                      // --accum: global batches of batch_size per optimizer step
  bool sync_batchnorm = false;        // --sync-batchnorm: BatchNorm statistics over all ranks' rows
  // This rank's communicator (data-parallel training); nullptr = one process. Not owned.
  dist::Communicator* comm = nullptr;
  std::string label;                  // progress-line prefix ("fold 2: ") when folds train side by side
  // Set by another fold that failed (--parallel-folds): this one saves a checkpoint after its
  // current step and throws. nullptr = never.
  const std::atomic<bool>* cancel = nullptr;
};

struct EpochRecord {
  int epoch = 0;
  double train_loss = 0, val_loss = 0, val_rmse = 0, learning_rate = 0, seconds = 0, samples_per_second = 0;
};

struct TrainResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_val_rmse = 0;
  bool finished = false;  // false when stopped by stop_after_epochs
};

// Trains `model` in place; on return the model holds the best weights (by validation RMSE).
// Throws dispa::Interrupted (after saving a checkpoint) when a handled signal arrives.
TrainResult train_model(Dispa& model, const FeaturizedDataset& data, const std::vector<int64_t>& train_pairs,
                        const std::vector<int64_t>& val_pairs, const TrainerOptions& options);

// Eval-mode predictions for the given pairs, in order.
std::vector<float> predict_pairs(Dispa& model, const FeaturizedDataset& data, const std::vector<int64_t>& pairs,
                                 int64_t batch_size = 1024);

// The same on every rank of `comm` (nullptr: one process): each rank predicts its contiguous slice
// of `pairs` and the slices are gathered in rank order. Eval-mode rows are independent of each
// other, so this equals one process's predictions up to GEMM rounding; every rank must hold the
// same weights and BatchNorm running statistics.
std::vector<float> predict_pairs_sharded(Dispa& model, const FeaturizedDataset& data,
                                         const std::vector<int64_t>& pairs, dist::Communicator* comm,
                                         int64_t batch_size = 1024);

}  // namespace dispa::train
