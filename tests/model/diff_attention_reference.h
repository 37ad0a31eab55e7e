// Straightforward scalar reference of the differential cross-attention (Ye et al. 2024, eq. 1-3;
// ../shared/fixtures/dispa_ref/README.md step 4), forward and backward, in nested loops over
// plain vectors with every intermediate materialised: no engine op, no fused loop. Masked keys get
// the score −1e20 before the softmax exactly as the PyTorch reference does; a row whose keys are
// all masked gives zeros (the dispa convention; PyTorch would give a uniform row there).
// Used by tests/model (in double) and bench/diff_attention_bench.cpp (the naive baseline, float).
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/tensor.h"

namespace dispa::test {

template <typename T>
struct DiffAttentionCase {
  int64_t batch = 1, lq = 1, lk = 1;
  int heads = 1, head_dim = 1;  // D
  std::vector<T> q, k, v;       // [B, Lq, H·2D], [B, Lk, H·2D], [B, Lk, H·2D]
  std::vector<T> mask;          // [B, Lk] (nonzero = valid) or empty = no mask
  std::vector<T> weight;        // [2D]
  T lambda = T(0.3);
  T lambda_init = T(0.2);
  T eps = T(1e-5);

  int cols() const { return 2 * head_dim; }
  int64_t width() const { return int64_t(heads) * cols(); }
  Shape q_shape() const { return {batch, lq, width()}; }
  Shape kv_shape() const { return {batch, lk, width()}; }
  Shape map_shape() const { return {batch, heads, lq, lk}; }
};

// Random case: q, k, v uniform in [-1, 1] times `spread`, weight in [0.5, 1.5]. mask_kind: 0 no
// mask, 1 random partial mask (key 0 always valid), 2 one valid key per batch item, 3 the last
// batch item fully masked and the others partial.
template <typename T>
DiffAttentionCase<T> make_diff_attention_case(int64_t batch, int64_t lq, int64_t lk, int heads, int head_dim,
                                              uint32_t seed, int mask_kind = 0, double spread = 1.0) {
  DiffAttentionCase<T> c;
  c.batch = batch, c.lq = lq, c.lk = lk, c.heads = heads, c.head_dim = head_dim;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  auto fill = [&](std::vector<T>& x, int64_t n, double scale, double shift) {
    x.resize(size_t(n));
    for (T& e : x) e = T(u(rng) * scale + shift);
  };
  fill(c.q, batch * lq * c.width(), spread, 0.0);
  fill(c.k, batch * lk * c.width(), spread, 0.0);
  fill(c.v, batch * lk * c.width(), 1.0, 0.0);
  fill(c.weight, c.cols(), 0.5, 1.0);
  if (mask_kind != 0) {
    c.mask.assign(size_t(batch * lk), T(1));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < lk; ++j) {
        T& m = c.mask[size_t(b * lk + j)];
        if (mask_kind == 2) m = T(j == (b * 7 + 3) % lk ? 1 : 0);
        else if (mask_kind == 3 && b == batch - 1) m = T(0);
        else m = T(j == 0 || u(rng) > -0.2 ? 1 : 0);
      }
  }
  return c;
}

// The same case in another precision (values rounded once).
template <typename To, typename From>
DiffAttentionCase<To> convert_case(const DiffAttentionCase<From>& c) {
  DiffAttentionCase<To> out;
  out.batch = c.batch, out.lq = c.lq, out.lk = c.lk, out.heads = c.heads, out.head_dim = c.head_dim;
  out.q.assign(c.q.begin(), c.q.end()), out.k.assign(c.k.begin(), c.k.end()), out.v.assign(c.v.begin(), c.v.end());
  out.mask.assign(c.mask.begin(), c.mask.end()), out.weight.assign(c.weight.begin(), c.weight.end());
  out.lambda = To(c.lambda), out.lambda_init = To(c.lambda_init), out.eps = To(c.eps);
  return out;
}

template <typename T>
struct ReferenceForward {
  std::vector<T> p1, p2, attn;  // [B, H, Lq, Lk]
  std::vector<T> o;             // [B, Lq, H·2D], before the RMSNorm
  std::vector<T> rstd;          // [B, Lq, H]
  std::vector<T> y;             // [B, Lq, H·2D]
};

