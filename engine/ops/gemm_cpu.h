// Our CPU GEMM (no BLAS library in the product): row-major C = alpha * op(A) * op(B) + beta * C.
// f32 is the Goto/BLIS design (Goto & van de Geijn 2008, "Anatomy of high-performance matrix
// multiplication"; Van Zee & van de Geijn 2015, BLIS): cache blocks MC x KC of A (L2) and KC x NC
// of B (L3) are packed into micro-panels, and a micro-kernel keeps an MR x NR tile of C in
// registers: 12x32 in zmm registers with AVX-512, 6x16 in ymm with AVX2 + FMA, 6x8 in portable C++
// otherwise, chosen at run time by cpu_level() (engine/cpu_features.h; gemm_cpu_kernels.h has the
// seam). OpenMP threads share the packed B block and take blocks of A rows.
// f64 exists for gradient checks only: blocked loops, correct but not tuned.
// Threads: a call costs one OpenMP fork/join. On a machine whose cores are shared with other jobs,
// libgomp's default spin-before-sleep makes small products slow at 2+ threads; run with
// OMP_WAIT_POLICY=passive there (bench/RESULTS.md has the numbers).
#pragma once
#include <cstdint>

#include "engine/cpu_features.h"

namespace dispa::cpu {

// Row-major operands. op(A) is M x K: A is stored [M, K] (lda >= K), or [K, M] (lda >= M) when
// trans_a. op(B) is K x N: B is stored [K, N] (ldb >= N), or [N, K] (ldb >= K) when trans_b.
// C is [M, N] with ldc >= N. beta == 0 overwrites C without reading it (NaNs there do not leak).
// Runs on omp_get_max_threads() threads, or on one when called inside a parallel region.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
           int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// `batch` independent products: entry i reads A + i*stride_a and B + i*stride_b and writes
// C + i*stride_c. A stride of 0 shares that operand across the batch; stride_c must separate the
// outputs (entries may run concurrently). Threads go over batch entries when each product is
// small, and inside each product otherwise.
void sgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                   int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch);
void dgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                   const double* a, int64_t lda, int64_t stride_a, const double* b, int64_t ldb,
                   int64_t stride_b, double beta, double* c, int64_t ldc, int64_t stride_c, int64_t batch);

// Overloads so dtype-generic op code can call one name.
inline void gemm_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                         int64_t lda, int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta,
                         float* c, int64_t ldc, int64_t sc, int64_t batch) {
  sgemm_batched(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
inline void gemm_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                         int64_t lda, int64_t sa, const double* b, int64_t ldb, int64_t sb, double beta,
                         double* c, int64_t ldc, int64_t sc, int64_t batch) {
  dgemm_batched(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

// Tile and block sizes of the f32 path at a CPU level, for tests (edge cases straddle them), the
// benchmark and --version. mc is a multiple of mr, nc of nr.
struct SgemmBlocking {
  const char* kernel;  // "avx512 12x32"
  int64_t mr, nr;      // micro-tile rows and columns
  int64_t kc, mc, nc;  // max depth, rows and columns of the packed blocks
};
SgemmBlocking sgemm_blocking(CpuLevel level);  // throws if the build has no kernel for `level`
SgemmBlocking sgemm_blocking();                // of cpu_level(), the one in use

}  // namespace dispa::cpu
