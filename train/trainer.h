// The training loop: Adam with L2 weight decay (torch.optim.Adam semantics), ReduceLROnPlateau on
// the validation RMSE, early stopping, optional gradient clipping, a non-finite check on every
// step, a checkpoint after every epoch (train/checkpoint.h: model, optimizer, RNG and schedule
// state) so a killed run resumes with --resume and ends with the same numbers, and the best model
// kept by validation RMSE. Under an InterruptHandler (engine/interrupt.h) a SIGINT/SIGTERM ends
// the current step, saves a checkpoint that records the position inside the epoch, and throws
// Interrupted. Deterministic for a given seed on the CPU (same thread count).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace dispa::train
