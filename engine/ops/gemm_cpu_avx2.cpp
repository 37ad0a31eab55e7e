// AVX2 + FMA micro-kernel of the CPU GEMM (see gemm_cpu_kernels.h), compiled with -mavx2 -mfma
// (engine/CMakeLists.txt) and called only when cpu_level() >= avx2. A 6x16 tile: twelve ymm
// accumulators, two B vectors and one broadcast A value use 15 of the 16 ymm registers; fp32 FMA.
#include <immintrin.h>

#include "engine/ops/gemm_cpu_kernel_common.h"
#include "engine/ops/gemm_cpu_kernels.h"

namespace dispa::cpu::gemm_kernels {
namespace {

constexpr int64_t kMR = 6;
constexpr int64_t kNR = 16;

// Full 6-row panels of a non-transposed A interleave six rows 8 steps at a time through an 8x8
// transpose; everything else takes the scalar packer.
void pack_a(bool trans, const float* a, int64_t lda, int64_t i0, int64_t rows, int64_t p0, int64_t depth,
            float* out) {
  for (int64_t ir = 0; ir < rows; ir += kMR) {
    const int64_t mr = min_of(kMR, rows - ir);
    float* dst = out + ir * depth;
    if (trans || mr != kMR) {
      pack_a_panel_scalar<kMR>(trans, a, lda, i0 + ir, mr, p0, depth, dst);
      continue;
    }
    const float* r0 = a + (i0 + ir) * lda + p0;
    const float* r1 = r0 + lda;
    const float* r2 = r1 + lda;
    const float* r3 = r2 + lda;
    const float* r4 = r3 + lda;
    const float* r5 = r4 + lda;
    int64_t p = 0;
    for (; p + 8 <= depth; p += 8, dst += 8 * kMR) {
      // 6 rows x 8 steps, transposed as 8 x 8 with two zero rows; each column's first six lanes
      // are the step's values. Stores go in ascending order, 8 wide, so lanes 6-7 of one store
      // are overwritten by the next; the last spills two floats into what is written next (or
      // into the block's slack).
      __m256 v0 = _mm256_loadu_ps(r0 + p), v1 = _mm256_loadu_ps(r1 + p), v2 = _mm256_loadu_ps(r2 + p);
      __m256 v3 = _mm256_loadu_ps(r3 + p), v4 = _mm256_loadu_ps(r4 + p), v5 = _mm256_loadu_ps(r5 + p);
      __m256 v6 = _mm256_setzero_ps(), v7 = _mm256_setzero_ps();
      transpose_8x8(v0, v1, v2, v3, v4, v5, v6, v7);
      _mm256_storeu_ps(dst + 0 * kMR, v0);
      _mm256_storeu_ps(dst + 1 * kMR, v1);
      _mm256_storeu_ps(dst + 2 * kMR, v2);
      _mm256_storeu_ps(dst + 3 * kMR, v3);
      _mm256_storeu_ps(dst + 4 * kMR, v4);
      _mm256_storeu_ps(dst + 5 * kMR, v5);
      _mm256_storeu_ps(dst + 6 * kMR, v6);
      _mm256_storeu_ps(dst + 7 * kMR, v7);
    }
    for (; p < depth; ++p, dst += kMR) {
      dst[0] = r0[p];
      dst[1] = r1[p];
      dst[2] = r2[p];
      dst[3] = r3[p];
      dst[4] = r4[p];
      dst[5] = r5[p];
    }
  }
}

void pack_b(bool trans, const float* b, int64_t ldb, int64_t p0, int64_t depth, int64_t j0, int64_t cols,
            float* dst) {
  if (trans || cols != kNR) {
    pack_b_scalar<kNR>(trans, b, ldb, p0, depth, j0, cols, dst);
    return;
  }
  const float* src = b + p0 * ldb + j0;  // op(B)(p, j) = b[p * ldb + j]: two vector copies per step
  for (int64_t p = 0; p < depth; ++p, src += ldb, dst += kNR) {
    _mm256_store_ps(dst, _mm256_loadu_ps(src));
    _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
  }
}

// C[6 x 16] (ldc) = alpha * sum_p a[p][0..5] (x) b[p][0..15] + beta * C. a: packed A micro-panel
// (6 per step), b: packed B micro-panel (16 per step, 32-byte aligned). beta == 0 never reads C.
void kernel_6x16(int64_t depth, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                 float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int r = 0; r < 6; ++r) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);

#define DISPA_GEMM_STEP(P)                                                                  \
  {                                                                                         \
    const __m256 b0 = _mm256_load_ps(b + (P) * 16);                                         \
    const __m256 b1 = _mm256_load_ps(b + (P) * 16 + 8);                                     \
    __m256 av = _mm256_broadcast_ss(a + (P) * 6 + 0);                                       \
    c00 = _mm256_fmadd_ps(av, b0, c00);                                                     \
    c01 = _mm256_fmadd_ps(av, b1, c01);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 1);                                              \
    c10 = _mm256_fmadd_ps(av, b0, c10);                                                     \
    c11 = _mm256_fmadd_ps(av, b1, c11);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 2);                                              \
    c20 = _mm256_fmadd_ps(av, b0, c20);                                                     \
    c21 = _mm256_fmadd_ps(av, b1, c21);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 3);                                              \
    c30 = _mm256_fmadd_ps(av, b0, c30);                                                     \
    c31 = _mm256_fmadd_ps(av, b1, c31);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 4);                                              \
    c40 = _mm256_fmadd_ps(av, b0, c40);                                                     \
    c41 = _mm256_fmadd_ps(av, b1, c41);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 5);                                              \
    c50 = _mm256_fmadd_ps(av, b0, c50);                                                     \
    c51 = _mm256_fmadd_ps(av, b1, c51);                                                     \
  }
  int64_t p = 0;
  for (; p + 4 <= depth; p += 4) {  // unrolled by 4 to amortise the loop overhead
    _mm_prefetch(reinterpret_cast<const char*>(a + 96), _MM_HINT_T0);
    DISPA_GEMM_STEP(0)
    DISPA_GEMM_STEP(1)
    DISPA_GEMM_STEP(2)
    DISPA_GEMM_STEP(3)
    a += 24;
    b += 64;
  }
  for (; p < depth; ++p) {
    DISPA_GEMM_STEP(0)
    a += 6;
    b += 16;
  }
