// CUDA sum over one axis of x [outer, n, inner] (f32 in, f32 accumulate). Three strategies:
//   inner == 1, short rows:  sum_rows_warp_kernel, one warp per row, lanes stride over n and meet
//                            in a warp-shuffle tree;
//   inner == 1, few long rows (sum_all): sum_row_chunks_kernel, one 256-thread block per chunk of
//                            kReduceChunk elements writes a partial sum, then the warp kernel sums
//                            each row's partials (two passes, fixed order: deterministic);
//   inner > 1:               sum_columns_kernel, [32, 8] blocks: x walks 32 adjacent columns
//                            (coalesced), y splits n eight ways, combined in shared memory.
#include "engine/cuda/block_reduce.cuh"
#include "engine/cuda/check.h"
#include "engine/ops/reduce_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / kWarpSize;
constexpr int64_t kMaxGrid = 65535;

// One warp per row of length n; rows are contiguous.
__global__ void sum_rows_warp_kernel(const float* x, float* out, int64_t rows, int64_t n, float scale) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_total = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize; row < rows;
       row += warps_total) {
    const float* src = x + row * n;
    float acc = 0.f;
    for (int64_t j = lane; j < n; j += kWarpSize) acc += src[j];
    acc = warp_sum(acc);
    if (lane == 0) out[row] = acc * scale;
  }
}

// Block (chunk c, row o) sums x[o, begin(c) .. begin(c+1)) into partial[o * chunks + c].
__global__ void sum_row_chunks_kernel(const float* x, float* partial, int64_t n, int64_t chunks) {
  __shared__ float warp_partials[kWarpsPerBlock];
  const int64_t c = blockIdx.x, o = blockIdx.y;
  const float* src = x + o * n;
  const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
  float acc = 0.f;
  for (int64_t j = begin + threadIdx.x; j < end; j += kThreads) acc += src[j];
  acc = warp_sum(acc);
  if (threadIdx.x % kWarpSize == 0) warp_partials[threadIdx.x / kWarpSize] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.f;
    for (int w = 0; w < kWarpsPerBlock; ++w) total += warp_partials[w];
    partial[o * chunks + c] = total;
  }
}

// blockDim (32, 8): column blockIdx.x * 32 + threadIdx.x of every outer slice blockIdx.y (+ grid stride).
__global__ void sum_columns_kernel(const float* x, float* out, int64_t outer, int64_t n, int64_t inner,
                                   float scale) {
  __shared__ float scratch[kColumnRows][kWarpSize];
  const int64_t col = int64_t(blockIdx.x) * kWarpSize + threadIdx.x;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {  // block-uniform: column_sum syncs
    float acc = 0.f;
    if (col < inner) {
      const float* src = x + o * n * inner + col;
      for (int64_t j = threadIdx.y; j < n; j += kColumnRows) acc += src[j * inner];
    }
    const float total = column_sum(acc, scratch);
    if (threadIdx.y == 0 && col < inner) out[o * inner + col] = total * scale;
  }
}

__global__ void sum_backward_kernel(const float* dy, float* dx, int64_t total, int64_t n, int64_t inner,
                                    float scale) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = idx / (n * inner), i = idx % inner;
    dx[idx] = dy[o * inner + i] * scale;
  }
}

int warp_rows_grid(int64_t rows) {
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<int>(blocks < kMaxGrid * 16 ? blocks : kMaxGrid * 16);
}
}  // namespace

void sum_axis_forward(const float* x, float* out, const ReduceSplit& s, float scale, float* workspace) {
  if (s.outer * s.inner == 0) return;
  cudaStream_t stream = current_stream();
  if (s.inner > 1) {
    const dim3 block(kWarpSize, kColumnRows);
    const dim3 grid(static_cast<unsigned>((s.inner + kWarpSize - 1) / kWarpSize),
                    static_cast<unsigned>(s.outer < kMaxGrid ? s.outer : kMaxGrid));
    sum_columns_kernel<<<grid, block, 0, stream>>>(x, out, s.outer, s.n, s.inner, scale);
    DISPA_CUDA_CHECK_LAUNCH("sum_columns_kernel");
    return;
  }
  const int64_t chunks = reduce_chunks(s);
  if (chunks == 1) {
    sum_rows_warp_kernel<<<warp_rows_grid(s.outer), kThreads, 0, stream>>>(x, out, s.outer, s.n, scale);
    DISPA_CUDA_CHECK_LAUNCH("sum_rows_warp_kernel");
    return;
  }
  // reduce_chunks guarantees outer < 1024 here, within gridDim.y's limit.
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(s.outer));
  sum_row_chunks_kernel<<<grid, kThreads, 0, stream>>>(x, workspace, s.n, chunks);
  DISPA_CUDA_CHECK_LAUNCH("sum_row_chunks_kernel");
  sum_rows_warp_kernel<<<warp_rows_grid(s.outer), kThreads, 0, stream>>>(workspace, out, s.outer, chunks, scale);
  DISPA_CUDA_CHECK_LAUNCH("sum_rows_warp_kernel");
}

void sum_axis_backward(const float* dy, float* dx, const ReduceSplit& s, float scale) {
  const int64_t total = s.outer * s.n * s.inner;
  if (total == 0) return;
  sum_backward_kernel<<<dispa_grid_for(total, kThreads), kThreads, 0, current_stream()>>>(dy, dx, total, s.n,
                                                                                         s.inner, scale);
  DISPA_CUDA_CHECK_LAUNCH("sum_backward_kernel");
}

}  // namespace dispa::cuda
