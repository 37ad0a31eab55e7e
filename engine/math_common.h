// DISPA_HD marks per-element math shared by CPU loops and CUDA kernels (host+device under nvcc,
// plain inline functions otherwise), so CPU tests exercise the exact arithmetic kernels run.
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define DISPA_HD __host__ __device__
#else
#define DISPA_HD
#endif

namespace dispa {

// Non-finite values propagate as in PyTorch: a NaN compared with anything is NaN's business, not
// a reason to drop it. std::max, fmaxf and "x > 0 ? x : 0" all silently skip or zero a NaN, so
// max-based code (ReLU, softmax row maxima, warp maxima) goes through these instead.
template <typename T>
DISPA_HD inline bool is_nan(T x) { return x != x; }  // no -ffast-math anywhere, so this holds
// max(a, b), or NaN when either is NaN (torch.maximum / amax semantics).
template <typename T>
DISPA_HD inline T max_propagate_nan(T a, T b) { return (a > b || is_nan(a)) ? a : b; }

constexpr double kInvSqrt2 = 0.70710678118654752440;  // double: cast to T at use, so f64 keeps full precision
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
}  // namespace dispa

// Precision-overloaded math that never collides with the Tensor ops of the same name
// (dispa::exp(const Tensor&) would hide ::exp for unqualified calls inside namespace dispa).
namespace dispa::math {
DISPA_HD inline float exp(float x) { return ::expf(x); }
DISPA_HD inline double exp(double x) { return ::exp(x); }
DISPA_HD inline float log(float x) { return ::logf(x); }
DISPA_HD inline double log(double x) { return ::log(x); }
DISPA_HD inline float sqrt(float x) { return ::sqrtf(x); }
DISPA_HD inline double sqrt(double x) { return ::sqrt(x); }
DISPA_HD inline float rsqrt(float x) { return 1.0f / ::sqrtf(x); }
DISPA_HD inline double rsqrt(double x) { return 1.0 / ::sqrt(x); }
DISPA_HD inline float tanh(float x) { return ::tanhf(x); }
DISPA_HD inline double tanh(double x) { return ::tanh(x); }
DISPA_HD inline float erf(float x) { return ::erff(x); }
DISPA_HD inline double erf(double x) { return ::erf(x); }
}  // namespace dispa::math