#undef DISPA_GEMM_STEP

  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  auto store = [&](float* dst, __m256 acc) {
    if (beta == 0.f) _mm256_storeu_ps(dst, _mm256_mul_ps(va, acc));
    else _mm256_storeu_ps(dst, _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_loadu_ps(dst))));
  };
  store(c + 0 * ldc, c00), store(c + 0 * ldc + 8, c01);
  store(c + 1 * ldc, c10), store(c + 1 * ldc + 8, c11);
  store(c + 2 * ldc, c20), store(c + 2 * ldc + 8, c21);
  store(c + 3 * ldc, c30), store(c + 3 * ldc + 8, c31);
  store(c + 4 * ldc, c40), store(c + 4 * ldc + 8, c41);
  store(c + 5 * ldc, c50), store(c + 5 * ldc + 8, c51);
}

}  // namespace

const SgemmKernel& sgemm_kernel_avx2() {
  // KC x NR B panel = 32 KiB (L1); MC x KC A block = 336 KiB (L2); KC x NC B block = 6 MiB (L3).
  static constexpr SgemmKernel kernel{"avx2 6x16",
                                      kMR,
                                      kNR,
                                      /*kc=*/512,
                                      /*mc=*/168,
                                      /*nc=*/3072,
                                      pack_a,
                                      pack_b,
                                      block_times_panel<kMR, kNR, kernel_6x16>};
  return kernel;
}

}  // namespace dispa::cpu::gemm_kernels
