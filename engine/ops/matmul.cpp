// Matrix products: argument checks, tape recording and the GEMM calls on either device (CPU: our
// GEMM in gemm_cpu.cpp; CUDA: cuBLAS in matmul.cu). Gradients of C = op(A) op(B) (row-major):
//   dA = dC op(B)ᵀ   (stored transposed when transpose_a: dAᵀ = op(B) dCᵀ)
//   dB = op(A)ᵀ dC   (stored transposed when transpose_b: dBᵀ = dCᵀ op(A))
// each computed by one GEMM whose transpose flags absorb the ᵀs, never by copying a transpose.
// A 2-D b shared by a batch folds the batch into the rows when a is not transposed (one big GEMM
// forward and for dB, whose sum over the batch becomes the GEMM's inner dimension).
#include "engine/ops/matmul.h"

#include <atomic>
#include <climits>
#include <omp.h>
#include <type_traits>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/gemm_cpu.h"
#include "engine/ops/matmul_math.h"

namespace dispa {
namespace {

std::atomic<bool> g_cuda_tf32{false};

// One strided batched product C = alpha op(A) op(B) + beta C in row-major storage; leading dims
// are the row lengths of the stored operands, strides in elements (0 shares an operand).
struct Product {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  int64_t batch = 1;
};

// Product with lds of densely stored operands and C: lda = row length of stored A, etc.
Product dense_product(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t batch, bool share_a,
                      bool share_b) {
  Product p;
  p.ta = ta, p.tb = tb, p.m = m, p.n = n, p.k = k, p.batch = batch;
  p.lda = ta ? m : k;
  p.ldb = tb ? k : n;
  p.ldc = n;
  p.stride_a = share_a ? 0 : m * k;
  p.stride_b = share_b ? 0 : k * n;
  p.stride_c = m * n;
  return p;
}

// cuBLAS takes int sizes and leading dims.
void check_cuda_limits(const char* op, const Product& p) {
  for (int64_t v : {p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.batch})
    DISPA_CHECK(v <= INT_MAX, "{}: a GEMM dimension of {} exceeds cuBLAS's int range ({}x{}x{}, batch {})", op, v,
                p.m, p.n, p.k, p.batch);
}

template <typename T>
void run(const char* op, Device device, const Product& p, T alpha, const T* a, const T* b, T beta, T* c) {
  if (device.is_cuda()) {
    if constexpr (std::is_same_v<T, float>) {
      check_cuda_limits(op, p);
      DISPA_ON_CUDA(cuda::sgemm_batched(p.ta, p.tb, p.m, p.n, p.k, alpha, a, p.lda, p.stride_a, b, p.ldb,
                                        p.stride_b, beta, c, p.ldc, p.stride_c, p.batch, cuda_tf32()));
    } else {
      fail("{}: CUDA GEMMs take f32", op);
    }
  } else {
    cpu::gemm_batched(p.ta, p.tb, p.m, p.n, p.k, alpha, a, p.lda, p.stride_a, b, p.ldb, p.stride_b, beta, c,
                      p.ldc, p.stride_c, p.batch);
  }
}

// out[j] = sum_r x[r, j] over a contiguous [rows, cols] x. CPU: each thread sums a fixed range of
// rows in f64, then the ranges are added in thread order (deterministic for a thread count).
template <typename T>
void column_sums(const T* x, T* out, int64_t rows, int64_t cols, Device device) {
  if (device.is_cuda()) {
    if constexpr (std::is_same_v<T, float>) {
      DISPA_ON_CUDA(cuda::column_sums(x, out, rows, cols, false));
    } else {
      fail("linear: CUDA bias gradients take f32");
    }
    return;
  }
  const int threads = rows * cols >= (1 << 16) && !omp_in_parallel() ? omp_get_max_threads() : 1;
  std::vector<double> partial(static_cast<size_t>(threads * cols), 0.0);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* acc = partial.data() + t * cols;
    for (int64_t r = rows * t / nt; r < rows * (t + 1) / nt; ++r) {
      const T* row = x + r * cols;
      for (int64_t j = 0; j < cols; ++j) acc[j] += double(row[j]);
    }
  }
  for (int64_t j = 0; j < cols; ++j) {
    double total = 0.0;
    for (int t = 0; t < threads; ++t) total += partial[t * cols + j];
    out[j] = static_cast<T>(total);
  }
}

void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  DISPA_CHECK(a.defined() && b.defined(), "{}: undefined input", op);
  detail::check_same_device(op, a, b);
  detail::check_same_dtype(op, a, b);
  detail::check_floating(op, a);
  detail::check_cuda_f32(op, a);
}

