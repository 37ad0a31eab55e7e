// Matrix products. CPU: our blocked, packed, SIMD + OpenMP GEMM (gemm_cpu.h), f32 and f64;
// CUDA: cuBLAS (cublasGemmStridedBatchedEx, matmul_math.h), f32, fp32 compute by default, TF32 when
// enabled. Inputs must share dtype and device; errors name the op and both shapes. Transposes are
// GEMM flags (no copies); backward computes each needed input gradient with one GEMM (see matmul.cpp).
#pragma once
#include "engine/tensor.h"

namespace dispa {

// Batched matmul with transpose flags. a: [..., M, K] ([..., K, M] if transpose_a),
// b: [..., K, N] ([..., N, K] if transpose_b). Batch dims of a and b must be equal, or b is 2-D
// (one matrix shared by every batch entry). Result [..., M, N]. Backward for both inputs.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// y = x · weightᵀ + bias, PyTorch's nn.Linear layout: x [..., in], weight [out, in],
// bias [out] or undefined. One GEMM over all leading dims; bias gradient = column sums of dy.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// TF32 tensor-core math for CUDA GEMMs (off by default: fp32 results then match the CPU to fp32
// rounding of the sums, ~1e-5 relative; with TF32 inputs are rounded to 10-bit mantissas, ~1e-3).
void set_cuda_tf32(bool enabled);
bool cuda_tf32();

}  // namespace dispa
