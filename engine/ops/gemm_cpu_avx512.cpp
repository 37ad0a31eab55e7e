// AVX-512 micro-kernel of the CPU GEMM (see gemm_cpu_kernels.h), compiled with the x86-64-v4 flags
// (engine/CMakeLists.txt) and called only when cpu_level() is avx512. A 12x32 tile: 24 zmm
// accumulators and two B vectors; A values are broadcast from memory straight into the FMA
// (vfmadd231ps zmm, zmm, m32{1to16}), so they need no register. Twice the tile of the AVX2 kernel
// per B load and twice the work per instruction; fp32 FMA throughout.
#include <immintrin.h>

#include "engine/ops/gemm_cpu_kernel_common.h"
#include "engine/ops/gemm_cpu_kernels.h"

namespace dispa::cpu::gemm_kernels {
namespace {

constexpr int64_t kMR = 12;
constexpr int64_t kNR = 32;
static_assert(kMR > 8 && kMR <= 16, "pack_a interleaves rows as 8 + (MR - 8)");

// 8 steps of 8 rows -> v_k = the 8 rows' values at step k. Rows at or past `valid` read as zero.
inline void load_transposed(const float* const* rows, int64_t valid, int64_t p, __m256 (&v)[8]) {
  for (int r = 0; r < 8; ++r) v[r] = r < valid ? _mm256_loadu_ps(rows[r] + p) : _mm256_setzero_ps();
  transpose_8x8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

// Full panels of a non-transposed A: rows 0-7 and 8..MR-1 each go through an 8x8 transpose, 8
// steps at a time. Stores ascend, 8 wide: the second group's store spills (16 - MR) floats into
// the next step, which the next store overwrites (the last spill lands in the block's slack).
void pack_a(bool trans, const float* a, int64_t lda, int64_t i0, int64_t rows, int64_t p0, int64_t depth,
            float* out) {
  for (int64_t ir = 0; ir < rows; ir += kMR) {
    const int64_t mr = min_of(kMR, rows - ir);
    float* dst = out + ir * depth;
    if (trans || mr != kMR) {
      pack_a_panel_scalar<kMR>(trans, a, lda, i0 + ir, mr, p0, depth, dst);
      continue;
    }
    const float* lo[8];
    const float* hi[8];
    for (int r = 0; r < 8; ++r) {
      lo[r] = a + (i0 + ir + r) * lda + p0;
      hi[r] = r < kMR - 8 ? a + (i0 + ir + 8 + r) * lda + p0 : nullptr;
    }
    int64_t p = 0;
    for (; p + 8 <= depth; p += 8, dst += 8 * kMR) {
      __m256 v[8], w[8];
      load_transposed(lo, 8, p, v);
      load_transposed(hi, kMR - 8, p, w);
      for (int k = 0; k < 8; ++k) {
        _mm256_storeu_ps(dst + k * kMR, v[k]);
        _mm256_storeu_ps(dst + k * kMR + 8, w[k]);
      }
    }
    for (; p < depth; ++p, dst += kMR) {
      for (int r = 0; r < 8; ++r) dst[r] = lo[r][p];
      for (int r = 0; r < kMR - 8; ++r) dst[8 + r] = hi[r][p];
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
    _mm512_store_ps(dst, _mm512_loadu_ps(src));
    _mm512_store_ps(dst + 16, _mm512_loadu_ps(src + 16));
  }
}

// C[12 x 32] (ldc) = alpha * sum_p a[p][0..11] (x) b[p][0..31] + beta * C. a: packed A micro-panel
// (12 per step), b: packed B micro-panel (32 per step, 64-byte aligned). beta == 0 never reads C.
// The accumulator arrays are indexed by constants only after the unrolled loops, so they live in
// registers (checked in the generated code: no spills in the depth loop).
void kernel_12x32(int64_t depth, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                  float alpha, float beta) {
  __m512 acc0[kMR], acc1[kMR];
#pragma GCC unroll 16
  for (int i = 0; i < kMR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int i = 0; i < kMR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
  for (int64_t p = 0; p < depth; ++p, a += kMR, b += kNR) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < kMR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < kMR; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.f) {
      _mm512_storeu_ps(row, _mm512_mul_ps(va, acc0[i]));
      _mm512_storeu_ps(row + 16, _mm512_mul_ps(va, acc1[i]));
    } else {
      _mm512_storeu_ps(row, _mm512_fmadd_ps(va, acc0[i], _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
      _mm512_storeu_ps(row + 16, _mm512_fmadd_ps(va, acc1[i], _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16))));
    }
  }
}

}  // namespace

const SgemmKernel& sgemm_kernel_avx512() {
  // KC x NR B panel = 32 KiB of a 48 KiB L1 at KC 256 (the 12 KiB A micro-panel streams beside it);
  // MC x KC A block = 240 KiB of L2; KC x NC B block = 3 MiB. KC 384 measured slower (its B panel
  // fills L1); MC 240 and 480 within noise (bench/RESULTS.md).
  static constexpr SgemmKernel kernel{"avx512 12x32",
                                      kMR,
                                      kNR,
                                      /*kc=*/256,
                                      /*mc=*/240,
                                      /*nc=*/3072,
                                      pack_a,
                                      pack_b,
                                      block_times_panel<kMR, kNR, kernel_12x32>};
  return kernel;
}

}  // namespace dispa::cpu::gemm_kernels
