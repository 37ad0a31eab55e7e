#include "engine/ops/fill.h"

#include "engine/ops/dispatch.h"
#include "engine/philox.h"

namespace dispa {

void fill_(Tensor& t, double value) {
  const int64_t n = t.numel();
  if (t.is_cuda()) {
    DISPA_ON_CUDA(switch (t.dtype()) {
      case DType::f32: cuda::fill_f32(t.data<float>(), n, static_cast<float>(value)); break;
      case DType::f64: cuda::fill_f64(t.data<double>(), n, value); break;
      case DType::i32: cuda::fill_i32(t.data<int32_t>(), n, static_cast<int32_t>(value)); break;
      case DType::i64: cuda::fill_i64(t.data<int64_t>(), n, static_cast<int64_t>(value)); break;
    });
    return;
  }
  switch (t.dtype()) {
    case DType::f32: std::fill_n(t.data<float>(), n, static_cast<float>(value)); break;
    case DType::f64: std::fill_n(t.data<double>(), n, value); break;
    case DType::i32: std::fill_n(t.data<int32_t>(), n, static_cast<int32_t>(value)); break;
    case DType::i64: std::fill_n(t.data<int64_t>(), n, static_cast<int64_t>(value)); break;
  }
}

// The stream is generated in f32 on every device; f64 tensors (CPU gradient checks) receive the
// same values widened, so an f64 and an f32 tensor with one seed hold the same numbers.
void fill_uniform_(Tensor& t, double lo, double hi, uint64_t seed, uint64_t offset) {
  DISPA_CHECK(is_floating(t.dtype()), "uniform: needs a floating tensor, got {}", t.describe());
  const int64_t n = t.numel();
  if (t.is_cuda()) {
    if (t.dtype() == DType::f64) {  // the f32 stream, widened on the device (as on the CPU)
      Tensor narrow = Tensor::empty(t.shape(), DType::f32, t.device());
      fill_uniform_(narrow, lo, hi, seed, offset);
      t.copy_from(cast(narrow, DType::f64));
      return;
    }
    DISPA_ON_CUDA(cuda::fill_uniform_f32(t.data<float>(), n, float(lo), float(hi), seed, offset));
    return;
  }
  dispatch_floating(t.dtype(), "uniform", [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    scalar_t* out = t.data<scalar_t>();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) out[i] = philox_uniform(seed, offset, i, float(lo), float(hi));
  });
}

void fill_normal_(Tensor& t, double mean, double stddev, uint64_t seed, uint64_t offset) {
  DISPA_CHECK(is_floating(t.dtype()), "normal: needs a floating tensor, got {}", t.describe());
  const int64_t n = t.numel();
  if (t.is_cuda()) {
    if (t.dtype() == DType::f64) {  // the f32 stream, widened on the device (as on the CPU)
      Tensor narrow = Tensor::empty(t.shape(), DType::f32, t.device());
      fill_normal_(narrow, mean, stddev, seed, offset);
      t.copy_from(cast(narrow, DType::f64));
      return;
    }
    DISPA_ON_CUDA(cuda::fill_normal_f32(t.data<float>(), n, float(mean), float(stddev), seed, offset));
    return;
  }
  dispatch_floating(t.dtype(), "normal", [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    scalar_t* out = t.data<scalar_t>();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i)
      out[i] = float(mean) + float(stddev) * philox_normal(seed, offset, i);
  });
}

namespace {
template <typename In, typename Out>
void cast_loop(const In* in, Out* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(in[i]);
}
template <typename In>
void cast_from(const In* in, Tensor& out, int64_t n) {
  switch (out.dtype()) {
    case DType::f32: cast_loop(in, out.data<float>(), n); break;
    case DType::f64: cast_loop(in, out.data<double>(), n); break;
    case DType::i32: cast_loop(in, out.data<int32_t>(), n); break;
    case DType::i64: cast_loop(in, out.data<int64_t>(), n); break;
  }
}
}  // namespace

// No gradient flows through a cast: the f64 copy of a parameter is a new leaf.
Tensor cast(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  const int64_t n = x.numel();
  if (x.is_cuda()) {
    DISPA_ON_CUDA(cuda::cast(x.raw_data(), int(x.dtype()), out.raw_data(), int(dtype), n));
    return out;
  }
  switch (x.dtype()) {
    case DType::f32: cast_from(x.data<float>(), out, n); break;
    case DType::f64: cast_from(x.data<double>(), out, n); break;
    case DType::i32: cast_from(x.data<int32_t>(), out, n); break;
    case DType::i64: cast_from(x.data<int64_t>(), out, n); break;
  }
  return out;
}

}  // namespace dispa
