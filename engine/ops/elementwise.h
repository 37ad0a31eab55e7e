// Elementwise ops: unary activations and functions, binary arithmetic with NumPy broadcasting
// (right-aligned shapes, size-1 axes stretch), scalar arithmetic, and the two helpers backward
// passes need: sum_to (reduce a broadcast gradient back to an input's shape) and add_inplace.
#pragma once
#include "engine/ops/elementwise_math.h"
#include "engine/tensor.h"

namespace dispa {

Tensor neg(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact erf form, as PyTorch's nn.GELU()
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow2(const Tensor& x);  // x*x
Tensor abs(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor unary(UnaryOp op, const Tensor& x);
const char* unary_op_name(UnaryOp op);  // the op's name in error messages ("pow2" for square)

// Broadcasting binary ops: shapes [2, 3, 4] and [3, 1] give [2, 3, 4].
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

// Scalar ops: y = x * scale + shift (one fused op, differentiable in x).
Tensor affine_scalar(const Tensor& x, double scale, double shift);
inline Tensor add_scalar(const Tensor& x, double s) { return affine_scalar(x, 1.0, s); }
inline Tensor mul_scalar(const Tensor& x, double s) { return affine_scalar(x, s, 0.0); }

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return add_scalar(x, -s); }

// Output shape of broadcasting a with b; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// Sums x over the axes along which `shape` was broadcast to x.shape() (no autograd).
Tensor sum_to(const Tensor& x, const Shape& shape);
// dst += alpha * src, same shape/dtype/device (no autograd; for gradients and optimizers).
void add_inplace(Tensor& dst, const Tensor& src, double alpha = 1.0);

}  // namespace dispa
