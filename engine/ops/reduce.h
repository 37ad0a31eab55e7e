// Reductions over one axis (keepdim as in PyTorch) and over all elements. f32/f64 on the CPU
// (accumulated in double), f32 on CUDA. A mean over an empty axis is NaN, as in PyTorch.
// Implementation: reduce.cpp (CPU loops, tape), reduce.cu (warp/block kernels), reduce_math.h.
#pragma once
#include "engine/tensor.h"

namespace dispa {

// x [..., n, ...] -> the same shape without axis (or with 1 there when keepdim); axis may be negative.
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
Tensor sum_all(const Tensor& x);   // shape []
Tensor mean_all(const Tensor& x);  // shape []

}  // namespace dispa
