// Fused differential cross-attention: argument checks, tape recording and the CPU loops (one
// fused pass per (b, h, query row); OpenMP over (b, h), whose K or V tile is transposed once). Math and layout: diff_attention_math.h;
// CUDA kernels: diff_attention.cu.
#include "model/diff_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "model/diff_attention_math.h"

namespace dispa {
namespace {

constexpr const char* kOp = "diff_attention";

DiffAttentionDims check_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                  const Tensor& lambda, const Tensor& subln_weight, int heads, double rms_eps) {
  DISPA_CHECK(q.defined() && k.defined() && v.defined(), "{}: q, k and v must be defined", kOp);
  DISPA_CHECK(lambda.defined(), "{}: lambda must be defined", kOp);
  DISPA_CHECK(subln_weight.defined(), "{}: subln_weight must be defined", kOp);
  detail::check_floating(kOp, q);
  for (const Tensor* t : {&k, &v, &lambda, &subln_weight}) {
    detail::check_same_dtype(kOp, q, *t);
    detail::check_same_device(kOp, q, *t);
  }
  DISPA_CHECK(q.ndim() == 3, "{}: q must be [B, Lq, H·2D], got {}", kOp, q.describe());
  DISPA_CHECK(k.ndim() == 3, "{}: k must be [B, Lk, H·2D], got {}", kOp, k.describe());
  DISPA_CHECK(v.shape() == k.shape(), "{}: v must have k's shape: k is {}, v is {}", kOp, k.describe(), v.describe());
  DISPA_CHECK(q.dim(0) == k.dim(0), "{}: batch sizes differ: q is {}, k is {}", kOp, q.describe(), k.describe());
  DISPA_CHECK(q.dim(2) == k.dim(2), "{}: query and key widths differ: q is {}, k is {}", kOp, q.describe(),
              k.describe());
  DISPA_CHECK(q.numel() > 0 && k.numel() > 0, "{}: empty input: q is {}, k is {}", kOp, q.describe(), k.describe());
  DISPA_CHECK(heads >= 1, "{}: heads must be >= 1, got {}", kOp, heads);
  const int64_t width = q.dim(2);
  DISPA_CHECK(width % (2 * int64_t(heads)) == 0,
              "{}: width {} of q {} is not divisible by 2·heads = {} (Q/K halves per head)", kOp, width,
              q.describe(), 2 * heads);
  DiffAttentionDims dims;
  dims.batch = q.dim(0);
  dims.lq = q.dim(1);
  dims.lk = k.dim(1);
  dims.heads = heads;
  dims.head_dim = static_cast<int>(width / (2 * heads));
  DISPA_CHECK(subln_weight.shape() == Shape{dims.cols()}, "{}: subln_weight must be [2D] = [{}], got {}", kOp,
              dims.cols(), subln_weight.describe());
  DISPA_CHECK(lambda.numel() == 1 && lambda.ndim() <= 1, "{}: lambda must have shape [] or [1], got {}", kOp,
              lambda.describe());
  if (key_mask.defined()) {
    DISPA_CHECK(key_mask.shape() == Shape({dims.batch, dims.lk}), "{}: key_mask must be [B, Lk] = [{}, {}], got {}",
                kOp, dims.batch, dims.lk, key_mask.describe());
    detail::check_same_device(kOp, q, key_mask);
  }
  DISPA_CHECK(rms_eps >= 0, "{}: rms_eps must be >= 0, got {}", kOp, rms_eps);
  if (q.is_cuda()) {
    detail::check_cuda_f32(kOp, q);
    DISPA_CHECK(dims.cols() <= cuda::kDiffAttentionMaxCols, "{}: CUDA kernels take 2D <= {}, got 2D = {} (q is {})",
                kOp, cuda::kDiffAttentionMaxCols, dims.cols(), q.describe());
  }
  return dims;
}

template <typename T>
inline T dot(const T* a, const T* b, int n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

// Everything a CPU pass reads, as raw pointers (mask converted to T; nullptr when absent).
template <typename T>
struct CpuArgs {
  DiffAttentionDims dims;
  const T* q;
  const T* k;
  const T* v;
  const T* mask;
  const T* weight;
  T lambda;
  T out_scale;  // 1 − λinit
  T eps;
};

// Keys per register block of the CPU tile loops; tiles are padded to a multiple of it with zeros.
constexpr int64_t kKeyBlock = 32;
inline int64_t padded_keys(int64_t lk) { return (lk + kKeyBlock - 1) / kKeyBlock * kKeyBlock; }

// Copies head h's key rows (or value rows) of batch item b into a column-major tile:
// tile[c·ld + j] = x[b, j, h·2D + c], ld = padded_keys(Lk); the padding stays zero. Scores and da
// are then matrix-vector products over the keys that vectorise for any Lk.
template <typename T>
void transpose_tile(const DiffAttentionDims& dm, const T* x, int64_t b, int h, T* tile) {
  const int n = dm.cols();
  const int64_t ld = padded_keys(dm.lk);
  for (int64_t j = 0; j < dm.lk; ++j) {
    const T* row = x + dm.kv_at(b, j, h);
    for (int c = 0; c < n; ++c) tile[c * ld + j] = row[c];
  }
}

// out[j] = scale · Σ_{c < rows} x[c] · tile[c·ld + j] for j < Lk, summed in c order (as the GPU
// lanes' dot products), with kKeyBlock accumulators held in registers.
template <typename T>
void tile_matvec(const T* x, const T* tile, int rows, int64_t lk, T scale, T* out) {
  const int64_t ld = padded_keys(lk);
  for (int64_t j0 = 0; j0 < lk; j0 += kKeyBlock) {
    T acc[kKeyBlock] = {};
    for (int c = 0; c < rows; ++c) {
      const T xc = x[c];
      const T* t = tile + c * ld + j0;
#pragma omp simd
      for (int64_t jj = 0; jj < kKeyBlock; ++jj) acc[jj] += xc * t[jj];
    }
    const int64_t m = std::min(kKeyBlock, lk - j0);
    for (int64_t jj = 0; jj < m; ++jj) out[j0 + jj] = scale * acc[jj];
  }
}

// All query rows of one (b, h): both score rows, both masked softmaxes (into a1/a2), A, AV and
// the RMSNorm. Scratch: kt (2D·padded Lk, K transposed) and o (2D). s1/s2 (nullable): the score
// rows are copied there before they become exponentials (dispa explain --internals).
template <typename T>
void forward_pair(const CpuArgs<T>& x, int64_t b, int h, T* a1, T* a2, T* attn, T* y, T* kt, T* o, T* s1, T* s2) {
  const DiffAttentionDims& dm = x.dims;
  const int d_half = dm.head_dim, n = dm.cols();
  const int64_t lk = dm.lk;
  const T scale = math::rsqrt(T(d_half));
  const T* mask = x.mask ? x.mask + b * lk : nullptr;
  transpose_tile(dm, x.k, b, h, kt);
  for (int64_t i = 0; i < dm.lq; ++i) {
    const T* q1 = x.q + dm.q_at(b, i, h);
    const T* q2 = q1 + d_half;
    const int64_t m0 = dm.map_at(b, h, i);
    T* p1 = a1 + m0;
    T* p2 = a2 + m0;
    T* pa = attn + m0;
    tile_matvec(q1, kt, d_half, lk, scale, p1);
    tile_matvec(q2, kt + d_half * padded_keys(lk), d_half, lk, scale, p2);
    if (s1) {
      std::copy_n(p1, lk, s1 + m0);
      std::copy_n(p2, lk, s2 + m0);
    }
    T max1 = -std::numeric_limits<T>::infinity(), max2 = max1;
    for (int64_t j = 0; j < lk; ++j) {
      if (!mask || mask[j] != T(0)) {
        max1 = softmax_row_max(max1, p1[j]);
        max2 = softmax_row_max(max2, p2[j]);
      }
    }
    T sum1 = 0, sum2 = 0;
    for (int64_t j = 0; j < lk; ++j) {
      const bool valid = !mask || mask[j] != T(0);
      p1[j] = masked_exp(p1[j], max1, valid);
      p2[j] = masked_exp(p2[j], max2, valid);
      sum1 += p1[j];
      sum2 += p2[j];
    }
    const T inv1 = softmax_inv_sum(sum1), inv2 = softmax_inv_sum(sum2);
    std::fill_n(o, n, T(0));
    for (int64_t j = 0; j < lk; ++j) {
      p1[j] *= inv1;
      p2[j] *= inv2;
      const T a = diff_combine(p1[j], p2[j], x.lambda);
      pa[j] = a;
      const T* vj = x.v + dm.kv_at(b, j, h);
#pragma omp simd
      for (int c = 0; c < n; ++c) o[c] += a * vj[c];
    }
    const T rstd = rms_rstd(dot(o, o, n), n, x.eps);
    T* yr = y + dm.q_at(b, i, h);
    for (int c = 0; c < n; ++c) yr[c] = diff_attention_out(o[c], rstd, x.weight[c], x.out_scale);
  }
}

template <typename T>
void forward_cpu(const CpuArgs<T>& x, T* a1, T* a2, T* attn, T* y, T* s1, T* s2) {
  const DiffAttentionDims& dm = x.dims;
  const int64_t pairs = dm.batch * dm.heads;
#pragma omp parallel
  {
    std::vector<T> kt(size_t(dm.cols() * padded_keys(dm.lk)), T(0)), o(size_t(dm.cols()));
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < pairs; ++bh)
      forward_pair(x, bh / dm.heads, int(bh % dm.heads), a1, a2, attn, y, kt.data(), o.data(), s1, s2);
  }
}

// Gradient outputs of the CPU backward. Each (b, h) zeroes, then adds into, its own columns of
// dk and dv only. partial holds per (b, h): [dλ, dweight(2D)], summed serially afterwards so the
// result does not depend on the thread count.
template <typename T>
struct CpuGrads {
  T* dq;
  T* dk;
  T* dv;
  T* partial;
};

// Backward of all query rows of one (b, h): recomputes a = p1 − λp2, o and r from the saved maps.
template <typename T>
void backward_pair(const CpuArgs<T>& x, const T* a1, const T* a2, const T* dy, int64_t b, int h,
                   const CpuGrads<T>& g, std::vector<T>& scratch) {
  const DiffAttentionDims& dm = x.dims;
  const int d_half = dm.head_dim, n = dm.cols();
  const T scale = math::rsqrt(T(d_half));
  const T lambda = x.lambda;
  T* o = scratch.data();
  T* gr = o + n;
  T* d_o = gr + n;
  T* da = d_o + n;  // [Lk], then reused for ds1
  T* ds2 = da + dm.lk;
  T* vt = ds2 + dm.lk;  // [2D, padded Lk]: V transposed
  transpose_tile(dm, x.v, b, h, vt);
  T* part = g.partial + (b * dm.heads + h) * (1 + n);
  T& dlambda = part[0];
  T* dweight = part + 1;
  for (int64_t j = 0; j < dm.lk; ++j) {  // this pair owns these columns: zero them here, in parallel
    std::fill_n(g.dk + dm.kv_at(b, j, h), n, T(0));
    std::fill_n(g.dv + dm.kv_at(b, j, h), n, T(0));
  }
  for (int64_t i = 0; i < dm.lq; ++i) {
    const int64_t m0 = dm.map_at(b, h, i);
    const T* p1 = a1 + m0;
    const T* p2 = a2 + m0;
    std::fill(o, o + n, T(0));
    for (int64_t j = 0; j < dm.lk; ++j) {
      const T a = diff_combine(p1[j], p2[j], lambda);
      const T* vj = x.v + dm.kv_at(b, j, h);
#pragma omp simd
      for (int c = 0; c < n; ++c) o[c] += a * vj[c];
    }
    const T rstd = rms_rstd(dot(o, o, n), n, x.eps);
    const T* dyr = dy + dm.q_at(b, i, h);
    for (int c = 0; c < n; ++c) gr[c] = dyr[c] * x.weight[c] * x.out_scale;
    const T g_dot_o = dot(gr, o, n);
    for (int c = 0; c < n; ++c) {
      d_o[c] = rms_input_grad(gr[c], o[c], rstd, g_dot_o, n);
      dweight[c] += dyr[c] * o[c] * rstd * x.out_scale;
    }
    tile_matvec(d_o, vt, n, dm.lk, T(1), da);
    T pd1 = 0, pd2 = 0;
    for (int64_t j = 0; j < dm.lk; ++j) {
      const T a = diff_combine(p1[j], p2[j], lambda);
      T* dvj = g.dv + dm.kv_at(b, j, h);
#pragma omp simd
      for (int c = 0; c < n; ++c) dvj[c] += a * d_o[c];
      pd1 += p1[j] * da[j];
      pd2 += p2[j] * (-lambda * da[j]);
      dlambda -= p2[j] * da[j];
    }
    T* ds1 = da;
    for (int64_t j = 0; j < dm.lk; ++j) {
      ds2[j] = softmax_input_grad(p2[j], -lambda * da[j], pd2);
      ds1[j] = softmax_input_grad(p1[j], da[j], pd1);
    }
    // dQ_i = Σ_j ds_j K_j / sqrt(D); dK_j accumulates ds_j Q_i unscaled (scaled once per pair below).
    const int64_t qa = dm.q_at(b, i, h);
    T* dqr = g.dq + qa;
    std::fill(dqr, dqr + n, T(0));
    const T* qi = x.q + qa;
    for (int64_t j = 0; j < dm.lk; ++j) {
      const int64_t kv = dm.kv_at(b, j, h);
      const T* kj = x.k + kv;
      T* dkj = g.dk + kv;
      const T s1 = ds1[j], s2 = ds2[j];
#pragma omp simd
      for (int d = 0; d < d_half; ++d) {
        dqr[d] += s1 * kj[d];
        dkj[d] += s1 * qi[d];
      }
#pragma omp simd
      for (int d = d_half; d < n; ++d) {
        dqr[d] += s2 * kj[d];
        dkj[d] += s2 * qi[d];
      }
    }
    for (int c = 0; c < n; ++c) dqr[c] *= scale;
  }
  for (int64_t j = 0; j < dm.lk; ++j) {
    T* dkj = g.dk + dm.kv_at(b, j, h);
    for (int c = 0; c < n; ++c) dkj[c] *= scale;
  }
}

template <typename T>
void backward_cpu(const CpuArgs<T>& x, const T* a1, const T* a2, const T* dy, const CpuGrads<T>& g) {
  const DiffAttentionDims& dm = x.dims;
  const int64_t pairs = dm.batch * dm.heads;
#pragma omp parallel
  {
    std::vector<T> scratch(size_t(3 * dm.cols() + 2 * dm.lk + dm.cols() * padded_keys(dm.lk)), T(0));
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < pairs; ++bh) backward_pair(x, a1, a2, dy, bh / dm.heads, int(bh % dm.heads), g, scratch);
  }
}

