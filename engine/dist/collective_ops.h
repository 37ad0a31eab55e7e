// Collectives as autograd ops, and the synchronised BatchNorm built from them.
//
// all_reduce_sum(x): y = Σ_ranks x_r, the same on every rank. If every rank's loss L_r depends on y
// (and the losses are scaled so that Σ_r L_r is the global loss), then dL/dx_r = Σ_q dL_q/dy: the
// backward is again an all-reduce sum, of the incoming gradients. Every rank must run the same
// forward and backward (same ops, same order), since both directions are collectives.
//
// sync_batch_norm1d: BatchNorm1d in training mode over the rows of all ranks together, so N ranks
// that each hold a share of a global batch compute what one process computes on the whole batch.
// Statistics in two passes, as batch_norm1d: the global mean (Σx and the row count all-reduced),
// then the global biased variance (Σ(x - mean)² all-reduced). It is a composite of engine ops
// (sum, sub, sqrt, div, ...), so it runs on both devices and its backward comes from autograd: the
// gradients reaching the mean and variance are all-reduced back, which yields the global sums of
// dy and dy·x̂ that the batch-norm backward needs. Running statistics get the global mean and the
// unbiased global variance (n/(n-1), n = all rows), so they are identical on every rank.
// With the single-process communicator it equals batch_norm1d (tests/dist check both).
#pragma once
#include "engine/dist/communicator.h"
#include "engine/tensor.h"

namespace dispa::dist {

// x contiguous, on comm's device (or the CPU); comm must outlive the backward pass.
Tensor all_reduce_sum(const Tensor& x, Communicator& comm);

// x [N, C] (N >= 1 on each rank, > 1 over all ranks); weight, bias [C] or undefined; running_mean
// and running_var [C] (updated in place) or both undefined. Training mode only: in eval mode the
// running statistics are already identical on every rank and batch_norm1d is the op to use.
Tensor sync_batch_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                         Tensor running_var, double momentum, double eps, Communicator& comm);

}  // namespace dispa::dist
