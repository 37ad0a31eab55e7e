// Dropout kernel: one thread per element, grid-stride loop. Each thread evaluates its own Philox
// block (dropout_math.h); four neighbouring elements share a block and recompute it, which costs
// ALU but no memory traffic and keeps the mask a pure function of (seed, offset, i).
#include "engine/cuda/check.h"
#include "engine/ops/dropout_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void dropout_masked_scale_kernel(const T* in, T* out, int64_t n, float p, T scale, uint64_t seed,
                                            uint64_t offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = dropout_apply(in[i], dropout_keep(seed, offset, uint64_t(i), p), scale);
}
}  // namespace

template <typename T>
void dropout_masked_scale(const T* in, T* out, int64_t n, float p, T scale, uint64_t seed, uint64_t offset) {
  if (n == 0) return;
  dropout_masked_scale_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(in, out, n, p, scale,
                                                                                                seed, offset);
  DISPA_CUDA_CHECK_LAUNCH("dropout_masked_scale_kernel");
}

template void dropout_masked_scale<float>(const float*, float*, int64_t, float, float, uint64_t, uint64_t);
template void dropout_masked_scale<double>(const double*, double*, int64_t, float, double, uint64_t, uint64_t);

}  // namespace dispa::cuda
