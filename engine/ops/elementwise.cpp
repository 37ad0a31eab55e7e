#include "engine/ops/elementwise.h"

#include <algorithm>
#include <type_traits>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/matmul_math.h"

namespace dispa {
namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
  }
  return "binary";
}

// Strides of `shape` inside the right-aligned broadcast output of rank `ndim` (0 where broadcast).
void broadcast_strides(const Shape& shape, int ndim, int64_t* strides) {
  const int offset = ndim - static_cast<int>(shape.size());
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    const int src = d - offset;
    if (src < 0 || shape[src] == 1) {
      strides[d] = 0;
    } else {
      strides[d] = stride;
    }
    if (src >= 0) stride *= shape[src];
  }
}

BroadcastIndexer make_indexer(const char* op, const Shape& out, const Shape& a, const Shape& b) {
  DISPA_CHECK(out.size() <= size_t(kMaxDims), "{}: at most {} dimensions, got {}", op, kMaxDims, shape_str(out));
  BroadcastIndexer index;
  index.ndim = static_cast<int>(out.size());
  for (int d = 0; d < index.ndim; ++d) index.out_shape[d] = out[d];
  broadcast_strides(a, index.ndim, index.stride_a);
  broadcast_strides(b, index.ndim, index.stride_b);
  return index;
}

// True when b broadcasts as one contiguous block repeated over leading axes ([B, P, E] + [E]).
bool b_is_trailing_block(const BroadcastIndexer& index, int64_t nb) {
  int64_t expected = 1;
  int d = index.ndim - 1;
  for (; d >= 0 && expected < nb; --d) {
    if (index.stride_b[d] != expected) return false;
    expected *= index.out_shape[d];
  }
  if (expected != nb) return false;
  for (; d >= 0; --d)
    if (index.stride_b[d] != 0) return false;
  return true;
}

template <typename T>
void binary_cpu(BinaryOp op, const T* a, const T* b, T* out, int64_t n, int64_t na, int64_t nb,
                const BroadcastIndexer& index) {
  if (na == n && nb == n) {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) out[i] = binary_apply(op, a[i], b[i]);
  } else if (na == n && nb == 1) {
    const T s = b[0];
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) out[i] = binary_apply(op, a[i], s);
  } else if (na == n && b_is_trailing_block(index, nb)) {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) out[i] = binary_apply(op, a[i], b[i % nb]);
  } else {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      int64_t oa, ob;
      index.offsets(i, &oa, &ob);
      out[i] = binary_apply(op, a[oa], b[ob]);
    }
  }
}

// Calls body(std::integral_constant<UnaryOp, op>) so each CPU loop is compiled for one op: a loop
// that switched on the op per element compiled to a jump table per element and no SIMD (ReLU was
// 2.7x slower at the baseline SSE2 level than a plain max loop; profile in bench/RESULTS.md).
template <typename Body>
void with_unary_op(UnaryOp op, Body&& body) {
  switch (op) {
    case UnaryOp::neg: return body(std::integral_constant<UnaryOp, UnaryOp::neg>{});
    case UnaryOp::relu: return body(std::integral_constant<UnaryOp, UnaryOp::relu>{});
    case UnaryOp::gelu: return body(std::integral_constant<UnaryOp, UnaryOp::gelu>{});
    case UnaryOp::exp: return body(std::integral_constant<UnaryOp, UnaryOp::exp>{});
    case UnaryOp::log: return body(std::integral_constant<UnaryOp, UnaryOp::log>{});
    case UnaryOp::sqrt: return body(std::integral_constant<UnaryOp, UnaryOp::sqrt>{});
    case UnaryOp::square: return body(std::integral_constant<UnaryOp, UnaryOp::square>{});
    case UnaryOp::abs: return body(std::integral_constant<UnaryOp, UnaryOp::abs>{});
    case UnaryOp::sigmoid: return body(std::integral_constant<UnaryOp, UnaryOp::sigmoid>{});
    case UnaryOp::tanh: return body(std::integral_constant<UnaryOp, UnaryOp::tanh>{});
  }
  fail("unary: unknown op {}", int(op));
}

