// Softmax over the last axis, numerically stable (max-subtracted), with an optional key mask.
// f32/f64 on the CPU, f32 on CUDA (one warp per row). Math: softmax_math.h; loops: softmax.cpp;
// kernels: softmax.cu.
#pragma once
#include "engine/tensor.h"

namespace dispa {

// x: [..., K]. Returns softmax over K.
Tensor softmax(const Tensor& x);

// mask: any dtype, nonzero = keep; its shape broadcasts to x (e.g. x [B, H, Q, K], mask
// [B, 1, 1, K]). Masked positions get probability 0; a row with every key masked gives all
// zeros (never NaN) and zero gradient. No gradient flows to the mask.
Tensor masked_softmax(const Tensor& x, const Tensor& mask);

}  // namespace dispa
