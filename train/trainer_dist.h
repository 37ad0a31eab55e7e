// The trainer's side of data-parallel training (internal to train/trainer.cpp and train_run.cpp):
// what ranks must agree on before the first step, how rank 0 hands its (checkpoint) state to the
// others, and the per-step agreement on the loss and on stopping. The gradient machinery itself is
// train/data_parallel.h; the semantics are docs/distributed.md "The contract".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/dist/communicator.h"
#include "engine/dist/consistency.h"
#include "train/checkpoint.h"

namespace dispa::train {

// True for a communicator that actually connects ranks (mpi or nccl, any size); false for nullptr
// and the none backend, where the trainer runs exactly its single-process code.
bool is_data_parallel(const dist::Communicator* comm);

// Items every rank must share before training a fold: the trainer options that change numbers,
// and the data facts (pair counts, a hash of the pair indices and targets, table sizes).
std::vector<dist::CheckItem> trainer_check_items(const TrainerOptions& options, const FeaturizedDataset& data,
                                                 const std::vector<int64_t>& train_pairs,
                                                 const std::vector<int64_t>& val_pairs);

// Rank 0's trainer state, learning rate, schedule state and dropout stream, copied to every rank
// (rank 0 may have resumed from a checkpoint the others cannot see). Rank r > 0 then draws dropout
// from rank_dropout_seed(rank 0's seed, r) at rank 0's offset. Model and optimizer tensors go
// separately (broadcast_from_rank0).
void share_trainer_state(dist::Communicator& comm, TrainingParts parts, TrainerState& state);

// Per step: the sum over ranks of each rank's scaled loss (the global mean loss of the step) and
// whether any rank saw a stop request (signal or cancel), in one small host all-reduce, so every
// rank checks the same loss and stops after the same step.
struct StepAgreement {
  double loss = 0;
  bool stop = false;
};
StepAgreement agree_on_step(dist::Communicator* comm, double local_loss, bool local_stop);
bool any_rank(dist::Communicator* comm, bool mine);

// Copies JSON `j` from rank 0 to every rank (the argument is ignored elsewhere).
nlohmann::json broadcast_json(dist::Communicator& comm, const nlohmann::json& j);

}  // namespace dispa::train
