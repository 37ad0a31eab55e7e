// Softmax and masked softmax over the last axis: checks, tape records and the CPU row loops (OpenMP
// over rows). The row math (max-subtracted exponent, the 0-for-empty-rows reciprocal, the backward
// product) is softmax_math.h's, shared with the warp kernels in softmax.cu. CPU sums run in the
// input precision: every term lies in [0, 1] and the largest is exactly 1, so they cannot cancel.
#include "engine/ops/softmax.h"

#include <algorithm>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/softmax_math.h"

namespace dispa {
namespace {

// One row; keep(k) says whether key k takes part (always true for plain softmax).
template <typename T, typename Keep>
inline void softmax_row(const T* x, T* y, int64_t K, Keep keep) {
  T row_max = -std::numeric_limits<T>::infinity();
  for (int64_t k = 0; k < K; ++k)
    if (keep(k)) row_max = softmax_row_max(row_max, x[k]);
  T sum = 0;
  for (int64_t k = 0; k < K; ++k) {
    const T e = keep(k) ? softmax_exp(x[k], row_max) : T(0);
    y[k] = e;
    sum += e;
  }
  const T inv = softmax_inv_sum(sum);
  for (int64_t k = 0; k < K; ++k) y[k] *= inv;
}

template <typename T>
void softmax_cpu(const T* x, T* y, int64_t rows, int64_t K) {
#pragma omp parallel for schedule(static) if (rows * K > 32768)
  for (int64_t r = 0; r < rows; ++r) softmax_row(x + r * K, y + r * K, K, [](int64_t) { return true; });
}

template <typename T, typename M>
void masked_softmax_cpu(const T* x, const M* mask, const SoftmaxMaskIndex& mi, T* y, int64_t rows, int64_t K) {
#pragma omp parallel for schedule(static) if (rows * K > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const M* m = mask + mi.row_offset(r, K);
    const int64_t step = mi.key_stride;
    softmax_row(x + r * K, y + r * K, K, [m, step](int64_t k) { return mask_keeps(m[k * step]); });
  }
}

template <typename T>
void softmax_backward_cpu(const T* y, const T* dy, T* dx, int64_t rows, int64_t K) {
#pragma omp parallel for schedule(static) if (rows * K > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * K;
    const T* gr = dy + r * K;
    T dot = 0;
    for (int64_t k = 0; k < K; ++k) dot += yr[k] * gr[k];
    for (int64_t k = 0; k < K; ++k) dx[r * K + k] = softmax_grad(yr[k], gr[k], dot);
  }
}

void check_input(const char* op, const Tensor& x) {
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  DISPA_CHECK(x.ndim() >= 1, "{}: needs at least one axis (the keys), got x {}", op, x.describe());
  DISPA_CHECK(x.ndim() <= kMaxDims, "{}: at most {} dimensions, got x {}", op, kMaxDims, x.describe());
}

// The mask's shape must broadcast to x's without growing it (right-aligned, each axis 1 or equal).
SoftmaxMaskIndex make_mask_index(const Tensor& x, const Tensor& mask) {
  const Shape& xs = x.shape();
  const Shape& ms = mask.shape();
  const int nd = x.ndim();
  const int offset = nd - static_cast<int>(ms.size());
  bool ok = offset >= 0;
  for (int d = 0; ok && d < static_cast<int>(ms.size()); ++d) ok = ms[d] == 1 || ms[d] == xs[d + offset];
  DISPA_CHECK(ok, "masked_softmax: mask {} does not broadcast to x {}", shape_str(ms), shape_str(xs));
  SoftmaxMaskIndex mi;
  mi.index.ndim = nd;
  int64_t stride_x = 1, stride_m = 1;
  for (int d = nd - 1; d >= 0; --d) {
    mi.index.out_shape[d] = xs[d];
    mi.index.stride_a[d] = stride_x;
    stride_x *= xs[d];
    const int src = d - offset;
    mi.index.stride_b[d] = (src < 0 || ms[src] == 1) ? 0 : stride_m;
    if (src >= 0) stride_m *= ms[src];
  }
  mi.key_stride = mi.index.stride_b[nd - 1];
  return mi;
}

