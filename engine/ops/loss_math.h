// Per-element math of the losses, shared by the CPU loops in loss.cpp and the kernels in loss.cu,
// and the raw CUDA entry points. No Tensor, no fmt.
// mse = sum((p - t)^2) / n is accumulated in double on both devices (f32 inputs too), so the
// loss of a large batch does not lose digits and CPU and GPU agree to f32 rounding.
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

// CUDA reduction layout: a fixed grid, so the partial sums (and the result) do not depend on
// anything but n. The host allocates kMseBlocks doubles of scratch.
constexpr int kMseBlocks = 256;
constexpr int kMseThreads = 256;

template <typename T>
DISPA_HD inline double squared_error(T p, T t) {
  const double d = static_cast<double>(p) - static_cast<double>(t);
  return d * d;
}

// d mse / d p_i = 2 (p_i - t_i) / n, times the incoming gradient: scale = 2 * dy / n.
template <typename T>
DISPA_HD inline T mse_grad(T p, T t, double scale) {
  return static_cast<T>(scale * (static_cast<double>(p) - static_cast<double>(t)));
}

namespace cuda {
// out[0] = sum over n of squared_error / n; partials: kMseBlocks doubles of device scratch.
template <typename T> void mse_forward(const T* prediction, const T* target, int64_t n, double* partials, T* out);
// dp[i] = mse_grad(p[i], t[i], 2 * dy[0] / n); dy is one element on the device (no host sync).
template <typename T> void mse_backward(const T* prediction, const T* target, const T* dy, T* dp, int64_t n);
}  // namespace cuda

}  // namespace dispa
