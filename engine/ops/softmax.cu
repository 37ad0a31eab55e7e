// CUDA softmax over the last axis: softmax_rows_warp_kernel gives one warp to each row of K keys
// (8 rows per 256-thread block, grid-stride over rows); lanes stride over the keys, which keeps
// loads coalesced for any K. Three passes over the row (max, sum of exponents, write) read x from
// global memory each time: for the model's rows (K <= 17 substructures, K up to ~300 pathways) the
// second and third reads hit L1, and a longer row (a few thousand keys) stays correct, only slower.
// Precision: f32 with max-subtracted exponents (expf, not the fast __expf) and shuffle-tree sums;
// a fully masked row gets zeros (softmax_math.h). softmax_backward_warp_kernel: same layout.
#include <cmath>

#include "engine/cuda/block_reduce.cuh"
#include "engine/cuda/check.h"
#include "engine/ops/softmax_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / kWarpSize;

int rows_grid(int64_t rows) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  return static_cast<int>(blocks < 65535LL * 16 ? blocks : 65535LL * 16);
}

// mask == nullptr: plain softmax (every key kept). Otherwise mask_index maps row -> mask offset.
template <typename M>
__global__ void softmax_rows_warp_kernel(const float* x, const M* mask, SoftmaxMaskIndex mask_index, float* y,
                                         int64_t rows, int64_t K) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_total = int64_t(gridDim.x) * kRowsPerBlock;
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize; row < rows;
       row += warps_total) {
    const float* xr = x + row * K;
    float* yr = y + row * K;
    const M* mr = mask != nullptr ? mask + mask_index.row_offset(row, K) : nullptr;
    const int64_t step = mask_index.key_stride;
    auto keep = [mr, step](int64_t k) { return mr == nullptr || mask_keeps(mr[k * step]); };

    float row_max = -INFINITY;
    for (int64_t k = lane; k < K; k += kWarpSize)
      if (keep(k)) row_max = softmax_row_max(row_max, xr[k]);
    row_max = warp_max(row_max);

    float sum = 0.f;
    for (int64_t k = lane; k < K; k += kWarpSize)
      if (keep(k)) sum += softmax_exp(xr[k], row_max);
    const float inv = softmax_inv_sum(warp_sum(sum));

    for (int64_t k = lane; k < K; k += kWarpSize) yr[k] = keep(k) ? softmax_exp(xr[k], row_max) * inv : 0.f;
  }
}

__global__ void softmax_backward_warp_kernel(const float* y, const float* dy, float* dx, int64_t rows, int64_t K) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_total = int64_t(gridDim.x) * kRowsPerBlock;
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize; row < rows;
       row += warps_total) {
    const float* yr = y + row * K;
    const float* gr = dy + row * K;
    float dot = 0.f;
    for (int64_t k = lane; k < K; k += kWarpSize) dot += yr[k] * gr[k];
    dot = warp_sum(dot);
    for (int64_t k = lane; k < K; k += kWarpSize) dx[row * K + k] = softmax_grad(yr[k], gr[k], dot);
  }
}
}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t K) {
  if (rows * K == 0) return;
  softmax_rows_warp_kernel<float><<<rows_grid(rows), kThreads, 0, current_stream()>>>(x, nullptr, SoftmaxMaskIndex{},
                                                                                      y, rows, K);
  DISPA_CUDA_CHECK_LAUNCH("softmax_rows_warp_kernel");
}

template <typename M>
void masked_softmax_forward(const float* x, const M* mask, const SoftmaxMaskIndex& mask_index, float* y,
                            int64_t rows, int64_t K) {
  if (rows * K == 0) return;
  softmax_rows_warp_kernel<M><<<rows_grid(rows), kThreads, 0, current_stream()>>>(x, mask, mask_index, y, rows, K);
  DISPA_CUDA_CHECK_LAUNCH("softmax_rows_warp_kernel");
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t K) {
  if (rows * K == 0) return;
  softmax_backward_warp_kernel<<<rows_grid(rows), kThreads, 0, current_stream()>>>(y, dy, dx, rows, K);
  DISPA_CUDA_CHECK_LAUNCH("softmax_backward_warp_kernel");
}

template void masked_softmax_forward<float>(const float*, const float*, const SoftmaxMaskIndex&, float*, int64_t,
                                            int64_t);
template void masked_softmax_forward<double>(const float*, const double*, const SoftmaxMaskIndex&, float*, int64_t,
                                             int64_t);
template void masked_softmax_forward<int32_t>(const float*, const int32_t*, const SoftmaxMaskIndex&, float*,
                                              int64_t, int64_t);
template void masked_softmax_forward<int64_t>(const float*, const int64_t*, const SoftmaxMaskIndex&, float*,
                                              int64_t, int64_t);

}  // namespace dispa::cuda
