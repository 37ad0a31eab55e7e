// Scalar building blocks shared by the ISA translation units of the CPU GEMM (gemm_cpu_kernels.h):
// generic packing of A and B micro-panels, and the loop that runs a micro-kernel over a packed A
// block against one B panel, with edge tiles going through a local buffer.
// Everything here has internal linkage on purpose: each ISA translation unit compiles its own copy
// with its own flags. An inline function with external linkage would be emitted by several of them
// as one weak symbol, and the linker could keep the AVX-512 copy for every caller, including the
// portable path on a CPU without AVX-512. For the same reason these helpers call no std:: templates
// (tests/engine/CMakeLists.txt checks that the kernel objects define no weak symbols).
#pragma once
#include <cstdint>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace dispa::cpu::gemm_kernels {
namespace {

inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }

// One micro-panel of op(A): rows [row0, row0+mr) (mr <= MR) x depth [p0, p0+depth) -> `depth`
// steps of MR values; rows mr..MR-1 are zero.
template <int64_t MR>
void pack_a_panel_scalar(bool trans, const float* a, int64_t lda, int64_t row0, int64_t mr, int64_t p0,
                         int64_t depth, float* dst) {
  if (trans) {  // op(A)(i, p) = a[p * lda + i]: each step is mr contiguous values
    const float* src = a + p0 * lda + row0;
    for (int64_t p = 0; p < depth; ++p, src += lda, dst += MR) {
      int64_t r = 0;
      for (; r < mr; ++r) dst[r] = src[r];
      for (; r < MR; ++r) dst[r] = 0.f;
    }
    return;
  }
  // op(A)(i, p) = a[i * lda + p]: read each row contiguously, write with stride MR.
  for (int64_t r = 0; r < MR; ++r) {
    if (r < mr) {
      const float* src = a + (row0 + r) * lda + p0;
      for (int64_t p = 0; p < depth; ++p) dst[p * MR + r] = src[p];
    } else {
      for (int64_t p = 0; p < depth; ++p) dst[p * MR + r] = 0.f;
    }
  }
}

template <int64_t MR>
void pack_a_scalar(bool trans, const float* a, int64_t lda, int64_t i0, int64_t rows, int64_t p0, int64_t depth,
                   float* out) {
  for (int64_t ir = 0; ir < rows; ir += MR)
    pack_a_panel_scalar<MR>(trans, a, lda, i0 + ir, min_of(MR, rows - ir), p0, depth, out + ir * depth);
}

// One micro-panel of op(B): depth [p0, p0+depth) x columns [j0, j0+cols) (cols <= NR) -> `depth`
// steps of NR values; columns cols..NR-1 are zero.
template <int64_t NR>
void pack_b_scalar(bool trans, const float* b, int64_t ldb, int64_t p0, int64_t depth, int64_t j0, int64_t cols,
                   float* dst) {
  if (!trans) {  // op(B)(p, j) = b[p * ldb + j]
    const float* src = b + p0 * ldb + j0;
    for (int64_t p = 0; p < depth; ++p, src += ldb, dst += NR) {
      int64_t j = 0;
      for (; j < cols; ++j) dst[j] = src[j];
      for (; j < NR; ++j) dst[j] = 0.f;
    }
    return;
  }
  // op(B)(p, j) = b[j * ldb + p]: walk each stored row (contiguous in p), scatter with stride NR.
  for (int64_t j = 0; j < NR; ++j) {
    if (j < cols) {
      const float* src = b + (j0 + j) * ldb + p0;
      for (int64_t p = 0; p < depth; ++p) dst[p * NR + j] = src[p];
    } else {
      for (int64_t p = 0; p < depth; ++p) dst[p * NR + j] = 0.f;
    }
  }
}

#if defined(__AVX__)  // the AVX2 and AVX-512 translation units
// In-register transpose: afterwards v_j holds element j of each of the eight inputs.
inline void transpose_8x8(__m256& v0, __m256& v1, __m256& v2, __m256& v3, __m256& v4, __m256& v5, __m256& v6,
                          __m256& v7) {
  const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
  const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
  const __m256 t4 = _mm256_unpacklo_ps(v4, v5), t5 = _mm256_unpackhi_ps(v4, v5);
  const __m256 t6 = _mm256_unpacklo_ps(v6, v7), t7 = _mm256_unpackhi_ps(v6, v7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  v0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  v1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  v2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  v3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  v4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  v5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  v6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  v7 = _mm256_permute2f128_ps(s3, s7, 0x31);
}
#endif

// Micro-kernel signature: C[MR x NR] (ldc) = alpha * sum_p a[p][0..MR) (x) b[p][0..NR) + beta * C,
// beta == 0 never reading C.
using MicroKernel = void (*)(int64_t depth, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                             float beta);

// A packed block of A (rows x depth) times one packed B panel (cols <= NR) into C; the B panel
// stays in L1 over the loop. Edge tiles are computed into a local tile and copied, so the kernel
// never writes outside C.
template <int64_t MR, int64_t NR, MicroKernel Kernel>
void block_times_panel(int64_t rows, int64_t cols, int64_t depth, const float* a_packed, const float* b_panel,
                       float* c, int64_t ldc, float alpha, float beta) {
  alignas(64) float tile[MR * NR];
  for (int64_t ir = 0; ir < rows; ir += MR) {
    const int64_t mr = min_of(MR, rows - ir);
    const float* a_panel = a_packed + ir * depth;
    float* c_tile = c + ir * ldc;
    if (mr == MR && cols == NR) {
      Kernel(depth, a_panel, b_panel, c_tile, ldc, alpha, beta);
      continue;
    }
    Kernel(depth, a_panel, b_panel, tile, NR, 1.f, 0.f);
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        float& dst = c_tile[i * ldc + j];
        dst = beta == 0.f ? alpha * tile[i * NR + j] : alpha * tile[i * NR + j] + beta * dst;
      }
  }
}

}  // namespace
}  // namespace dispa::cpu::gemm_kernels
