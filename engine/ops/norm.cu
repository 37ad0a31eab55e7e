// CUDA LayerNorm / RMSNorm ("row norms", x [rows, D]) and BatchNorm1d (x [N, C]), f32 with f32
// accumulation; the per-element math is norm_math.h's, shared with the CPU loops.
//   row_norm_{forward,backward}_kernel<W>: W warps own one row (W = 1: 8 rows per 256-thread block,
//     for D <= 1024 such as E = 192 or h = 512; W = 8: the whole block owns a row, for the [P, E]
//     slab LayerNorm with D = P * E). Threads stride over the row; sums meet in warp shuffles and,
//     for W = 8, in shared memory. Each pass re-reads the row (L1/L2 hits for these sizes).
//   row_norm_param_grad_kernel: dw, db = column sums over rows, [32, 8] blocks over (32 columns,
//     one chunk of rows) writing partials; sum_chunks_kernel adds the chunks in order (deterministic).
//   batch_norm_{forward,backward}_kernel: [32, 8] blocks, one block owns 32 channels and all N rows
//     (N = 512 in the model), so statistics and the elementwise pass need no second launch. A huge N
//     with few channels would leave most of the GPU idle: not a shape this model produces.
#include "engine/cuda/block_reduce.cuh"
#include "engine/cuda/check.h"
#include "engine/ops/norm_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / kWarpSize;
constexpr int64_t kWideRow = 1024;  // rows longer than this get a whole block

// Sum over the kWarpsPerRow * 32 threads that share a row; every one of them gets the result.
template <int kWarpsPerRow>
__device__ __forceinline__ float row_sum(float v, float* scratch) {
  v = warp_sum(v);
  if constexpr (kWarpsPerRow == 1) {
    return v;
  } else {
    static_assert(kWarpsPerRow == kWarpsPerBlock, "a row is one warp or the whole block");
    if (threadIdx.x % kWarpSize == 0) scratch[threadIdx.x / kWarpSize] = v;
    __syncthreads();
    float total = 0.f;
#pragma unroll
    for (int i = 0; i < kWarpsPerRow; ++i) total += scratch[i];
    __syncthreads();  // scratch is reused by the next call
    return total;
  }
}

// mean is null for RMSNorm (centered = false).
template <int kWarpsPerRow>
__global__ void row_norm_forward_kernel(const float* x, const float* w, const float* b, float* y, float* mean_out,
                                        float* rstd_out, int64_t rows, int64_t D, float eps, bool centered) {
  constexpr int kRowThreads = kWarpsPerRow * kWarpSize;
  constexpr int kRowsPerBlock = kWarpsPerBlock / kWarpsPerRow;
  __shared__ float scratch[kWarpsPerBlock];
  const int t = threadIdx.x % kRowThreads;
  // For kWarpsPerRow = 8 the row index is block-uniform, so row_sum's barriers are reached by all.
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads; row < rows;
       row += int64_t(gridDim.x) * kRowsPerBlock) {
    const float* xr = x + row * D;
    float mean = 0.f;
    if (centered) {
      const float shift = xr[0];
      float s = 0.f;
      for (int64_t d = t; d < D; d += kRowThreads) s += xr[d] - shift;
      mean = shift + row_sum<kWarpsPerRow>(s, scratch) / float(D);
    }
    float ss = 0.f;
    for (int64_t d = t; d < D; d += kRowThreads) {
      const float v = xr[d] - mean;
      ss += v * v;
    }
    const float rstd = norm_rstd(row_sum<kWarpsPerRow>(ss, scratch) / float(D), eps);
    if (t == 0) {
      if (mean_out) mean_out[row] = mean;
      rstd_out[row] = rstd;
    }
    for (int64_t d = t; d < D; d += kRowThreads)
      y[row * D + d] = norm_apply(xr[d], mean, rstd, w ? w[d] : 1.f, b ? b[d] : 0.f);
  }
}

template <int kWarpsPerRow>
__global__ void row_norm_backward_kernel(const float* x, const float* w, const float* mean, const float* rstd,
                                         const float* dy, float* dx, int64_t rows, int64_t D, bool centered) {
  constexpr int kRowThreads = kWarpsPerRow * kWarpSize;
  constexpr int kRowsPerBlock = kWarpsPerBlock / kWarpsPerRow;
  __shared__ float scratch[kWarpsPerBlock];
  const int t = threadIdx.x % kRowThreads;
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads; row < rows;
       row += int64_t(gridDim.x) * kRowsPerBlock) {
    const float* xr = x + row * D;
    const float* gr = dy + row * D;
    const float m = centered ? mean[row] : 0.f, rs = rstd[row];
    float sum_g = 0.f, sum_g_xhat = 0.f;
    for (int64_t d = t; d < D; d += kRowThreads) {
      const float g = gr[d] * (w ? w[d] : 1.f);
      sum_g += g;
      sum_g_xhat += g * ((xr[d] - m) * rs);
    }
    const float mean_g = centered ? row_sum<kWarpsPerRow>(sum_g, scratch) / float(D) : 0.f;
    const float mean_g_xhat = row_sum<kWarpsPerRow>(sum_g_xhat, scratch) / float(D);
    for (int64_t d = t; d < D; d += kRowThreads)
      dx[row * D + d] = norm_input_grad(gr[d] * (w ? w[d] : 1.f), (xr[d] - m) * rs, mean_g, mean_g_xhat, rs);
  }
}

