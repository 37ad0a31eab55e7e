// Per-element math for unary, binary (broadcasting) and scalar ops, shared by the CPU loops in
// elementwise.cpp and the kernels in elementwise.cu; raw CUDA entry points. No Tensor, no fmt.
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

enum class UnaryOp : int { neg, relu, gelu, exp, log, sqrt, square, abs, sigmoid, tanh };
enum class BinaryOp : int { add, sub, mul, div };

template <typename T>
DISPA_HD inline T unary_apply(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::relu: return (x > T(0) || is_nan(x)) ? x : T(0);  // relu(NaN) = NaN, as PyTorch
    // GELU in the exact erf form (PyTorch's nn.GELU default), so fixture parity holds.
    case UnaryOp::gelu: return T(0.5) * x * (T(1) + math::erf(x * T(kInvSqrt2)));
    case UnaryOp::exp: return math::exp(x);
    case UnaryOp::log: return math::log(x);
    case UnaryOp::sqrt: return math::sqrt(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::abs: return x < T(0) ? -x : x;
    case UnaryOp::sigmoid: return T(1) / (T(1) + math::exp(-x));
    case UnaryOp::tanh: return math::tanh(x);
  }
  return x;
}

// d op(x) / dx, given x and y = op(x) (whichever is cheaper to use).
template <typename T>
DISPA_HD inline T unary_derivative(UnaryOp op, T x, T y) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    // PyTorch's threshold_backward(grad, result, 0): zero where the result is <= 0, so a NaN input
    // passes its gradient through.
    case UnaryOp::relu: return x <= T(0) ? T(0) : T(1);
    case UnaryOp::gelu:
      return T(0.5) * (T(1) + math::erf(x * T(kInvSqrt2))) + x * T(kInvSqrt2Pi) * math::exp(T(-0.5) * x * x);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::square: return T(2) * x;
    case UnaryOp::abs: return x < T(0) ? T(-1) : (x > T(0) ? T(1) : T(0));
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::tanh: return T(1) - y * y;
  }
  return T(0);
}

template <typename T>
DISPA_HD inline T binary_apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

// Maps a linear index of the broadcast output to the offsets of two inputs. Strides are in
// elements and 0 along broadcast axes; shapes are right-aligned to kMaxDims.
constexpr int kMaxDims = 8;
struct BroadcastIndexer {
  int ndim = 0;
  int64_t out_shape[kMaxDims] = {};
  int64_t stride_a[kMaxDims] = {};
  int64_t stride_b[kMaxDims] = {};

  DISPA_HD inline void offsets(int64_t linear, int64_t* off_a, int64_t* off_b) const {
    int64_t a = 0, b = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t coord = linear % out_shape[d];
      linear /= out_shape[d];
      a += coord * stride_a[d];
      b += coord * stride_b[d];
    }
    *off_a = a;
    *off_b = b;
  }
};

namespace cuda {
template <typename T> void unary_forward(UnaryOp op, const T* x, T* y, int64_t n);
template <typename T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n);
template <typename T> void binary_forward(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                                          const BroadcastIndexer& index);
template <typename T> void scalar_affine(const T* x, T* y, int64_t n, T scale, T shift);  // y = x*scale+shift
template <typename T> void add_inplace(T* dst, const T* src, int64_t n, T alpha);          // dst += alpha*src
// out (size n_out, zeroed by the caller) += in reduced along broadcast axes; index.stride_a
// walks `in` (contiguous), index.stride_b maps to `out` (0 on reduced axes).
template <typename T> void sum_to(const T* in, T* out, int64_t n_in, const BroadcastIndexer& index);
}  // namespace cuda

}  // namespace dispa
