// Inverted dropout: checks, tape record and the CPU loop. The mask is never stored: forward and
// backward both recompute it from (seed, offset) with dropout_keep (dropout_math.h), which is
// what makes the CPU and CUDA masks identical and keeps the tape free of mask tensors.
#include "engine/ops/dropout.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/dropout_math.h"

namespace dispa {
namespace {

// y = x * mask(seed, offset) * scale, on x's device; no autograd.
Tensor masked_scale(const Tensor& x, float p, double scale, uint64_t seed, uint64_t offset) {
  Tensor y = Tensor::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) return y;
  dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T s = static_cast<T>(scale);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::dropout_masked_scale<T>(xp, yp, n, p, s, seed, offset));
    } else {
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) yp[i] = dropout_apply(xp[i], dropout_keep(seed, offset, uint64_t(i), p), s);
    }
  });
  return y;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t offset) {
  detail::check_floating("dropout", x);
  DISPA_CHECK(std::isfinite(p) && p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got {} (input {})", p,
              x.describe());
  if (!training || p == 0.0) return x;  // identity: the same tensor, nothing recorded
  const float p32 = static_cast<float>(p);
  const double scale = 1.0 / (1.0 - p);
  Tensor y = masked_scale(x, p32, scale, seed, offset);
  // Keeps x only to receive the gradient, plus (p, scale, seed, offset) to rebuild the mask.
  record("dropout", {x}, y, [x, p32, scale, seed, offset](const Tensor& dy) {
    x.accumulate_grad(masked_scale(dy, p32, scale, seed, offset));
  });
  return y;
}

}  // namespace dispa