// blockDim (32, 8); block (column tile blockIdx.x, row chunk blockIdx.y).
__global__ void row_norm_param_grad_kernel(const float* x, const float* mean, const float* rstd, const float* dy,
                                           float* dw_part, float* db_part, int64_t rows, int64_t D, int64_t chunks,
                                           bool centered) {
  __shared__ float scratch[kColumnRows][kWarpSize];
  const int64_t col = int64_t(blockIdx.x) * kWarpSize + threadIdx.x, c = blockIdx.y;
  const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
  float acc_w = 0.f, acc_b = 0.f;
  if (col < D) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColumnRows) {
      const float g = dy[r * D + col];
      acc_w += g * ((x[r * D + col] - (centered ? mean[r] : 0.f)) * rstd[r]);
      acc_b += g;
    }
  }
  acc_w = column_sum(acc_w, scratch);
  acc_b = column_sum(acc_b, scratch);
  if (threadIdx.y == 0 && col < D) {
    dw_part[c * D + col] = acc_w;
    db_part[c * D + col] = acc_b;
  }
}

__global__ void sum_chunks_kernel(const float* part, float* out, int64_t chunks, int64_t D) {
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < D; col += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * D + col];
    out[col] = s;
  }
}

// blockDim (32, 8): channel blockIdx.x * 32 + threadIdx.x, rows split over threadIdx.y.
__global__ void batch_norm_forward_kernel(const float* x, const float* w, const float* b, float* y, float* mean_out,
                                          float* rstd_out, float* running_mean, float* running_var, int64_t N,
                                          int64_t C, bool training, float momentum, float eps) {
  __shared__ float scratch[kColumnRows][kWarpSize];
  const int64_t col = int64_t(blockIdx.x) * kWarpSize + threadIdx.x;
  const bool active = col < C;
  float mean = 0.f, rstd = 1.f;
  if (training) {  // block-uniform: column_sum's barriers are reached by every thread
    const float shift = active ? x[col] : 0.f;
    float s = 0.f;
    if (active)
      for (int64_t n = threadIdx.y; n < N; n += kColumnRows) s += x[n * C + col] - shift;
    mean = shift + column_sum(s, scratch) / float(N);
    float ss = 0.f;
    if (active)
      for (int64_t n = threadIdx.y; n < N; n += kColumnRows) {
        const float v = x[n * C + col] - mean;
        ss += v * v;
      }
    const float var = column_sum(ss, scratch) / float(N);
    rstd = norm_rstd(var, eps);
    if (active && threadIdx.y == 0) {
      if (running_mean) running_mean[col] = running_update(running_mean[col], mean, momentum);
      if (running_var) running_var[col] = running_update(running_var[col], unbiased_var(var, N), momentum);
    }
  } else if (active) {
    mean = running_mean[col];
    rstd = norm_rstd(running_var[col], eps);
  }
  if (!active) return;  // no barrier below
  if (threadIdx.y == 0) {
    mean_out[col] = mean;
    rstd_out[col] = rstd;
  }
  const float wc = w ? w[col] : 1.f, bc = b ? b[col] : 0.f;
  for (int64_t n = threadIdx.y; n < N; n += kColumnRows) y[n * C + col] = norm_apply(x[n * C + col], mean, rstd, wc, bc);
}

