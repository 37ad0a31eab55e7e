// Our CPU GEMM (no BLAS library in the product): row-major C = alpha * op(A) * op(B) + beta * C.
// f32 is the Goto/BLIS design (Goto & van de Geijn 2008, "Anatomy of high-performance matrix
// multiplication"; Van Zee & van de Geijn 2015, BLIS): cache blocks MC x KC of A (L2) and KC x NC
// of B (L3) are packed into micro-panels, and a 6x16 AVX2+FMA micro-kernel keeps the C tile in
// twelve ymm registers; OpenMP threads share the packed B block and take blocks of A rows.
// f64 exists for gradient checks only: blocked loops, correct but not tuned.
// Threads: a call costs one OpenMP fork/join. On a machine whose cores are shared with other jobs,
// libgomp's default spin-before-sleep makes small products slow at 2+ threads; run with
// OMP_WAIT_POLICY=passive there (bench/RESULTS.md has the numbers).
#pragma once
#include <cstdint>

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

// Block sizes of the f32 path, exposed for tests (edge cases straddle them) and the benchmark.
struct SgemmBlocking {
  static constexpr int64_t kMR = 6;     // micro-tile rows: 6 x 2 ymm accumulators + 2 B + 1 A = 15 of 16 ymm
  static constexpr int64_t kNR = 16;    // micro-tile columns: two ymm of 8 floats
  static constexpr int64_t kKC = 512;   // max depth of a packed block: a KC x NR B micro-panel (32 KiB) fills L1
  static constexpr int64_t kMC = 168;   // max rows of the packed A block: MC x KC (336 KiB) sits in L2
  static constexpr int64_t kNC = 3072;  // max columns of the packed B block: KC x NC (6 MiB) sits in L3
};

}  // namespace dispa::cpu
