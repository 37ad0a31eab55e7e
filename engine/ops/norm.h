// Normalisations: LayerNorm over the last k dims, RMSNorm over the last dim, BatchNorm1d.
// Statistics are fused per row (mean, rstd = 1/sqrt(var + eps), biased variance as PyTorch).
// f32/f64 on the CPU, f32 on CUDA. Backward gives x, weight and bias gradients. Math and the
// derivation: norm_math.h; loops: norm.cpp; kernels: norm.cu.
#pragma once
#include "engine/tensor.h"

namespace dispa {

// x: [..., D1..Dk]; weight, bias: [D1..Dk] or undefined (no affine). k = normalized_ndim
// (k = 2 on [B, P, E] normalises each [P, E] slab, like nn.LayerNorm([P, E])).
Tensor layer_norm(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);

// relu(layer_norm(x, ...)). Where no gradient is recorded, on the CPU, one pass writes the relu'd
// rows (prediction: the FFNs' hidden layer without a second pass over it); otherwise exactly the
// two ops, with their backward (and the CUDA kernels).
Tensor layer_norm_relu(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias,
                       double eps = 1e-5);

// x: [..., D]; y = x / sqrt(mean(x²) + eps) * weight (weight [D] or undefined).
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-5);

// x: [N, C]. Training: normalise with the batch mean and biased variance, and update the running
// statistics in place: running = (1 - momentum) * running + momentum * batch, with the unbiased
// variance (N / (N - 1)) for running_var, exactly as torch.nn.BatchNorm1d. Eval: use the running
// statistics. weight/bias [C] or undefined; running_mean/var [C] (may be undefined in training).
// Training needs N > 1 (as PyTorch). Backward treats the statistics of eval mode as constants.
Tensor batch_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                    Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace dispa