__global__ void batch_norm_backward_kernel(const float* x, const float* w, const float* mean, const float* rstd,
                                           const float* dy, float* dx, float* dw, float* db, int64_t N, int64_t C,
                                           bool training) {
  __shared__ float scratch[kColumnRows][kWarpSize];
  const int64_t col = int64_t(blockIdx.x) * kWarpSize + threadIdx.x;
  const bool active = col < C;
  const float m = active ? mean[col] : 0.f, rs = active ? rstd[col] : 0.f;
  float s = 0.f, sx = 0.f;
  if (active)
    for (int64_t n = threadIdx.y; n < N; n += kColumnRows) {
      const float g = dy[n * C + col];
      s += g;
      sx += g * ((x[n * C + col] - m) * rs);
    }
  const float sum_dy = column_sum(s, scratch), sum_dy_xhat = column_sum(sx, scratch);
  if (!active) return;  // no barrier below
  if (threadIdx.y == 0) {
    if (dw) dw[col] = sum_dy_xhat;
    if (db) db[col] = sum_dy;
  }
  const float wc = w ? w[col] : 1.f;
  // Eval mode: the statistics are constants, so only the rstd * g term remains.
  const float mean_g = training ? wc * sum_dy / float(N) : 0.f;
  const float mean_g_xhat = training ? wc * sum_dy_xhat / float(N) : 0.f;
  for (int64_t n = threadIdx.y; n < N; n += kColumnRows)
    dx[n * C + col] = norm_input_grad(dy[n * C + col] * wc, (x[n * C + col] - m) * rs, mean_g, mean_g_xhat, rs);
}

int row_grid(int64_t rows, int rows_per_block) {
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  return static_cast<int>(blocks < 65535LL * 16 ? blocks : 65535LL * 16);
}
}  // namespace

void row_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                      int64_t rows, int64_t D, float eps, bool centered) {
  if (rows * D == 0) return;
  cudaStream_t stream = current_stream();
  if (D <= kWideRow) {
    row_norm_forward_kernel<1><<<row_grid(rows, kWarpsPerBlock), kThreads, 0, stream>>>(x, w, b, y, mean, rstd, rows,
                                                                                       D, eps, centered);
  } else {
    row_norm_forward_kernel<kWarpsPerBlock><<<row_grid(rows, 1), kThreads, 0, stream>>>(x, w, b, y, mean, rstd, rows,
                                                                                       D, eps, centered);
  }
  DISPA_CUDA_CHECK_LAUNCH("row_norm_forward_kernel");
}

void row_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D, bool centered, float* workspace) {
  if (rows * D == 0) return;
  cudaStream_t stream = current_stream();
  if (D <= kWideRow) {
    row_norm_backward_kernel<1><<<row_grid(rows, kWarpsPerBlock), kThreads, 0, stream>>>(x, w, mean, rstd, dy, dx,
                                                                                        rows, D, centered);
  } else {
    row_norm_backward_kernel<kWarpsPerBlock><<<row_grid(rows, 1), kThreads, 0, stream>>>(x, w, mean, rstd, dy, dx,
                                                                                        rows, D, centered);
  }
  DISPA_CUDA_CHECK_LAUNCH("row_norm_backward_kernel");
  if (dw == nullptr && db == nullptr) return;
  const int64_t chunks = row_norm_param_chunks(rows, D);
  float* dw_part = workspace;
  float* db_part = workspace + chunks * D;
  const dim3 grid(static_cast<unsigned>((D + kWarpSize - 1) / kWarpSize), static_cast<unsigned>(chunks));
  row_norm_param_grad_kernel<<<grid, dim3(kWarpSize, kColumnRows), 0, stream>>>(x, mean, rstd, dy, dw_part, db_part,
                                                                                rows, D, chunks, centered);
  DISPA_CUDA_CHECK_LAUNCH("row_norm_param_grad_kernel");
  if (dw) {
    sum_chunks_kernel<<<dispa_grid_for(D, kThreads), kThreads, 0, stream>>>(dw_part, dw, chunks, D);
    DISPA_CUDA_CHECK_LAUNCH("sum_chunks_kernel");
  }
  if (db) {
    sum_chunks_kernel<<<dispa_grid_for(D, kThreads), kThreads, 0, stream>>>(db_part, db, chunks, D);
    DISPA_CUDA_CHECK_LAUNCH("sum_chunks_kernel");
  }
}

void batch_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                        float* running_mean, float* running_var, int64_t N, int64_t C, bool training, float momentum,
                        float eps) {
  if (C == 0) return;
  const unsigned blocks = static_cast<unsigned>((C + kWarpSize - 1) / kWarpSize);
  batch_norm_forward_kernel<<<blocks, dim3(kWarpSize, kColumnRows), 0, current_stream()>>>(
      x, w, b, y, mean, rstd, running_mean, running_var, N, C, training, momentum, eps);
  DISPA_CUDA_CHECK_LAUNCH("batch_norm_forward_kernel");
}

void batch_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dw, float* db, int64_t N, int64_t C, bool training) {
  if (C == 0) return;
  const unsigned blocks = static_cast<unsigned>((C + kWarpSize - 1) / kWarpSize);
  batch_norm_backward_kernel<<<blocks, dim3(kWarpSize, kColumnRows), 0, current_stream()>>>(
      x, w, mean, rstd, dy, dx, dw, db, N, C, training);
  DISPA_CUDA_CHECK_LAUNCH("batch_norm_backward_kernel");
}

}  // namespace dispa::cuda
