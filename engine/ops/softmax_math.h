// Softmax over the last axis, per row of K keys, max-subtracted:
//   y_k = keep_k ? exp(x_k - m) / s : 0,   m = max_{kept} x_k,   s = sum_{kept} exp(x_k - m).
// A row with no kept key has m = -inf and s = 0; softmax_inv_sum(0) = 0 makes it all zeros, and
// the exponent is never evaluated there, so no inf - inf = NaN appears. A kept NaN key makes the
// row NaN (the maximum and the sum propagate it), as PyTorch's softmax does; masked keys are never
// read, so a NaN there changes nothing (PyTorch fills them before the softmax).
// Backward (the softmax Jacobian-vector product): dx_k = y_k (dy_k - sum_j y_j dy_j); masked keys
// have y = 0 and so get no gradient, and a fully masked row gets zero gradient.
// The pieces below are shared by the CPU loops (softmax.cpp) and the warp kernels (softmax.cu).
#pragma once
#include <cstdint>

#include "engine/math_common.h"
#include "engine/ops/elementwise_math.h"  // BroadcastIndexer

namespace dispa {

template <typename M>
DISPA_HD inline bool mask_keeps(M m) { return m != M(0); }

template <typename T>
DISPA_HD inline T softmax_exp(T x, T row_max) { return math::exp(x - row_max); }

// 1 / s, or 0 for a row whose keys are all masked (s == 0). A NaN sum (a NaN or +inf key) stays
// NaN, so the whole row is NaN, as in PyTorch.
template <typename T>
DISPA_HD inline T softmax_inv_sum(T sum) { return sum == T(0) ? T(0) : T(1) / sum; }

// The running row maximum over kept keys; a NaN key makes it NaN (std::max and fmaxf would skip it).
template <typename T>
DISPA_HD inline T softmax_row_max(T row_max, T x) { return max_propagate_nan(row_max, x); }

template <typename T>
DISPA_HD inline T softmax_grad(T y, T dy, T dot) { return y * (dy - dot); }

// Where row r's mask starts and how it steps along K. The indexer runs over x's shape with
// stride_b = the mask's broadcast strides (0 on broadcast axes); key_stride is 1, or 0 when one
// mask value covers the whole row.
struct SoftmaxMaskIndex {
  BroadcastIndexer index;
  int64_t key_stride = 1;
  DISPA_HD inline int64_t row_offset(int64_t row, int64_t K) const {
    int64_t ox, om;
    index.offsets(row * K, &ox, &om);
    return om;
  }
};

namespace cuda {
// f32 only. rows x K contiguous; y written (=). Masked variants: mask element type M is one of
// float, double, int32_t, int64_t (any dtype the Tensor can hold).
void softmax_forward(const float* x, float* y, int64_t rows, int64_t K);
template <typename M>
void masked_softmax_forward(const float* x, const M* mask, const SoftmaxMaskIndex& mask_index, float* y,
                            int64_t rows, int64_t K);
// dx = y * (dy - sum(y * dy)) per row (written, not accumulated).
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t K);
}  // namespace cuda

}  // namespace dispa