Shape leading(const Shape& s, size_t drop) { return Shape(s.begin(), s.end() - static_cast<ptrdiff_t>(drop)); }

}  // namespace

void set_cuda_tf32(bool enabled) { g_cuda_tf32.store(enabled); }
bool cuda_tf32() { return g_cuda_tf32.load(); }

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  check_pair("matmul", a, b);
  DISPA_CHECK(a.ndim() >= 2 && b.ndim() >= 2, "matmul: inputs need at least 2 dims, got a {} and b {}",
              shape_str(a.shape()), shape_str(b.shape()));
  const Shape batch_shape = leading(a.shape(), 2);
  const bool shared_b = b.ndim() == 2;
  DISPA_CHECK(shared_b || leading(b.shape(), 2) == batch_shape,
              "matmul: batch dims differ: a {} and b {} (b must have a's batch dims or be 2-D)",
              shape_str(a.shape()), shape_str(b.shape()));
  const bool ta = transpose_a, tb = transpose_b;
  const int64_t m = a.dim(ta ? -1 : -2), k = a.dim(ta ? -2 : -1);
  const int64_t kb = b.dim(tb ? -1 : -2), n = b.dim(tb ? -2 : -1);
  DISPA_CHECK(k == kb, "matmul: inner dimensions differ: a {}{} gives K = {}, b {}{} gives K = {}",
              shape_str(a.shape()), ta ? " (transposed)" : "", k, shape_str(b.shape()),
              tb ? " (transposed)" : "", kb);
  const int64_t batch = shape_numel(batch_shape);
  Shape out_shape = batch_shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  // [batch, M, K] x [K, N] is [batch*M, K] x [K, N]: one large GEMM instead of batch small ones.
  const bool fold = shared_b && !ta;

  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Product p = fold ? dense_product(false, tb, batch * m, n, k, 1, false, true)
                           : dense_product(ta, tb, m, n, k, batch, false, shared_b);
    run<T>("matmul", a.device(), p, T(1), a.data<T>(), b.data<T>(), T(0), out.data<T>());
  });

  // Keeps a and b (each gradient reads the other input), the flags and the sizes.
  record("matmul", {a, b}, out, [a, b, ta, tb, m, n, k, batch, shared_b, fold](const Tensor& dy) {
    dispatch_floating(a.dtype(), "matmul backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* ap = a.data<T>();
      const T* bp = b.data<T>();
      const T* dyp = dy.data<T>();
      if (a.requires_grad()) {
        Tensor da = Tensor::empty(a.shape(), a.dtype(), a.device());
        if (!ta) {  // dA [M, K] = dC [M, N] op(B)ᵀ
          const Product p = fold ? dense_product(false, !tb, batch * m, k, n, 1, false, true)
                                 : dense_product(false, !tb, m, k, n, batch, false, shared_b);
          run<T>("matmul backward", a.device(), p, T(1), dyp, bp, T(0), da.data<T>());
        } else {  // dA stored [K, M] = op(B) [K, N] dCᵀ
          const Product p = dense_product(tb, true, k, m, n, batch, shared_b, false);
          run<T>("matmul backward", a.device(), p, T(1), bp, dyp, T(0), da.data<T>());
        }
        a.accumulate_grad(da);
      }
      if (b.requires_grad()) {
        Tensor db = Tensor::empty(b.shape(), b.dtype(), b.device());
        // !tb: dB [K, N] = op(A)ᵀ dC, operands (a, dy).  tb: dB stored [N, K] = dCᵀ op(A), operands (dy, a).
        auto product_for = [&](int64_t rows, int64_t entries) {
          return !tb ? dense_product(!ta, false, k, n, rows, entries, false, false)
                     : dense_product(true, ta, n, k, rows, entries, false, false);
        };
        auto run_db = [&](const Product& p, const T* a_entry, const T* dy_entry, T beta) {
          if (!tb) run<T>("matmul backward", b.device(), p, T(1), a_entry, dy_entry, beta, db.data<T>());
          else run<T>("matmul backward", b.device(), p, T(1), dy_entry, a_entry, beta, db.data<T>());
        };
        if (fold) {  // the batch sum is the inner dimension of one GEMM over batch*M rows
          run_db(product_for(batch * m, 1), ap, dyp, T(0));
        } else if (shared_b) {  // transposed a: entries accumulate into the one dB (beta = 1 after the first)
          const Product p = product_for(m, 1);
          for (int64_t i = 0; i < batch; ++i) run_db(p, ap + i * m * k, dyp + i * m * n, i == 0 ? T(0) : T(1));
          if (batch == 0) fill_(db, 0.0);
        } else {
          run_db(product_for(m, batch), ap, dyp, T(0));
        }
        b.accumulate_grad(db);
      }
    });
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_pair("linear", x, weight);
  DISPA_CHECK(weight.ndim() == 2, "linear: weight must be [out, in], got {} (x is {})", shape_str(weight.shape()),
              shape_str(x.shape()));
  DISPA_CHECK(x.ndim() >= 1 && x.dim(-1) == weight.dim(1),
              "linear: x {} has {} input features but weight {} expects {}", shape_str(x.shape()),
              x.ndim() >= 1 ? x.dim(-1) : 0, shape_str(weight.shape()), weight.dim(1));
  const int64_t in = weight.dim(1), out_features = weight.dim(0);
  if (bias.defined()) {
    detail::check_same_device("linear", x, bias);
    detail::check_same_dtype("linear", x, bias);
    DISPA_CHECK(bias.shape() == Shape{out_features}, "linear: bias {} does not match weight {} (want [{}])",
                shape_str(bias.shape()), shape_str(weight.shape()), out_features);
  }
  const Shape lead = leading(x.shape(), 1);
  const int64_t rows = shape_numel(lead);  // every leading dim goes into the rows of one GEMM
  Shape out_shape = lead;
  out_shape.push_back(out_features);
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());

  dispatch_floating(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T beta = T(0);
    if (bias.defined()) {  // y starts as bias in every row; the GEMM adds x Wᵀ on top (beta = 1)
      beta = T(1);
      const T* bp = bias.data<T>();
      T* yp = y.data<T>();
      if (x.is_cuda()) {
        if constexpr (std::is_same_v<T, float>) DISPA_ON_CUDA(cuda::broadcast_rows(bp, yp, rows, out_features));
      } else {
#pragma omp parallel for if (rows * out_features > 65536)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < out_features; ++j) yp[r * out_features + j] = bp[j];
      }
    }
    const Product p = dense_product(false, true, rows, out_features, in, 1, false, false);
    run<T>("linear", x.device(), p, T(1), x.data<T>(), weight.data<T>(), beta, y.data<T>());
  });

  // Keeps x and weight (dW reads x, dx reads weight); bias only for its requires_grad flag.
  record("linear", {x, weight, bias}, y, [x, weight, bias, rows, in, out_features](const Tensor& dy) {
    dispatch_floating(x.dtype(), "linear backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* dyp = dy.data<T>();
      if (x.requires_grad()) {  // dx [R, in] = dy [R, out] W [out, in]
        Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
        const Product p = dense_product(false, false, rows, in, out_features, 1, false, false);
        run<T>("linear backward", x.device(), p, T(1), dyp, weight.data<T>(), T(0), dx.data<T>());
        x.accumulate_grad(dx);
      }
      if (weight.requires_grad()) {  // dW [out, in] = dyᵀ [out, R] x [R, in]
        Tensor dw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
        const Product p = dense_product(true, false, out_features, in, rows, 1, false, false);
        run<T>("linear backward", x.device(), p, T(1), dyp, x.data<T>(), T(0), dw.data<T>());
        weight.accumulate_grad(dw);
      }
      if (bias.defined() && bias.requires_grad()) {  // db [out] = column sums of dy
        Tensor db = Tensor::empty(bias.shape(), bias.dtype(), bias.device());
        column_sums<T>(dyp, db.data<T>(), rows, out_features, x.device());
        bias.accumulate_grad(db);
      }
    });
  });
  return y;
}

}  // namespace dispa
