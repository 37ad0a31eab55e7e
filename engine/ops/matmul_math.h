// Raw CUDA entry points of the matrix-product family (pointers and sizes; no Tensor, no fmt:
// nvcc reads this). Same row-major contract as the CPU GEMM in gemm_cpu.h; matmul.cpp checks the
// arguments (sizes fit cuBLAS's int) before calling. Implemented in matmul.cu.
#pragma once
#include <cstdint>

namespace dispa::cuda {

// Row-major strided batched C = alpha * op(A) * op(B) + beta * C on cuBLAS
// (cublasGemmStridedBatchedEx). op(A) is m x k (A stored [m, k], or [k, m] when trans_a), op(B)
// is k x n (B stored [k, n], or [n, k] when trans_b), C is [m, n]; entry i reads A + i*stride_a,
// B + i*stride_b, writes C + i*stride_c (a stride of 0 shares an operand). fp32 in and out; fp32
// accumulate, or TF32 tensor cores with fp32 accumulate when tf32 is set.
void sgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
                   float* c, int64_t ldc, int64_t stride_c, int64_t batch, bool tf32);

// y[r, j] = bias[j] for r < rows, j < cols (y contiguous [rows, cols]); linear's forward then
// runs its GEMM with beta = 1 on top.
void broadcast_rows(const float* bias, float* y, int64_t rows, int64_t cols);

// out[j] = sum_r x[r, j] (x contiguous [rows, cols]), or out[j] += that when accumulate.
// Deterministic: partial sums over fixed row ranges in fp64, combined in a fixed order.
void column_sums(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate);

}  // namespace dispa::cuda
