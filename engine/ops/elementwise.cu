// Elementwise kernels: one thread per output element, grid-stride loops; the math is
// elementwise_math.h's, shared with the CPU loops. sum_to uses atomicAdd (order of additions is
// not fixed, so results match the CPU to rounding, not bit for bit).
#include "engine/cuda/check.h"
#include "engine/ops/elementwise_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;

#define DISPA_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__global__ void unary_forward_kernel(UnaryOp op, const T* x, T* y, int64_t n) {
  DISPA_GRID_STRIDE(i, n) y[i] = unary_apply(op, x[i]);
}

template <typename T>
__global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n) {
  DISPA_GRID_STRIDE(i, n) dx[i] = dy[i] * unary_derivative(op, x[i], y[i]);
}

template <typename T>
__global__ void binary_forward_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                                      BroadcastIndexer index) {
  DISPA_GRID_STRIDE(i, n) {
    int64_t oa, ob;
    index.offsets(i, &oa, &ob);
    out[i] = binary_apply(op, a[oa], b[ob]);
  }
}

template <typename T>
__global__ void scalar_affine_kernel(const T* x, T* y, int64_t n, T scale, T shift) {
  DISPA_GRID_STRIDE(i, n) y[i] = x[i] * scale + shift;
}

template <typename T>
__global__ void add_inplace_kernel(T* dst, const T* src, int64_t n, T alpha) {
  DISPA_GRID_STRIDE(i, n) dst[i] += alpha * src[i];
}

template <typename T>
__global__ void sum_to_kernel(const T* in, T* out, int64_t n, BroadcastIndexer index) {
  DISPA_GRID_STRIDE(i, n) {
    int64_t oi, oo;
    index.offsets(i, &oi, &oo);
    atomicAdd(out + oo, in[oi]);
  }
}
}  // namespace

template <typename T> void unary_forward(UnaryOp op, const T* x, T* y, int64_t n) {
  if (n == 0) return;
  unary_forward_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(op, x, y, n);
  DISPA_CUDA_CHECK_LAUNCH("unary_forward_kernel");
}
template <typename T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n) {
  if (n == 0) return;
  unary_backward_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(op, x, y, dy, dx, n);
  DISPA_CUDA_CHECK_LAUNCH("unary_backward_kernel");
}
template <typename T> void binary_forward(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                                          const BroadcastIndexer& index) {
  if (n == 0) return;
  binary_forward_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(op, a, b, out, n, index);
  DISPA_CUDA_CHECK_LAUNCH("binary_forward_kernel");
}
template <typename T> void scalar_affine(const T* x, T* y, int64_t n, T scale, T shift) {
  if (n == 0) return;
  scalar_affine_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(x, y, n, scale, shift);
  DISPA_CUDA_CHECK_LAUNCH("scalar_affine_kernel");
}
template <typename T> void add_inplace(T* dst, const T* src, int64_t n, T alpha) {
  if (n == 0) return;
  add_inplace_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(dst, src, n, alpha);
  DISPA_CUDA_CHECK_LAUNCH("add_inplace_kernel");
}
template <typename T> void sum_to(const T* in, T* out, int64_t n, const BroadcastIndexer& index) {
  if (n == 0) return;
  sum_to_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(in, out, n, index);
  DISPA_CUDA_CHECK_LAUNCH("sum_to_kernel");
}

#define DISPA_INSTANTIATE(T)                                                                         \
  template void unary_forward<T>(UnaryOp, const T*, T*, int64_t);                                    \
  template void unary_backward<T>(UnaryOp, const T*, const T*, const T*, T*, int64_t);               \
  template void binary_forward<T>(BinaryOp, const T*, const T*, T*, int64_t, const BroadcastIndexer&); \
  template void scalar_affine<T>(const T*, T*, int64_t, T, T);                                       \
  template void add_inplace<T>(T*, const T*, int64_t, T);                                            \
  template void sum_to<T>(const T*, T*, int64_t, const BroadcastIndexer&);
DISPA_INSTANTIATE(float)
DISPA_INSTANTIATE(double)
#undef DISPA_INSTANTIATE

}  // namespace dispa::cuda
