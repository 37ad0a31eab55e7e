// Fused differential cross-attention core (Ye et al. 2024, Differential Transformer, eq. 1-3),
// as DiSPA uses it. Per batch b and head h, with Q and K split into halves (the projection
// output viewed as [.., H, 2, D]) and V viewed as [.., H, 2D]:
//   A1 = softmax(Q1 K1ᵀ / sqrt(D)), A2 = softmax(Q2 K2ᵀ / sqrt(D))   (masked keys excluded)
//   A  = A1 − λ·A2
//   O  = RMSNorm(A V) · (1 − λinit)      RMSNorm over 2D with weight [2D], eps
// and the heads concatenated back to [B, Lq, H·2D]. One op: forward and backward on CPU (fused
// loops per query row) and CUDA (one kernel per direction). The unfused composition of engine
// ops (model/cross_attention.cpp) is its reference in tests.
#pragma once
#include "engine/tensor.h"

namespace dispa {

struct DiffAttentionResult {
  Tensor output;     // [B, Lq, H·2D], differentiable in q, k, v, lambda, subln_weight
  Tensor attention;  // [B, H, Lq, Lk] = A1 − λ·A2, for inspection (no gradient)
  Tensor softmax1, softmax2;  // [B, H, Lq, Lk]: A1 and A2 (kept for backward anyway; no gradient)
  Tensor scores1, scores2;    // [B, H, Lq, Lk] pre-softmax Q1K1ᵀ/√D, Q2K2ᵀ/√D: only with keep_scores
                              // (CPU only); masked keys hold their unmasked dot product
};

// q: [B, Lq, H·2D], k and v: [B, Lk, H·2D], key_mask: [B, Lk] (nonzero = valid) or undefined,
// lambda: shape [] or [1] (differentiable), subln_weight: [2D]. A query row whose keys are all
// masked gives zeros (never NaN). Throws naming the op and shapes on any mismatch. keep_scores
// (for dispa explain --internals) also returns the scores the CPU loops compute; on CUDA it is
// an error (the kernels never write them out).
DiffAttentionResult diff_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                   const Tensor& lambda, double lambda_init, const Tensor& subln_weight,
                                   int heads, double rms_eps = 1e-5, bool keep_scores = false);

}  // namespace dispa
