// Per-element dropout math shared by the CPU loop in dropout.cpp and the kernel in dropout.cu,
// and the raw CUDA entry point. No Tensor, no fmt.
// Element i is kept iff philox_uniform(seed, offset, i) >= p, with u in [0, 1) on a 2^-24 grid
// and p compared in f32 on every device, so the mask is the same bit pattern on CPU and GPU.
// Forward and backward are the same map (y = x * mask / (1 - p), dx = dy * mask / (1 - p)): the
// mask is recomputed from (seed, offset) rather than stored.
#pragma once
#include <cstdint>

#include "engine/math_common.h"
#include "engine/philox.h"

namespace dispa {

DISPA_HD inline bool dropout_keep(uint64_t seed, uint64_t offset, uint64_t i, float p) {
  return philox_uniform(seed, offset, i, 0.0f, 1.0f) >= p;
}

// scale = 1 / (1 - p), computed once on the host in double and rounded to T. A multiplication
// for dropped elements too (x * 0), as PyTorch's x * mask * scale: a NaN or inf input stays
// non-finite (NaN) instead of being dropped into a clean 0.
template <typename T>
DISPA_HD inline T dropout_apply(T x, bool keep, T scale) {
  return x * (keep ? scale : T(0));
}

namespace cuda {
// out[i] = dropout_apply(in[i], dropout_keep(seed, offset, i, p), scale) for i < n.
template <typename T>
void dropout_masked_scale(const T* in, T* out, int64_t n, float p, T scale, uint64_t seed, uint64_t offset);
}  // namespace cuda

}  // namespace dispa
