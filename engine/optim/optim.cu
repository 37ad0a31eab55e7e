// Fused multi-tensor optimizer kernels: one launch updates every parameter. The host passes a
// device table of OptimTensorEntry rows (optim_math.h); the flat index space 0..total-1 is the
// concatenation of all tensors, threads walk it with a grid-stride loop and find their row by
// binary search on `start` (re-searched only when the index leaves the current row). The update
// math is optim_math.h's, shared with the CPU loops. f32 only. The squared-norm reduction
// accumulates in fp64 and combines blocks with atomicAdd, so its last bits depend on block order.
#include "engine/cuda/check.h"
#include "engine/optim/optim_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;

// Last row whose start is <= i (rows sorted by start; empty rows are skipped by the host).
__device__ inline int find_row(const OptimTensorEntry* table, int n, int64_t i) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table[mid].start <= i) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// Calls body(row, local index) for every flat index this thread owns; the current row is kept in
// registers and looked up again only when the index leaves it.
template <typename Body>
__device__ inline void for_each_element(const OptimTensorEntry* table, int n, int64_t total, Body body) {
  OptimTensorEntry row{};
  int64_t row_end = -1;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    if (i < row.start || i >= row_end) {
      row = table[find_row(table, n, i)];
      row_end = row.start + row.numel;
    }
    body(row, i - row.start);
  }
}

__global__ void adam_step_fused_kernel(const OptimTensorEntry* table, int n, int64_t total, AdamScalars<float> s) {
  for_each_element(table, n, total, [&](const OptimTensorEntry& e, int64_t j) {
    float* p = static_cast<float*>(e.param);
    float* m = static_cast<float*>(e.state1);
    float* v = static_cast<float*>(e.state2);
    const float g = static_cast<const float*>(e.grad)[j];
    adam_update<float>(p[j], g, m[j], v[j], s, float(e.step_size), float(e.bias_c2_sqrt));
  });
}

__global__ void sgd_step_fused_kernel(const OptimTensorEntry* table, int n, int64_t total, SgdScalars<float> s) {
  for_each_element(table, n, total, [&](const OptimTensorEntry& e, int64_t j) {
    float* p = static_cast<float*>(e.param);
    float* buf = e.state1 ? static_cast<float*>(e.state1) + j : nullptr;
    sgd_update<float>(p[j], static_cast<const float*>(e.grad)[j], buf, s);
  });
}

// Block-wide sum in shared memory (kThreads is a power of two), then one atomicAdd per block.
__global__ void grad_sq_norm_fused_kernel(const OptimTensorEntry* table, int n, int64_t total, double* out) {
  __shared__ double partial[kThreads];
  double acc = 0.0;
  for_each_element(table, n, total, [&](const OptimTensorEntry& e, int64_t j) {
    const double g = static_cast<const float*>(e.grad)[j];
    acc += g * g;
  });
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(out, partial[0]);
}

__global__ void grad_scale_fused_kernel(const OptimTensorEntry* table, int n, int64_t total, float scale) {
  for_each_element(table, n, total, [&](const OptimTensorEntry& e, int64_t j) {
    static_cast<float*>(e.grad)[j] *= scale;
  });
}
}  // namespace

void adam_step_fused(const OptimTensorEntry* table, int n, int64_t total, const AdamScalars<float>& s) {
  if (n == 0 || total == 0) return;
  adam_step_fused_kernel<<<dispa_grid_for(total, kThreads), kThreads, 0, current_stream()>>>(table, n, total, s);
  DISPA_CUDA_CHECK_LAUNCH("adam_step_fused_kernel");
}

void sgd_step_fused(const OptimTensorEntry* table, int n, int64_t total, const SgdScalars<float>& s) {
  if (n == 0 || total == 0) return;
  sgd_step_fused_kernel<<<dispa_grid_for(total, kThreads), kThreads, 0, current_stream()>>>(table, n, total, s);
  DISPA_CUDA_CHECK_LAUNCH("sgd_step_fused_kernel");
}

void grad_sq_norm_fused(const OptimTensorEntry* table, int n, int64_t total, double* out) {
  if (n == 0 || total == 0) return;
  // Fewer blocks than elementwise: each block ends in an atomic, and a few thousand suffice.
  const int blocks = dispa_grid_for(total, kThreads);
  const int grid = blocks < 4096 ? blocks : 4096;
  grad_sq_norm_fused_kernel<<<grid, kThreads, 0, current_stream()>>>(table, n, total, out);
  DISPA_CUDA_CHECK_LAUNCH("grad_sq_norm_fused_kernel");
}

void grad_scale_fused(const OptimTensorEntry* table, int n, int64_t total, float scale) {
  if (n == 0 || total == 0) return;
  grad_scale_fused_kernel<<<dispa_grid_for(total, kThreads), kThreads, 0, current_stream()>>>(table, n, total, scale);
  DISPA_CUDA_CHECK_LAUNCH("grad_scale_fused_kernel");
}

}  // namespace dispa::cuda
