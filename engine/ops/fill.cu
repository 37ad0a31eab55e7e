// Fill, Philox and cast kernels: one thread per element, grid-stride loops.
#include "engine/cuda/check.h"
#include "engine/dtype.h"
#include "engine/ops/fill_math.h"
#include "engine/philox.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;

template <typename T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

__global__ void fill_uniform_kernel(float* out, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = philox_uniform(seed, offset, i, lo, hi);
}

__global__ void fill_normal_kernel(float* out, int64_t n, float mean, float stddev, uint64_t seed, uint64_t offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = mean + stddev * philox_normal(seed, offset, i);
}

template <typename In, typename Out>
__global__ void cast_kernel(const In* in, Out* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<Out>(in[i]);
}

template <typename T>
void launch_fill(T* out, int64_t n, T value) {
  if (n == 0) return;
  fill_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(out, n, value);
  DISPA_CUDA_CHECK_LAUNCH("fill_kernel");
}

template <typename In>
void launch_cast_from(const In* in, void* out, int out_dtype, int64_t n) {
  const int grid = dispa_grid_for(n, kThreads);
  cudaStream_t s = current_stream();
  switch (static_cast<DType>(out_dtype)) {
    case DType::f32: cast_kernel<<<grid, kThreads, 0, s>>>(in, static_cast<float*>(out), n); break;
    case DType::f64: cast_kernel<<<grid, kThreads, 0, s>>>(in, static_cast<double*>(out), n); break;
    case DType::i32: cast_kernel<<<grid, kThreads, 0, s>>>(in, static_cast<int32_t*>(out), n); break;
    case DType::i64: cast_kernel<<<grid, kThreads, 0, s>>>(in, static_cast<int64_t*>(out), n); break;
  }
  DISPA_CUDA_CHECK_LAUNCH("cast_kernel");
}
}  // namespace

void fill_f32(float* out, int64_t n, float value) { launch_fill(out, n, value); }
void fill_f64(double* out, int64_t n, double value) { launch_fill(out, n, value); }
void fill_i32(int32_t* out, int64_t n, int32_t value) { launch_fill(out, n, value); }
void fill_i64(int64_t* out, int64_t n, int64_t value) { launch_fill(out, n, value); }

void fill_uniform_f32(float* out, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset) {
  if (n == 0) return;
  fill_uniform_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(out, n, lo, hi, seed, offset);
  DISPA_CUDA_CHECK_LAUNCH("fill_uniform_kernel");
}

void fill_normal_f32(float* out, int64_t n, float mean, float stddev, uint64_t seed, uint64_t offset) {
  if (n == 0) return;
  fill_normal_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(out, n, mean, stddev, seed, offset);
  DISPA_CUDA_CHECK_LAUNCH("fill_normal_kernel");
}

void cast(const void* in, int in_dtype, void* out, int out_dtype, int64_t n) {
  if (n == 0) return;
  switch (static_cast<DType>(in_dtype)) {
    case DType::f32: launch_cast_from(static_cast<const float*>(in), out, out_dtype, n); break;
    case DType::f64: launch_cast_from(static_cast<const double*>(in), out, out_dtype, n); break;
    case DType::i32: launch_cast_from(static_cast<const int32_t*>(in), out, out_dtype, n); break;
    case DType::i64: launch_cast_from(static_cast<const int64_t*>(in), out, out_dtype, n); break;
  }
}

}  // namespace dispa::cuda
