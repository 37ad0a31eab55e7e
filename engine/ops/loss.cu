// MSE kernels. Forward is a two-pass deterministic reduction in double: kMseBlocks blocks of
// kMseThreads threads each sum a grid-stride share of squared errors and reduce in shared memory
// to one partial; one block then sums the partials in order and divides by n. The fixed grid makes
// the result a function of the data alone (not bit-identical to the CPU's chunked sum, but both
// accumulate in double). Backward is elementwise and reads dy on the device (no host sync).
#include "engine/cuda/check.h"
#include "engine/ops/loss_math.h"

namespace dispa::cuda {
namespace {

// Tree reduction of one value per thread; blockDim.x == kMseThreads (a power of two).
__device__ double block_sum(double v) {
  __shared__ double shared[kMseThreads];
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kMseThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

template <typename T>
__global__ void mse_partials_kernel(const T* p, const T* t, int64_t n, double* partials) {
  double s = 0.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += squared_error(p[i], t[i]);
  const double total = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

template <typename T>
__global__ void mse_finish_kernel(const double* partials, int64_t n, T* out) {
  const double total = block_sum(threadIdx.x < kMseBlocks ? partials[threadIdx.x] : 0.0);
  if (threadIdx.x == 0) out[0] = static_cast<T>(total / static_cast<double>(n));
}

template <typename T>
__global__ void mse_backward_kernel(const T* p, const T* t, const T* dy, T* dp, int64_t n) {
  const double scale = 2.0 * static_cast<double>(dy[0]) / static_cast<double>(n);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dp[i] = mse_grad(p[i], t[i], scale);
}
}  // namespace

static_assert(kMseBlocks <= kMseThreads, "mse_finish_kernel reduces all partials in one block");

template <typename T> void mse_forward(const T* prediction, const T* target, int64_t n, double* partials, T* out) {
  mse_partials_kernel<<<kMseBlocks, kMseThreads, 0, current_stream()>>>(prediction, target, n, partials);
  DISPA_CUDA_CHECK_LAUNCH("mse_partials_kernel");
  mse_finish_kernel<<<1, kMseThreads, 0, current_stream()>>>(partials, n, out);
  DISPA_CUDA_CHECK_LAUNCH("mse_finish_kernel");
}

template <typename T> void mse_backward(const T* prediction, const T* target, const T* dy, T* dp, int64_t n) {
  if (n == 0) return;
  mse_backward_kernel<<<dispa_grid_for(n, kMseThreads), kMseThreads, 0, current_stream()>>>(prediction, target, dy,
                                                                                              dp, n);
  DISPA_CUDA_CHECK_LAUNCH("mse_backward_kernel");
}

template void mse_forward<float>(const float*, const float*, int64_t, double*, float*);
template void mse_forward<double>(const double*, const double*, int64_t, double*, double*);
template void mse_backward<float>(const float*, const float*, const float*, float*, int64_t);
template void mse_backward<double>(const double*, const double*, const double*, double*, int64_t);

}  // namespace dispa::cuda
