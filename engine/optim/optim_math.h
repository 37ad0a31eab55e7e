// Per-element optimizer updates shared by the CPU loops (optimizer.cpp) and the fused CUDA kernels
// (optim.cu), plus the pointer table those kernels walk. No Tensor, no fmt: nvcc reads this.
//
// Adam, as torch.optim.Adam's single-tensor path (torch/optim/adam.py, docs' algorithm box):
//   g  = g + wd * p                  (Adam: L2 penalty folded into the gradient)
//   p  = p * (1 - lr * wd)           (AdamW instead: decoupled decay, Loshchilov & Hutter 2019)
//   m  = beta1 * m + (1 - beta1) * g
//   v  = beta2 * v + (1 - beta2) * g²
//   p -= step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps),   step_size = lr / (1 - beta1^t)
// i.e. p -= lr * m̂ / (sqrt(v̂) + eps): eps is added after the bias-corrected square root.
// SGD, as torch.optim.SGD (dampening 0, no Nesterov): d = g + wd * p; buf = momentum * buf + d
// (buf starts at 0, which equals PyTorch's "buf = d" on the first step); p -= lr * (momentum ? buf : d).
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

template <typename T>
struct AdamScalars {
  T beta1, beta2, eps, weight_decay;
  T decay_factor;  // 1 - lr * weight_decay (AdamW); unused for Adam
  int decoupled;   // 1: AdamW, 0: Adam (L2)
};

template <typename T>
struct SgdScalars {
  T lr, momentum, weight_decay;
};

// step_size = lr / (1 - beta1^t) and bias_c2_sqrt = sqrt(1 - beta2^t) are per tensor: as in
// PyTorch every parameter counts its own steps (a parameter without a gradient is not stepped).
template <typename T>
DISPA_HD inline void adam_update(T& p, T g, T& m, T& v, const AdamScalars<T>& s, T step_size, T bias_c2_sqrt) {
  // Skipped entirely when weight_decay is 0, as PyTorch does (0 * inf would otherwise be NaN).
  if (s.weight_decay != T(0)) {
    if (s.decoupled) {
      p = p * s.decay_factor;
    } else {
      g = g + s.weight_decay * p;
    }
  }
  m = s.beta1 * m + (T(1) - s.beta1) * g;
  v = s.beta2 * v + (T(1) - s.beta2) * g * g;
  const T denom = math::sqrt(v) / bias_c2_sqrt + s.eps;
  p = p - step_size * (m / denom);
}

// buf may be null when momentum is 0 (no state kept, as PyTorch).
template <typename T>
DISPA_HD inline void sgd_update(T& p, T g, T* buf, const SgdScalars<T>& s) {
  T d = s.weight_decay != T(0) ? g + s.weight_decay * p : g;
  if (buf != nullptr) {
    *buf = s.momentum * *buf + d;
    d = *buf;
  }
  p = p - s.lr * d;
}

// One row of the fused kernels' table: every pointer refers to `numel` contiguous elements of the
// same dtype; `start` is the running sum of numel over the previous rows, so flat index i belongs
// to the last row with start <= i. Plain 8-byte fields: the host fills a vector of these and copies
// its bytes to the device unchanged.
struct OptimTensorEntry {
  void* param;
  void* grad;     // written only by clipping (scaled in place)
  void* state1;   // Adam exp_avg / SGD momentum buffer (null without momentum)
  void* state2;   // Adam exp_avg_sq
  int64_t numel;
  int64_t start;
  double step_size;     // Adam only
  double bias_c2_sqrt;  // Adam only
};

namespace cuda {
// `table` is a device array of n rows sorted by start; total = sum of numel. One launch each.
void adam_step_fused(const OptimTensorEntry* table, int n, int64_t total, const AdamScalars<float>& s);
void sgd_step_fused(const OptimTensorEntry* table, int n, int64_t total, const SgdScalars<float>& s);
// out (device, one double, zeroed by the caller) += sum over all grads of g² (fp64 accumulation).
void grad_sq_norm_fused(const OptimTensorEntry* table, int n, int64_t total, double* out);
// Every grad *= scale.
void grad_scale_fused(const OptimTensorEntry* table, int n, int64_t total, float scale);
}  // namespace cuda

}  // namespace dispa
