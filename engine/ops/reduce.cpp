// Reductions (sum / mean over one axis, or over every element): checks, tape records, CPU loops.
// The CPU loops accumulate in double, f32 inputs included, so a sum over millions of elements keeps
// f32 accuracy; the CUDA kernels (reduce.cu) accumulate in f32 through tree-shaped warp and block
// reductions, whose error grows with log(n) rather than n. Backward of a sum broadcasts dy back over
// the reduced axis (times 1/n for a mean).
#include "engine/ops/reduce.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/reduce_math.h"

namespace dispa {
namespace {

template <typename T>
void sum_rows_cpu(const T* x, T* out, const ReduceSplit& s, double scale) {
  const int64_t outer = s.outer, n = s.n;
  if (outer >= 16 || n < 32768) {
#pragma omp parallel for schedule(static) if (outer * n > 65536)
    for (int64_t o = 0; o < outer; ++o) {
      const T* row = x + o * n;
      double acc = 0;
      for (int64_t j = 0; j < n; ++j) acc += row[j];
      out[o] = static_cast<T>(acc * scale);
    }
    return;
  }
  // Few long rows (sum_all): a fixed number of chunks summed in parallel and then in order, so the
  // result does not depend on the number of threads.
  constexpr int64_t kChunks = 64;
  for (int64_t o = 0; o < outer; ++o) {
    const T* row = x + o * n;
    double partial[kChunks];
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < kChunks; ++c) {
      double acc = 0;
      for (int64_t j = n * c / kChunks; j < n * (c + 1) / kChunks; ++j) acc += row[j];
      partial[c] = acc;
    }
    double acc = 0;
    for (int64_t c = 0; c < kChunks; ++c) acc += partial[c];
    out[o] = static_cast<T>(acc * scale);
  }
}

// inner > 1: tiles of adjacent columns, each summed down n with contiguous reads of x.
template <typename T>
void sum_columns_cpu(const T* x, T* out, const ReduceSplit& s, double scale) {
  constexpr int64_t kTile = 256;
  const int64_t outer = s.outer, n = s.n, inner = s.inner;
  const int64_t tiles = (inner + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (outer * n * inner > 65536)
  for (int64_t t = 0; t < outer * tiles; ++t) {
    const int64_t o = t / tiles, i0 = (t % tiles) * kTile;
    const int64_t width = std::min(kTile, inner - i0);
    double acc[kTile] = {};
    for (int64_t j = 0; j < n; ++j) {
      const T* row = x + (o * n + j) * inner + i0;
      for (int64_t i = 0; i < width; ++i) acc[i] += row[i];
    }
    for (int64_t i = 0; i < width; ++i) out[o * inner + i0 + i] = static_cast<T>(acc[i] * scale);
  }
}

template <typename T>
void sum_backward_cpu(const T* dy, T* dx, const ReduceSplit& s, T scale) {
  const int64_t rows = s.outer * s.n, inner = s.inner, n = s.n;
#pragma omp parallel for schedule(static) if (rows * inner > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = dy + (r / n) * inner;
    T* dst = dx + r * inner;
    for (int64_t i = 0; i < inner; ++i) dst[i] = src[i] * scale;
  }
}

// out = scale * sum over s.n of x (viewed as s), out pre-shaped by the caller; records backward.
Tensor reduce(const char* op, const Tensor& x, const ReduceSplit& s, const Shape& out_shape, bool mean) {
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const double scale = mean ? 1.0 / static_cast<double>(s.n) : 1.0;  // mean over n = 0 is NaN, as PyTorch
  if (s.outer * s.inner > 0) {
    if (x.is_cuda()) {
      const int64_t ws_size = reduce_workspace_size(s);
      Tensor ws = ws_size > 0 ? Tensor::empty({ws_size}, DType::f32, x.device()) : Tensor();
      DISPA_ON_CUDA(cuda::sum_axis_forward(x.data<float>(), out.data<float>(), s, static_cast<float>(scale),
                                           ws_size > 0 ? ws.data<float>() : nullptr));
    } else {
      dispatch_floating(x.dtype(), op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (s.inner == 1) {
          sum_rows_cpu<T>(x.data<T>(), out.data<T>(), s, scale);
        } else {
          sum_columns_cpu<T>(x.data<T>(), out.data<T>(), s, scale);
        }
      });
    }
  }
  // Keeps only the split and the scale: the gradient of a sum does not depend on x's values.
  record(op, {x}, out, [x, s, scale](const Tensor& dy) {
    Tensor dx = Tensor::empty_like(x);
    if (dx.numel() > 0) {
      if (x.is_cuda()) {
        DISPA_ON_CUDA(cuda::sum_axis_backward(dy.data<float>(), dx.data<float>(), s, static_cast<float>(scale)));
      } else {
        dispatch_floating(x.dtype(), "sum backward", [&](auto tag) {
          using T = typename decltype(tag)::type;
          sum_backward_cpu<T>(dy.data<T>(), dx.data<T>(), s, static_cast<T>(scale));
        });
      }
    }
    x.accumulate_grad(std::move(dx));
  });
  return out;
}

Tensor reduce_axis(const char* op, const Tensor& x, int axis, bool keepdim, bool mean) {
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  const int nd = x.ndim();
  const int a = axis < 0 ? axis + nd : axis;
  DISPA_CHECK(a >= 0 && a < nd, "{}: axis {} out of range for x {} ({} dims)", op, axis, x.describe(), nd);
  const Shape& shape = x.shape();
  ReduceSplit s;
  for (int d = 0; d < a; ++d) s.outer *= shape[d];
  s.n = shape[a];
  for (int d = a + 1; d < nd; ++d) s.inner *= shape[d];
  Shape out_shape;
  for (int d = 0; d < nd; ++d) {
    if (d != a) {
      out_shape.push_back(shape[d]);
    } else if (keepdim) {
      out_shape.push_back(1);
    }
  }
  return reduce(op, x, s, out_shape, mean);
}

Tensor reduce_all(const char* op, const Tensor& x, bool mean) {
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  ReduceSplit s;
  s.n = x.numel();
  return reduce(op, x, s, Shape{}, mean);
}

}  // namespace

Tensor sum(const Tensor& x, int axis, bool keepdim) { return reduce_axis("sum", x, axis, keepdim, false); }
Tensor mean(const Tensor& x, int axis, bool keepdim) { return reduce_axis("mean", x, axis, keepdim, true); }
Tensor sum_all(const Tensor& x) { return reduce_all("sum_all", x, false); }
Tensor mean_all(const Tensor& x) { return reduce_all("mean_all", x, true); }

}  // namespace dispa
