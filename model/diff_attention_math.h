// Per-row math of the fused differential cross-attention (model/diff_attention.h), shared by the
// CPU loops in diff_attention.cpp and the kernels in diff_attention.cu, and the raw CUDA entry
// points. No Tensor, no fmt: nvcc reads this header.
//
// Forward for one (b, h, query row i), n = 2D, c = 1 − λinit, w = subln weight:
//   s1_j = Q1_i·K1_j / sqrt(D), s2_j likewise; p1 = softmax(s1), p2 = softmax(s2) over valid keys
//   a_j = p1_j − λ p2_j;  o = Σ_j a_j V_j;  r = rsqrt(mean(o²) + eps);  y = o·r·w·c
// Backward for that row (dy given):
//   g = dy·w·c;  do = r·g − o·r³·(g·o)/n;  dw += dy·o·r·c;  da_j = do·V_j;  dV_j += a_j do
//   dλ += −Σ_j p2_j da_j;  ds1 = p1 ⊙ (da − Σ p1 da);  ds2 = p2 ⊙ (−λ da − Σ p2 (−λ da))
//   dQ1_i = Σ_j ds1_j K1_j / sqrt(D);  dK1_j += ds1_j Q1_i / sqrt(D)  (and the same for half 2)
#pragma once
#include <cstdint>

#include "engine/math_common.h"
#include "engine/ops/softmax_math.h"

namespace dispa {

// Shapes and the row-major layout every loop and kernel indexes with:
//   q, y: [B, Lq, H·2D]; k, v: [B, Lk, H·2D]; key mask: [B, Lk]; A1, A2, A: [B, H, Lq, Lk].
// Within a row of q (or k), head h owns columns h·2D .. h·2D+2D−1: the first D are half 1, the
// next D half 2. V's head h uses the same 2D columns, whole.
struct DiffAttentionDims {
  int64_t batch = 0;
  int64_t lq = 0;
  int64_t lk = 0;
  int heads = 0;
  int head_dim = 0;  // D

  DISPA_HD int cols() const { return 2 * head_dim; }                   // n = 2D, per head
  DISPA_HD int64_t width() const { return int64_t(heads) * cols(); }   // H·2D
  // Start of head h's 2D columns in query row i (q, y, dq) and key row j (k, v, dk, dv).
  DISPA_HD int64_t q_at(int64_t b, int64_t i, int h) const { return (b * lq + i) * width() + int64_t(h) * cols(); }
  DISPA_HD int64_t kv_at(int64_t b, int64_t j, int h) const { return (b * lk + j) * width() + int64_t(h) * cols(); }
  // Start of the attention-map row (b, h, i) in A1, A2, A.
  DISPA_HD int64_t map_at(int64_t b, int h, int64_t i) const { return ((b * heads + h) * lq + i) * lk; }
};

// exp(s − row_max) for a valid key, exactly 0 for a masked one. With at least one valid key
// this equals the reference's "score = −1e20 then softmax" (exp underflows to 0 there too).
template <typename T>
DISPA_HD inline T masked_exp(T score, T row_max, bool valid) {
  return valid ? math::exp(score - row_max) : T(0);
}

// 1/Σexp (0 when every key of the row is masked) and the NaN-propagating row maximum are
// engine/ops/softmax_math.h's softmax_inv_sum and softmax_row_max: a fully masked row gives zeros,
// a NaN score gives a NaN row (as PyTorch).

// The differential map: a = p1 − λ p2 (forward, and recomputed in backward from saved p1, p2).
template <typename T>
DISPA_HD inline T diff_combine(T p1, T p2, T lambda) {
  return p1 - lambda * p2;
}

// RMSNorm's reciprocal root over n = 2D values: r = 1/sqrt(Σo²/n + eps).
template <typename T>
DISPA_HD inline T rms_rstd(T sum_squares, int n, T eps) {
  return math::rsqrt(sum_squares / T(n) + eps);
}

// Output element y = o·r·w·c (c = 1 − λinit).
template <typename T>
DISPA_HD inline T diff_attention_out(T o, T rstd, T weight, T out_scale) {
  return o * rstd * weight * out_scale;
}

// RMSNorm backward for one element: do = r·g − o·r³·(g·o)/n, with g = dy·w·c and g_dot_o = Σ g·o.
template <typename T>
DISPA_HD inline T rms_input_grad(T g, T o, T rstd, T g_dot_o, int n) {
  return rstd * g - o * (rstd * rstd * rstd) * g_dot_o / T(n);
}

// Softmax backward for one key: ds = p·(dp − Σ_k p_k dp_k).
template <typename T>
DISPA_HD inline T softmax_input_grad(T p, T dp, T p_dot_dp) {
  return p * (dp - p_dot_dp);
}

namespace cuda {
// f32 only. key_mask: [B, Lk] in f32 (nonzero = valid) or nullptr; lambda: one f32 on the device
// (read there, so no host sync). Writes a1, a2, attn ([B, H, Lq, Lk]) and y ([B, Lq, H·2D]).
void diff_attention_forward(const DiffAttentionDims& dims, const float* q, const float* k, const float* v,
                            const float* key_mask, const float* lambda, const float* weight, float out_scale,
                            float eps, float* a1, float* a2, float* attn, float* y);
// Overwrites dq, dk, dv (same shapes as q, k, v); adds into dlambda (one element) and dweight
// ([2D]), which the caller zeroes. Scratch: d_o like q, ds1 and ds2 like a1. With need_dkv false
// dk and dv are not touched (may be nullptr).
void diff_attention_backward(const DiffAttentionDims& dims, const float* q, const float* k, const float* v,
                             const float* lambda, const float* weight, float out_scale, float eps,
                             const float* a1, const float* a2, const float* dy, float* dq, float* dk, float* dv,
                             float* dlambda, float* dweight, float* d_o, float* ds1, float* ds2, bool need_dkv);
// Largest 2D the kernels take (each lane keeps 2D/32 output columns in registers).
constexpr int kDiffAttentionMaxCols = 256;
}  // namespace cuda

}  // namespace dispa