template <typename T>
void unary_forward_cpu(UnaryOp op, const T* __restrict x, T* __restrict y, int64_t n) {
  with_unary_op(op, [&](auto op_c) {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) y[i] = unary_apply(op_c.value, x[i]);
  });
}

template <typename T>
void unary_backward_cpu(UnaryOp op, const T* __restrict x, const T* __restrict y, const T* __restrict dy,
                        T* __restrict dx, int64_t n) {
  with_unary_op(op, [&](auto op_c) {
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const T derivative = unary_derivative(op_c.value, x[i], y[i]);  // a named value: GCC then vectorises ReLU's
      dx[i] = dy[i] * derivative;                                      // select (inline, it saw control flow)
    }
  });
}

}  // namespace

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DISPA_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast", op,
                shape_str(a), shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  detail::check_floating(name, x);
  Tensor y = Tensor::empty_like(x);
  const int64_t n = x.numel();
  dispatch_floating(x.dtype(), name, [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::unary_forward<scalar_t>(op, xp, yp, n));
    } else {
      unary_forward_cpu(op, xp, yp, n);
    }
  });
  // Keeps x and y: each derivative reads whichever is cheaper (exp' = y, gelu' needs x).
  record(name, {x}, y, [op, x, y](const Tensor& dy) {
    Tensor dx = Tensor::empty_like(x);
    const int64_t n = x.numel();
    dispatch_floating(x.dtype(), "unary backward", [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
      const scalar_t* xp = x.data<scalar_t>();
      const scalar_t* yp = y.data<scalar_t>();
      const scalar_t* dyp = dy.data<scalar_t>();
      scalar_t* dxp = dx.data<scalar_t>();
      if (x.is_cuda()) {
        DISPA_ON_CUDA(cuda::unary_backward<scalar_t>(op, xp, yp, dyp, dxp, n));
      } else {
        unary_backward_cpu(op, xp, yp, dyp, dxp, n);
      }
    });
    x.accumulate_grad(std::move(dx));
  });
  return y;
}

Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, x); }
Tensor gelu(const Tensor& x) { return unary(UnaryOp::gelu, x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, x); }
Tensor pow2(const Tensor& x) { return unary(UnaryOp::square, x); }
Tensor abs(const Tensor& x) { return unary(UnaryOp::abs, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  detail::check_same_device(name, a, b);
  detail::check_same_dtype(name, a, b);
  detail::check_floating(name, a);
  const Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
  const BroadcastIndexer index = make_indexer(name, out_shape, a.shape(), b.shape());
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const int64_t n = out.numel();
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    if (a.is_cuda()) {
      DISPA_ON_CUDA(cuda::binary_forward<scalar_t>(op, a.data<scalar_t>(), b.data<scalar_t>(),
                                                   out.data<scalar_t>(), n, index));
    } else {
      binary_cpu<scalar_t>(op, a.data<scalar_t>(), b.data<scalar_t>(), out.data<scalar_t>(), n,
                           a.numel(), b.numel(), index);
    }
  });
  // add/sub keep only shapes; mul keeps both inputs; div keeps b and the output (da = dy/b,
  // db = -dy*out/b).
  const bool need_a = op == BinaryOp::mul;
  const bool need_b = op == BinaryOp::mul || op == BinaryOp::div;
  const bool need_out = op == BinaryOp::div;
  record(name, {a, b}, out,
         [op, a, b, out_saved = need_out ? out.detach() : Tensor(), a_saved = need_a ? a.detach() : Tensor(),
          b_saved = need_b ? b.detach() : Tensor()](const Tensor& dy) {
           if (a.requires_grad()) {
             Tensor da;
             switch (op) {
               case BinaryOp::add:
               case BinaryOp::sub: da = dy; break;
               case BinaryOp::mul: da = mul(dy, b_saved); break;
               case BinaryOp::div: da = div(dy, b_saved); break;
             }
             a.accumulate_grad(sum_to(da, a.shape()));
           }
           if (b.requires_grad()) {
             Tensor db;
             switch (op) {
               case BinaryOp::add: db = dy; break;
               case BinaryOp::sub: db = neg(dy); break;
               case BinaryOp::mul: db = mul(dy, a_saved); break;
               case BinaryOp::div: db = neg(div(mul(dy, out_saved), b_saved)); break;
             }
             b.accumulate_grad(sum_to(db, b.shape()));
           }
         });
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }

