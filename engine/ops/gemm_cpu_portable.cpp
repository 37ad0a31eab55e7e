// Portable micro-kernel of the CPU GEMM (see gemm_cpu_kernels.h): plain C++ with no intrinsics,
// compiled with the build's baseline flags, for CPUs without AVX2 (and non-x86 builds). A 6x8 tile:
// with SSE2's sixteen 128-bit registers the compiler keeps the 6 x 2 accumulators, two B vectors
// and a broadcast A value in registers. No fused multiply-add: products round before the sum, so
// results differ from the AVX levels by rounding only.
#include "engine/ops/gemm_cpu_kernel_common.h"
#include "engine/ops/gemm_cpu_kernels.h"

namespace dispa::cpu::gemm_kernels {
namespace {

constexpr int64_t kMR = 6;
constexpr int64_t kNR = 8;

void kernel_6x8(int64_t depth, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                float alpha, float beta) {
  float acc[kMR][kNR] = {};
  for (int64_t p = 0; p < depth; ++p, a += kMR, b += kNR)
    for (int64_t i = 0; i < kMR; ++i)
      for (int64_t j = 0; j < kNR; ++j) acc[i][j] += a[i] * b[j];
  for (int64_t i = 0; i < kMR; ++i)
    for (int64_t j = 0; j < kNR; ++j) {
      float& dst = c[i * ldc + j];
      dst = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * dst;
    }
}

}  // namespace

const SgemmKernel& sgemm_kernel_portable() {
  // KC x NR panel of B = 8 KiB of L1 at KC 256; MC x KC of A = 120 KiB, within any L2.
  static constexpr SgemmKernel kernel{"portable 6x8",
                                      kMR,
                                      kNR,
                                      /*kc=*/256,
                                      /*mc=*/120,
                                      /*nc=*/4096,
                                      pack_a_scalar<kMR>,
                                      pack_b_scalar<kNR>,
                                      block_times_panel<kMR, kNR, kernel_6x8>};
  return kernel;
}

}  // namespace dispa::cpu::gemm_kernels
