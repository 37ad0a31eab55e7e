// The seam between the CPU GEMM driver (gemm_cpu.cpp: blocking, loop order, threads, claims on
// packed panels; compiled for baseline x86-64) and its micro-kernels, one translation unit per
// instruction set, each compiled with its own flags (engine/CMakeLists.txt):
//   gemm_cpu_portable.cpp  plain C++, 6x8 tile (what the baseline lets the compiler vectorise)
//   gemm_cpu_avx2.cpp      AVX2 + FMA, 6x16 tile in 12 ymm accumulators
//   gemm_cpu_avx512.cpp    AVX-512, 12x32 tile in 24 zmm accumulators
// The driver reaches ISA code only through the SgemmKernel of the level cpu_level() chose, so a
// CPU without AVX2 never executes an AVX instruction.
#pragma once
#include <cstdint>

namespace dispa::cpu::gemm_kernels {

struct SgemmKernel {
  const char* name;  // "avx2 6x16", for benchmark context and --version
  int64_t mr, nr;    // micro-tile rows and columns
  int64_t kc;        // max depth of a packed block (a kc x nr B micro-panel stays in L1)
  int64_t mc;        // max rows of a packed A block (mc x kc in L2); a multiple of mr
  int64_t nc;        // max columns of a packed B block (kc x nc in L3); a multiple of nr

  // op(A) rows [i0, i0+rows) x depth [p0, p0+depth) -> ceil(rows/mr) micro-panels, each `depth`
  // steps of mr consecutive values; rows past `rows` are zero. May write up to kPackSlack floats
  // past the end of the block.
  void (*pack_a)(bool trans, const float* a, int64_t lda, int64_t i0, int64_t rows, int64_t p0, int64_t depth,
                 float* out);
  // op(B) depth [p0, p0+depth) x columns [j0, j0+cols), cols <= nr -> one micro-panel of `depth`
  // steps of nr consecutive values; columns past `cols` are zero. dst is 64-byte aligned.
  void (*pack_b)(bool trans, const float* b, int64_t ldb, int64_t p0, int64_t depth, int64_t j0, int64_t cols,
                 float* dst);
  // C[rows x cols] (ldc) = alpha * (packed A block) x (packed B panel) + beta * C, cols <= nr.
  // beta == 0 never reads C; the kernel never writes outside the rows x cols window.
  void (*block_times_panel)(int64_t rows, int64_t cols, int64_t depth, const float* a_packed, const float* b_panel,
                            float* c, int64_t ldc, float alpha, float beta);
};

// Packed A blocks get this many floats of slack past their end (see SgemmKernel::pack_a).
constexpr int64_t kPackSlack = 16;

// Defined in the translation unit of each level; the AVX ones exist only in x86-64 builds
// (DISPA_CPU_KERNELS_X86) and may be called only where cpu_supports() says so.
const SgemmKernel& sgemm_kernel_portable();
const SgemmKernel& sgemm_kernel_avx2();
const SgemmKernel& sgemm_kernel_avx512();

}  // namespace dispa::cpu::gemm_kernels