// Records the shared backward: keeps y (detached; the Jacobian needs only y) and x to receive dx.
void record_softmax_backward(const char* op, const Tensor& x, const Tensor& y) {
  record(op, {x}, y, [x, y_saved = y.detach()](const Tensor& dy) {
    Tensor dx = Tensor::empty_like(x);
    const int64_t K = x.dim(-1), rows = K > 0 ? x.numel() / K : 0;
    if (rows > 0) {
      if (x.is_cuda()) {
        DISPA_ON_CUDA(cuda::softmax_backward(y_saved.data<float>(), dy.data<float>(), dx.data<float>(), rows, K));
      } else {
        dispatch_floating(x.dtype(), "softmax backward", [&](auto tag) {
          using T = typename decltype(tag)::type;
          softmax_backward_cpu<T>(y_saved.data<T>(), dy.data<T>(), dx.data<T>(), rows, K);
        });
      }
    }
    x.accumulate_grad(std::move(dx));
  });
}

template <typename T>
void masked_forward_cpu(const Tensor& x, const Tensor& mask, const SoftmaxMaskIndex& mi, Tensor& y,
                        int64_t rows, int64_t K) {
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  switch (mask.dtype()) {
    case DType::f32: masked_softmax_cpu(xp, mask.data<float>(), mi, yp, rows, K); break;
    case DType::f64: masked_softmax_cpu(xp, mask.data<double>(), mi, yp, rows, K); break;
    case DType::i32: masked_softmax_cpu(xp, mask.data<int32_t>(), mi, yp, rows, K); break;
    case DType::i64: masked_softmax_cpu(xp, mask.data<int64_t>(), mi, yp, rows, K); break;
  }
}

#if DISPA_WITH_CUDA
void masked_forward_cuda(const Tensor& x, const Tensor& mask, const SoftmaxMaskIndex& mi, Tensor& y,
                         int64_t rows, int64_t K) {
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  switch (mask.dtype()) {
    case DType::f32: cuda::masked_softmax_forward(xp, mask.data<float>(), mi, yp, rows, K); break;
    case DType::f64: cuda::masked_softmax_forward(xp, mask.data<double>(), mi, yp, rows, K); break;
    case DType::i32: cuda::masked_softmax_forward(xp, mask.data<int32_t>(), mi, yp, rows, K); break;
    case DType::i64: cuda::masked_softmax_forward(xp, mask.data<int64_t>(), mi, yp, rows, K); break;
  }
}
#endif

}  // namespace

Tensor softmax(const Tensor& x) {
  check_input("softmax", x);
  Tensor y = Tensor::empty_like(x);
  const int64_t K = x.dim(-1), rows = K > 0 ? x.numel() / K : 0;
  if (rows > 0) {
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::softmax_forward(x.data<float>(), y.data<float>(), rows, K));
    } else {
      dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
        using T = typename decltype(tag)::type;
        softmax_cpu<T>(x.data<T>(), y.data<T>(), rows, K);
      });
    }
  }
  record_softmax_backward("softmax", x, y);
  return y;
}

Tensor masked_softmax(const Tensor& x, const Tensor& mask) {
  check_input("masked_softmax", x);
  DISPA_CHECK(mask.defined(), "masked_softmax: the mask is undefined (x {})", x.describe());
  DISPA_CHECK(mask.device() == x.device(), "masked_softmax: mask is {} but x is {}", mask.describe(), x.describe());
  const SoftmaxMaskIndex mi = make_mask_index(x, mask);
  Tensor y = Tensor::empty_like(x);
  const int64_t K = x.dim(-1), rows = K > 0 ? x.numel() / K : 0;
  if (rows > 0) {
    if (x.is_cuda()) {
      DISPA_ON_CUDA(masked_forward_cuda(x, mask, mi, y, rows, K));
    } else {
      dispatch_floating(x.dtype(), "masked_softmax", [&](auto tag) {
        masked_forward_cpu<typename decltype(tag)::type>(x, mask, mi, y, rows, K);
      });
    }
  }
  record_softmax_backward("masked_softmax", x, y);  // masked keys have y = 0: no gradient there
  return y;
}

}  // namespace dispa