template <typename T>
ReferenceForward<T> reference_forward(const DiffAttentionCase<T>& c) {
  const int64_t B = c.batch, Lq = c.lq, Lk = c.lk, W = c.width();
  const int H = c.heads, D = c.head_dim, n = c.cols();
  const T scale = T(1) / std::sqrt(T(D));
  ReferenceForward<T> r;
  const size_t maps = size_t(B * H * Lq * Lk);
  r.p1.assign(maps, T(0)), r.p2.assign(maps, T(0)), r.attn.assign(maps, T(0));
  r.o.assign(size_t(B * Lq * W), T(0)), r.y.assign(size_t(B * Lq * W), T(0));
  r.rstd.assign(size_t(B * Lq * H), T(0));
  std::vector<T> s(static_cast<size_t>(Lk));
  for (int64_t b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int64_t i = 0; i < Lq; ++i)
        for (int half = 0; half < 2; ++half) {
          bool any_valid = false;
          for (int64_t j = 0; j < Lk; ++j) {
            const bool valid = c.mask.empty() || c.mask[size_t(b * Lk + j)] != T(0);
            any_valid = any_valid || valid;
            T dot = 0;
            for (int d = 0; d < D; ++d)
              dot += c.q[size_t((b * Lq + i) * W + h * n + half * D + d)] *
                     c.k[size_t((b * Lk + j) * W + h * n + half * D + d)];
            s[size_t(j)] = valid ? dot * scale : T(-1e20);
          }
          std::vector<T>& p = half == 0 ? r.p1 : r.p2;
          const size_t row = size_t(((b * H + h) * Lq + i) * Lk);
          if (!any_valid) continue;  // stays zero
          T mx = s[0];
          for (int64_t j = 1; j < Lk; ++j) mx = std::max(mx, s[size_t(j)]);
          T sum = 0;
          for (int64_t j = 0; j < Lk; ++j) sum += std::exp(s[size_t(j)] - mx);
          for (int64_t j = 0; j < Lk; ++j) p[row + size_t(j)] = std::exp(s[size_t(j)] - mx) / sum;
        }
  for (size_t e = 0; e < maps; ++e) r.attn[e] = r.p1[e] - c.lambda * r.p2[e];
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Lq; ++i)
      for (int h = 0; h < H; ++h) {
        const size_t row = size_t(((b * H + h) * Lq + i) * Lk);
        const size_t out = size_t((b * Lq + i) * W + h * n);
        for (int col = 0; col < n; ++col)
          for (int64_t j = 0; j < Lk; ++j)
            r.o[out + size_t(col)] += r.attn[row + size_t(j)] * c.v[size_t((b * Lk + j) * W + h * n + col)];
        T ms = 0;
        for (int col = 0; col < n; ++col) ms += r.o[out + size_t(col)] * r.o[out + size_t(col)];
        const T rs = T(1) / std::sqrt(ms / T(n) + c.eps);
        r.rstd[size_t((b * Lq + i) * H + h)] = rs;
        for (int col = 0; col < n; ++col)
          r.y[out + size_t(col)] = r.o[out + size_t(col)] * rs * c.weight[size_t(col)] * (T(1) - c.lambda_init);
      }
  return r;
}

template <typename T>
struct ReferenceGrads {
  std::vector<T> dq, dk, dv, dweight;
  T dlambda = 0;
};