template <typename T>
CpuArgs<T> cpu_args(const DiffAttentionDims& dims, const Tensor& q, const Tensor& k, const Tensor& v,
                    const Tensor& mask, const Tensor& weight, double lambda, double lambda_init, double eps) {
  return {dims,
          q.data<T>(),
          k.data<T>(),
          v.data<T>(),
          mask.defined() ? mask.data<T>() : nullptr,
          weight.data<T>(),
          static_cast<T>(lambda),
          static_cast<T>(1.0 - lambda_init),
          static_cast<T>(eps)};
}

// Sums the per-(b, h) partials [dλ, dweight] in a fixed order.
template <typename T>
void reduce_partials(const std::vector<T>& partial, int64_t pairs, int n, T* dlambda, T* dweight) {
  T dl = 0;
  std::vector<T> dw(size_t(n), T(0));
  for (int64_t p = 0; p < pairs; ++p) {
    const T* part = partial.data() + p * (1 + n);
    dl += part[0];
    for (int c = 0; c < n; ++c) dw[size_t(c)] += part[1 + c];
  }
  *dlambda = dl;
  std::copy(dw.begin(), dw.end(), dweight);
}

}  // namespace

DiffAttentionResult diff_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                   const Tensor& lambda, double lambda_init, const Tensor& subln_weight,
                                   int heads, double rms_eps, bool keep_scores) {
  const DiffAttentionDims dims = check_arguments(q, k, v, key_mask, lambda, subln_weight, heads, rms_eps);
  DISPA_CHECK(!keep_scores || !q.is_cuda(), "{}: keep_scores needs the CPU (the CUDA kernels do not write scores); "
              "run the pair on the CPU", kOp);
  const Shape map_shape{dims.batch, dims.heads, dims.lq, dims.lk};
  Tensor y = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor attention = Tensor::empty(map_shape, q.dtype(), q.device());
  Tensor a1 = Tensor::empty(map_shape, q.dtype(), q.device());
  Tensor a2 = Tensor::empty(map_shape, q.dtype(), q.device());
  Tensor s1 = keep_scores ? Tensor::empty(map_shape, q.dtype(), q.device()) : Tensor();
  Tensor s2 = keep_scores ? Tensor::empty(map_shape, q.dtype(), q.device()) : Tensor();
  // The mask in q's dtype, so the kernels read one element type (nonzero stays nonzero).
  const Tensor mask = key_mask.defined() ? key_mask.detach().to(q.dtype()) : Tensor();
  double lambda_value = 0;  // CPU only: the CUDA kernels read λ on the device (no host sync)
  if (q.is_cuda()) {
    DISPA_ON_CUDA(cuda::diff_attention_forward(
        dims, q.data<float>(), k.data<float>(), v.data<float>(), mask.defined() ? mask.data<float>() : nullptr,
        lambda.data<float>(), subln_weight.data<float>(), static_cast<float>(1.0 - lambda_init),
        static_cast<float>(rms_eps), a1.data<float>(), a2.data<float>(), attention.data<float>(), y.data<float>()));
  } else {
    lambda_value = lambda.item();
    dispatch_floating(q.dtype(), kOp, [&](auto tag) {
      using T = typename decltype(tag)::type;
      forward_cpu(cpu_args<T>(dims, q, k, v, mask, subln_weight, lambda_value, lambda_init, rms_eps), a1.data<T>(),
                  a2.data<T>(), attention.data<T>(), y.data<T>(), keep_scores ? s1.data<T>() : nullptr,
                  keep_scores ? s2.data<T>() : nullptr);
    });
  }

  // Keeps q, k, v, λ (value on the CPU, tensor on the GPU), the weight and the two softmax maps;
  // o, r and A are recomputed from them (cheaper than storing [B, Lq, H·2D] and a third map).
  record(kOp, {q, k, v, lambda, subln_weight}, y,
         [dims, q, k, v, lambda, subln_weight, a1, a2, lambda_value, lambda_init, rms_eps](const Tensor& dy) {
           Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
           Tensor dk = Tensor::empty(k.shape(), k.dtype(), k.device());  // fully written where needed
           Tensor dv = Tensor::empty(v.shape(), v.dtype(), v.device());
           Tensor dlambda = Tensor::zeros(lambda.shape(), lambda.dtype(), lambda.device());
           Tensor dweight = Tensor::zeros(subln_weight.shape(), subln_weight.dtype(), subln_weight.device());
           if (q.is_cuda()) {
             Tensor d_o = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor ds1 = Tensor::empty(a1.shape(), a1.dtype(), a1.device());
             Tensor ds2 = Tensor::empty(a1.shape(), a1.dtype(), a1.device());
             DISPA_ON_CUDA(cuda::diff_attention_backward(
                 dims, q.data<float>(), k.data<float>(), v.data<float>(), lambda.data<float>(),
                 subln_weight.data<float>(), static_cast<float>(1.0 - lambda_init), static_cast<float>(rms_eps),
                 a1.data<float>(), a2.data<float>(), dy.data<float>(), dq.data<float>(), dk.data<float>(),
                 dv.data<float>(), dlambda.data<float>(), dweight.data<float>(), d_o.data<float>(),
                 ds1.data<float>(), ds2.data<float>(), k.requires_grad() || v.requires_grad()));
           } else {
             dispatch_floating(q.dtype(), "diff_attention backward", [&](auto tag) {
               using T = typename decltype(tag)::type;
               const CpuArgs<T> x = cpu_args<T>(dims, q, k, v, Tensor(), subln_weight, lambda_value, lambda_init,
                                                rms_eps);
               const int64_t pairs = dims.batch * dims.heads;
               std::vector<T> partial(size_t(pairs * (1 + dims.cols())), T(0));
               backward_cpu(x, a1.data<T>(), a2.data<T>(), dy.data<T>(),
                            CpuGrads<T>{dq.data<T>(), dk.data<T>(), dv.data<T>(), partial.data()});
               reduce_partials(partial, pairs, dims.cols(), dlambda.data<T>(), dweight.data<T>());
             });
           }
           q.accumulate_grad(std::move(dq));
           k.accumulate_grad(std::move(dk));
           v.accumulate_grad(std::move(dv));
           lambda.accumulate_grad(std::move(dlambda));
           subln_weight.accumulate_grad(std::move(dweight));
         });
  return {y, attention, a1, a2, s1, s2};
}

}  // namespace dispa
