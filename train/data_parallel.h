// Data-parallel training glue over engine/dist: what the training loop calls so that N ranks
// compute what one process computes on the global batch. docs/distributed.md is the contract.
//
//   EpochSharding     each rank's disjoint share of every global batch of an epoch's order
//                     (philox_permutation(n, seed, epoch): identical on every rank), and the loss
//                     scale that makes the sum over ranks and micro-batches the global mean loss;
//   GradientBuckets   all gradients as one flat buffer in fixed-order buckets, summed over the
//                     ranks after backward, or bucket by bucket while backward runs (overlap);
//   broadcast_from_rank0, check_model_consistency, enable_sync_batchnorm: start-up and BatchNorm.
//
// A step on every rank, with K = --accum micro-batches:
//   const ShardedStep step = sharding.step(s);
//   for k in 0..K-1:
//     if (k == K - 1) buckets.start_overlap();            // optional (pays off on CUDA)
//     loss_k = mse_loss(model(rows of step.micro[k]))     // this rank's mean over its rows
//     affine_scalar(loss_k, step.loss_scale(k), 0).backward();   // gradients accumulate
//   buckets.reduce();                                     // every rank: the global-batch gradient
//   optimizer.step(); optimizer.zero_grad();
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/dist/communicator.h"
#include "engine/dist/consistency.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"

namespace dispa::train {

struct ShardingOptions {
  int64_t batch_size = 512;  // the global batch, all ranks together (--batch-size)
  int accum = 1;             // global batches per optimizer step (--accum)
  int rank = 0, world = 1;
  // BatchNorm needs two rows to normalise: per rank by default, over all ranks with sync BN.
  bool sync_batchnorm = false;
};

struct MicroBatch {
  std::vector<int64_t> positions;  // this rank's entries of the epoch order (indices into the training pairs)
  int64_t global_rows = 0;         // rows of this global batch over all ranks
};

struct ShardedStep {
  std::vector<MicroBatch> micro;  // `accum` micro-batches (fewer in an epoch's last step)
  int64_t global_rows = 0;        // all ranks, all micro-batches: the loss is the mean over these
  // Scale for this rank's mean loss over micro-batch k: its rows / global_rows. The scaled losses
  // of all ranks and micro-batches then sum to the mean loss over the whole step, and summing
  // gradients over ranks gives that loss's gradient even when shares are unequal.
  double loss_scale(size_t k) const;
};

// The first `world` contiguous, balanced slices of `rows` rows: rank r gets [begin, end), the first
// rows % world ranks one row more.
std::pair<int64_t, int64_t> rank_slice(int64_t rows, int rank, int world);

class EpochSharding {
 public:
  // order: the epoch's permutation of the training pairs (the same on every rank).
  EpochSharding(std::vector<int64_t> order, const ShardingOptions& options);
  int64_t steps() const { return steps_; }  // optimizer steps this epoch
  ShardedStep step(int64_t s) const;
  // Rows of the epoch's last global batch when it is too small to give every rank its minimum
  // (2 rows, or 1 with sync BN and 2 over all ranks); they are left out this epoch (a different
  // set each epoch). With one rank and no sync BN this is the single-process trainer's rule.
  int64_t skipped_rows() const { return skipped_; }

 private:
  std::vector<int64_t> order_;
  ShardingOptions options_;
  int64_t batches_ = 0, steps_ = 0, skipped_ = 0;
};

// Gradients of `params` as one flat buffer (same dtype and device for all), cut into buckets of
// about bucket_bytes in reverse registration order (backward produces the head's gradients first)
// without splitting a parameter. Each bucket also carries one "has a gradient" flag per
// parameter, so a parameter that no rank produced a gradient for stays without one (the optimizer
// skips it, as in one process) and one that only some ranks reached gets the sum.
class GradientBuckets {
 public:
  struct Bucket {
    std::vector<size_t> params;  // indices into params, in bucket order
    int64_t offset = 0, numel = 0;  // in the flat buffer, gradient elements + one flag per parameter
  };
  GradientBuckets(dist::Communicator& comm, NamedTensors params, size_t bucket_bytes = size_t(4) << 20);
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  const std::vector<Bucket>& buckets() const { return buckets_; }
  int64_t numel() const { return flat_numel_; }
  int64_t launched() const { return next_; }  // buckets started in the current step (tests)

  // Optional, before the forward pass of the step's last micro-batch: buckets start reducing, in
  // order, as soon as backward has finalised all their gradients (engine/autograd.h LeafGradHook).
  // A parameter that requires a gradient but that backward never reaches holds back its bucket
  // and the later ones until reduce() (still correct, but without overlap).
  void start_overlap();
  // After the last backward: starts the buckets not yet started, waits for all, and writes the sums
  // over the ranks back into the gradients. Ends the overlap. With the none backend, does nothing.
  void reduce();

 private:
  void launch(size_t bucket);
  void on_gradient_final(const TensorImpl* leaf);

  dist::Communicator& comm_;
  NamedTensors params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;            // per parameter
  std::vector<int64_t> offset_of_;           // per parameter, in the flat buffer
  std::vector<const TensorImpl*> identity_;  // per parameter, what the leaf hook reports
  std::vector<size_t> final_count_;          // per bucket, parameters final this step
  Tensor flat_;
  int64_t flat_numel_ = 0;
  size_t next_ = 0;  // next bucket to start (buckets start in order on every rank)
  std::unique_ptr<LeafGradHook> hook_;
};

// Copies rank 0's parameters, buffers (BatchNorm running statistics) and, when given, optimizer
// state to every rank, so ranks started from different seeds (or one resumed from a checkpoint)
// are identical from the first step.
void broadcast_from_rank0(dist::Communicator& comm, Module& model, Optimizer* optimizer);

// The start-up check (engine/dist/consistency.h) over the model's parameter and buffer names,
// shapes and dtypes, the flattened config JSON and `extra` items (data sizes, split, options):
// fails on every rank naming the first difference from rank 0.
void check_model_consistency(dist::Communicator& comm, const Module& model, const nlohmann::json& config,
                             const std::vector<dist::CheckItem>& extra = {});

// Points every BatchNorm1d under `model` at comm (--sync-batchnorm), or back at per-rank
// statistics with nullptr. Returns how many BatchNorm1d modules it set.
int enable_sync_batchnorm(Module& model, dist::Communicator* comm);

// Seed for rank r's dropout stream: `seed` itself on rank 0 (one rank = the single-process run),
// a distinct stream on the others, so ranks do not draw the same masks for their different rows.
uint64_t rank_dropout_seed(uint64_t seed, int rank);

}  // namespace dispa::train