// Gradients of sum(y ⊙ dy), stage by stage through the materialised intermediates.
template <typename T>
ReferenceGrads<T> reference_backward(const DiffAttentionCase<T>& c, const ReferenceForward<T>& f,
                                     const std::vector<T>& dy) {
  const int64_t B = c.batch, Lq = c.lq, Lk = c.lk, W = c.width();
  const int H = c.heads, D = c.head_dim, n = c.cols();
  const T scale = T(1) / std::sqrt(T(D)), cs = T(1) - c.lambda_init;
  ReferenceGrads<T> g;
  g.dq.assign(c.q.size(), T(0)), g.dk.assign(c.k.size(), T(0)), g.dv.assign(c.v.size(), T(0));
  g.dweight.assign(size_t(n), T(0));
  // RMSNorm backward → d_o; weight gradient.
  std::vector<T> d_o(f.o.size(), T(0));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Lq; ++i)
      for (int h = 0; h < H; ++h) {
        const size_t out = size_t((b * Lq + i) * W + h * n);
        const T rs = f.rstd[size_t((b * Lq + i) * H + h)];
        T go = 0;
        for (int col = 0; col < n; ++col) go += dy[out + size_t(col)] * c.weight[size_t(col)] * cs * f.o[out + size_t(col)];
        for (int col = 0; col < n; ++col) {
          const T gcol = dy[out + size_t(col)] * c.weight[size_t(col)] * cs;
          d_o[out + size_t(col)] = rs * gcol - f.o[out + size_t(col)] * rs * rs * rs * go / T(n);
          g.dweight[size_t(col)] += dy[out + size_t(col)] * f.o[out + size_t(col)] * rs * cs;
        }
      }
  // AV backward → dA, dV; then A = P1 − λP2 → dP1, dP2, dλ.
  const size_t maps = f.attn.size();
  std::vector<T> dp1(maps, T(0)), dp2(maps, T(0));
  for (int64_t b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int64_t i = 0; i < Lq; ++i)
        for (int64_t j = 0; j < Lk; ++j) {
          const size_t e = size_t(((b * H + h) * Lq + i) * Lk + j);
          T da = 0;
          for (int col = 0; col < n; ++col) {
            const size_t oi = size_t((b * Lq + i) * W + h * n + col);
            const size_t vi = size_t((b * Lk + j) * W + h * n + col);
            da += d_o[oi] * c.v[vi];
            g.dv[vi] += f.attn[e] * d_o[oi];
          }
          dp1[e] = da;
          dp2[e] = -c.lambda * da;
          g.dlambda += -f.p2[e] * da;
        }
  // Softmax backward per row and map → dS; scores S = Q Kᵀ · scale → dQ, dK.
  for (int64_t b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int64_t i = 0; i < Lq; ++i)
        for (int half = 0; half < 2; ++half) {
          const std::vector<T>& p = half == 0 ? f.p1 : f.p2;
          const std::vector<T>& dp = half == 0 ? dp1 : dp2;
          const size_t row = size_t(((b * H + h) * Lq + i) * Lk);
          T pdp = 0;
          for (int64_t j = 0; j < Lk; ++j) pdp += p[row + size_t(j)] * dp[row + size_t(j)];
          for (int64_t j = 0; j < Lk; ++j) {
            const T ds = p[row + size_t(j)] * (dp[row + size_t(j)] - pdp);
            for (int d = 0; d < D; ++d) {
              const size_t qi = size_t((b * Lq + i) * W + h * n + half * D + d);
              const size_t ki = size_t((b * Lk + j) * W + h * n + half * D + d);
              g.dq[qi] += ds * c.k[ki] * scale;
              g.dk[ki] += ds * c.q[qi] * scale;
            }
          }
        }
  return g;
}

// Tensors of a case on a device (mask undefined when the case has none).
template <typename T>
struct DiffAttentionTensors {
  Tensor q, k, v, mask, lambda, weight;
};
template <typename T>
DiffAttentionTensors<T> to_tensors(const DiffAttentionCase<T>& c, Device device, bool requires_grad,
                                   const Shape& lambda_shape = {}) {
  DiffAttentionTensors<T> t;
  t.q = Tensor::from_vector(c.q, c.q_shape(), device);
  t.k = Tensor::from_vector(c.k, c.kv_shape(), device);
  t.v = Tensor::from_vector(c.v, c.kv_shape(), device);
  if (!c.mask.empty()) t.mask = Tensor::from_vector(c.mask, {c.batch, c.lk}, device);
  t.lambda = Tensor::from_vector(std::vector<T>{c.lambda}, lambda_shape, device);
  t.weight = Tensor::from_vector(c.weight, {int64_t(c.cols())}, device);
  if (requires_grad)
    for (Tensor* x : {&t.q, &t.k, &t.v, &t.lambda, &t.weight}) x->set_requires_grad();
  return t;
}

}  // namespace dispa::test
