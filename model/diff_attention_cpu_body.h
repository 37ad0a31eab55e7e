// The CPU loops of the fused differential attention, included once per instruction-set level by
// diff_attention_cpu_{portable,avx2,avx512}.cpp after it defines DISPA_DIFF_CPU_LEVEL (the level's
// namespace). Math: diff_attention_math.h; entry points: diff_attention_cpu.h. No include guard:
// one inclusion per translation unit.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model/diff_attention_cpu.h"

namespace dispa::diff_cpu::DISPA_DIFF_CPU_LEVEL {

template <typename T>
inline T dot(const T* a, const T* b, int n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

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

}  // namespace dispa::diff_cpu::DISPA_DIFF_CPU_LEVEL
