// CUDA side of the matrix products: cuBLAS for the GEMMs, two small kernels for linear's bias
// (broadcast into the output rows before the GEMM; column sums of dy for its gradient).
// Row-major on cuBLAS's column-major API: a row-major [r, c] buffer read column-major is its
// transpose, so row-major C = op(A) op(B) is computed as column-major Cᵀ = op(B)ᵀ op(A)ᵀ: B goes
// first, A second, m and n swap, and each operand keeps its own transpose flag and leading dim.
#include <algorithm>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/ops/matmul_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;
constexpr int kColumnTile = 32;  // columns per block in column_sums: one warp reads 32 adjacent floats of a row
constexpr int kRowLanes = 8;     // rows in flight per block (blockDim.y)

__global__ void broadcast_rows_kernel(const float* bias, float* y, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = bias[i % cols];
}

// Block (32, 8), grid (column tiles, row splits). Thread (tx, ty) of split s sums rows
// s*rows_per_split + ty, + 8, ... of column tile*32 + tx in fp64; the 8 lanes are then added in a
// fixed order through shared memory and written to partial[s, column]. No atomics, so the result
// does not depend on scheduling.
__global__ void column_partial_sums_kernel(const float* x, double* partial, int64_t rows, int64_t cols,
                                           int64_t rows_per_split) {
  __shared__ double lanes[kRowLanes][kColumnTile];
  const int64_t col = int64_t(blockIdx.x) * kColumnTile + threadIdx.x;
  const int64_t row_begin = int64_t(blockIdx.y) * rows_per_split;
  const int64_t row_end = row_begin + rows_per_split < rows ? row_begin + rows_per_split : rows;
  double acc = 0.0;
  if (col < cols)
    for (int64_t r = row_begin + threadIdx.y; r < row_end; r += kRowLanes) acc += double(x[r * cols + col]);
  lanes[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    double total = 0.0;
    for (int lane = 0; lane < kRowLanes; ++lane) total += lanes[lane][threadIdx.x];
    partial[int64_t(blockIdx.y) * cols + col] = total;
  }
}

// One thread per column: adds the splits' partial sums in split order.
__global__ void column_finish_kernel(const double* partial, float* out, int64_t cols, int64_t splits,
                                     bool accumulate) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols; j += int64_t(gridDim.x) * blockDim.x) {
    double total = 0.0;
    for (int64_t s = 0; s < splits; ++s) total += partial[s * cols + j];
    out[j] = accumulate ? float(double(out[j]) + total) : float(total);
  }
}
}  // namespace

void sgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
                   float* c, int64_t ldc, int64_t stride_c, int64_t batch, bool tf32) {
  if (m == 0 || n == 0 || batch == 0) return;
  // cuBLAS requires leading dims >= 1 even when k == 0 (then C = beta * C).
  lda = std::max<int64_t>(lda, 1);
  ldb = std::max<int64_t>(ldb, 1);
  const cublasComputeType_t compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  DISPA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m),
      int(k), &alpha, b, CUDA_R_32F, int(ldb), stride_b, a, CUDA_R_32F, int(lda), stride_a, &beta, c, CUDA_R_32F,
      int(ldc), stride_c, int(batch), compute, CUBLAS_GEMM_DEFAULT));
}

void broadcast_rows(const float* bias, float* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  broadcast_rows_kernel<<<dispa_grid_for(rows * cols, kThreads), kThreads, 0, current_stream()>>>(bias, y, rows,
                                                                                                   cols);
  DISPA_CUDA_CHECK_LAUNCH("broadcast_rows_kernel");
}

void column_sums(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate) {
  if (cols == 0) return;
  if (rows == 0) {
    if (!accumulate) DISPA_CUDA_CHECK(cudaMemsetAsync(out, 0, size_t(cols) * sizeof(float), current_stream()));
    return;
  }
  // About 512 blocks in all (a few per SM), each split at least 64 rows long.
  const int64_t column_tiles = (cols + kColumnTile - 1) / kColumnTile;
  int64_t splits = std::max<int64_t>(1, 512 / column_tiles);
  splits = std::min<int64_t>(splits, std::max<int64_t>(1, rows / 64));
  splits = std::min<int64_t>(splits, 65535);
  const int64_t rows_per_split = (rows + splits - 1) / splits;
  splits = (rows + rows_per_split - 1) / rows_per_split;

  int device = 0;
  DISPA_CUDA_CHECK(cudaGetDevice(&device));
  const size_t partial_bytes = size_t(splits * cols) * sizeof(double);
  // From the caching allocator: the block returns to the cache after the kernels are queued,
  // which is safe because all work runs in order on current_stream().
  double* partial = static_cast<double*>(device_alloc(partial_bytes, device));
  const dim3 block{unsigned(kColumnTile), unsigned(kRowLanes)};
  const dim3 grid{static_cast<unsigned>(column_tiles), static_cast<unsigned>(splits)};
  column_partial_sums_kernel<<<grid, block, 0, current_stream()>>>(x, partial, rows, cols, rows_per_split);
  DISPA_CUDA_CHECK_LAUNCH("column_partial_sums_kernel");
  column_finish_kernel<<<dispa_grid_for(cols, kThreads), kThreads, 0, current_stream()>>>(partial, out, cols, splits,
                                                                                           accumulate);
  DISPA_CUDA_CHECK_LAUNCH("column_finish_kernel");
  device_free(partial, partial_bytes, device);
}

}  // namespace dispa::cuda