Tensor affine_scalar(const Tensor& x, double scale, double shift) {
  detail::check_floating("affine_scalar", x);
  Tensor y = Tensor::empty_like(x);
  const int64_t n = x.numel();
  dispatch_floating(x.dtype(), "affine_scalar", [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    const scalar_t s = static_cast<scalar_t>(scale), t = static_cast<scalar_t>(shift);
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::scalar_affine<scalar_t>(xp, yp, n, s, t));
    } else {
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] * s + t;
    }
  });
  record("affine_scalar", {x}, y, [x, scale](const Tensor& dy) {  // keeps only the scale
    x.accumulate_grad(affine_scalar(dy, scale, 0.0));
  });
  return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const Shape check = broadcast_shapes("sum_to", shape, x.shape());
  DISPA_CHECK(check == x.shape(), "sum_to: {} does not broadcast to {}", shape_str(shape), shape_str(x.shape()));
  Tensor out = Tensor::zeros(shape, x.dtype(), x.device());
  const int64_t n = x.numel();
  // Summing leading axes away ([R, C] -> [C], a broadcast bias's gradient) on the GPU: the tiled
  // column reduction, not one atomicAdd per element onto C addresses (kernels_bench
  // sum_to_bias_grad on an H200 at [57344, 512]: 43 us instead of 573 us).
  Shape trailing = shape;
  while (!trailing.empty() && trailing.front() == 1) trailing.erase(trailing.begin());
  const bool leading_only = trailing.size() <= x.shape().size() &&
                            std::equal(trailing.begin(), trailing.end(), x.shape().end() - trailing.size());
  if (x.is_cuda() && x.dtype() == DType::f32 && leading_only && out.numel() > 0) {
    DISPA_ON_CUDA(cuda::column_sums(x.data<float>(), out.data<float>(), n / out.numel(), out.numel(), false));
    return out;
  }
  const BroadcastIndexer index = make_indexer("sum_to", x.shape(), x.shape(), shape);
  dispatch_floating(x.dtype(), "sum_to", [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    const scalar_t* in = x.data<scalar_t>();
    scalar_t* o = out.data<scalar_t>();
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::sum_to<scalar_t>(in, o, n, index));
    } else {
      // Serial on purpose: several inputs land on one output; this is off the hot path
      // (bias gradients go through the matmul/linear backward, not here).
      for (int64_t i = 0; i < n; ++i) {
        int64_t oi, oo;
        index.offsets(i, &oi, &oo);
        o[oo] += in[oi];
      }
    }
  });
  return out;
}

void add_inplace(Tensor& dst, const Tensor& src, double alpha) {
  DISPA_CHECK(dst.shape() == src.shape(), "add_inplace: shapes differ: {} vs {}", dst.describe(), src.describe());
  detail::check_same_dtype("add_inplace", dst, src);
  detail::check_same_device("add_inplace", dst, src);
  const int64_t n = dst.numel();
  dispatch_floating(dst.dtype(), "add_inplace", [&](auto tag) {
    using scalar_t = typename decltype(tag)::type;
    scalar_t* d = dst.data<scalar_t>();
    const scalar_t* s = src.data<scalar_t>();
    const scalar_t a = static_cast<scalar_t>(alpha);
    if (dst.is_cuda()) {
      DISPA_ON_CUDA(cuda::add_inplace<scalar_t>(d, s, n, a));
    } else {
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) d[i] += a * s[i];
    }
  });
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::relu: return "relu";
    case UnaryOp::gelu: return "gelu";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::square: return "pow2";
    case UnaryOp::abs: return "abs";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::tanh: return "tanh";
  }
  return "unary";
}

}  // namespace dispa
