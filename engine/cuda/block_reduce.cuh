// Device-side reduction building blocks shared by the reduce, softmax and norm kernels (nvcc only).
// warp_sum / warp_max: butterfly shuffles, so every lane of the warp ends with the result (the
// whole warp must call them: full mask). column_sum_8: for [32, 8] blocks where threadIdx.x walks
// columns and threadIdx.y splits rows; sums over threadIdx.y in a fixed order (deterministic).
#pragma once
#include <cuda_runtime.h>

#include "engine/math_common.h"

namespace dispa::cuda {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// NaN-propagating (max_propagate_nan, engine/math_common.h): one NaN lane makes every lane NaN.
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = max_propagate_nan(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Column blocks: blockDim = (32, kColumnRows). Returns, to every thread, the sum of v over the
// threads sharing its threadIdx.x. Must be called by the whole block (it synchronises).
constexpr int kColumnRows = 8;
__device__ __forceinline__ float column_sum(float v, float (*scratch)[kWarpSize]) {
  scratch[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  float total = 0.f;
#pragma unroll
  for (int i = 0; i < kColumnRows; ++i) total += scratch[i][threadIdx.x];
  __syncthreads();  // scratch is reused by the next call
  return total;
}

}  // namespace dispa::cuda
