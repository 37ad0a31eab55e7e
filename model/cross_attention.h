// Cross-attention between two token sets, in DiSPA's two variants:
//  differential (Ye et al. 2024): A = softmax(Q1K1ᵀ/√D) − λ·softmax(Q2K2ᵀ/√D),
//    λ = exp(λq1·λk1) − exp(λq2·λk2) + λinit, λinit = 0.8 − 0.6·exp(−0.3·depth),
//    O = RMSNorm(A V)·(1 − λinit) per head (D = attn_dim / (2·heads));
//  vanilla: A = softmax(QKᵀ/√D), O = RMSNorm(A V) (D = attn_dim / heads);
// then heads are concatenated and projected back (out_proj). No biases, as the reference.
// Parameter names follow the PyTorch reference: q_proj, k_proj, v_proj, out_proj, lambda_q1,
// lambda_k1, lambda_q2, lambda_k2, subln.
#pragma once
#include <string>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "model/diff_attention.h"
#include "model/layers.h"

namespace dispa {

enum class AttentionKind { differential, vanilla };
AttentionKind parse_attention_kind(const std::string& name);  // "differential" | "vanilla"
double lambda_init_for_depth(int depth);                       // 0.8 − 0.6·exp(−0.3·depth)

struct AttentionOutput {
  Tensor output;     // [B, Lq, E], or [B, 1, E] with pool_queries
  Tensor attention;  // [B, H, Lq, Lk] (differential: A1 − λA2; vanilla: softmax), no gradient
};

// Everything one forward computed on the way to the attention map, for study (dispa explain
// --internals). The path that runs (the fused op or the unfused ops) fills it when
// CrossAttention::capture points here; nothing is recomputed. All detached, [B, H, Lq, Lk]:
struct AttentionInternals {
  Tensor scores1, scores2;    // pre-softmax scores QKᵀ/√D, masked keys −inf (scores2: differential)
  Tensor softmax1, softmax2;  // the softmaxes (vanilla: softmax1 only); masked keys 0
  Tensor lambda;              // [H]: the λ used by each head (differential; one shared value)
  Tensor attention;           // the map that multiplies V: softmax1 − λ·softmax2, or the softmax
};

class CrossAttention : public Module {
 public:
  CrossAttention(AttentionKind kind, int64_t embed_dim, int64_t attn_dim, int heads, int depth, double rms_eps,
                 Generator& init_rng);
  // queries [B, Lq, E], keys_values [B, Lk, E], key_mask [B, Lk] (nonzero = valid) or undefined.
  // query_rows / kv_rows (optional, i32 [B]): queries / keys_values hold distinct rows and these
  // map each batch entry to its row; the projections then run once per distinct row.
  // pool_queries: return the mean over the Lq query positions, [B, 1, E]. out_proj has no bias,
  // so mean(O)·Wᵀ = mean(O·Wᵀ) exactly (up to rounding): the projection then runs once per batch
  // entry instead of once per query (DiSPA's Path2Sub is mean-pooled over its P pathway queries,
  // which saves a [B·P, A] x [A, E] GEMM, ~4 GFLOP per forward at the paper configuration).
  // with_map = false: the caller does not read AttentionOutput::attention (left undefined). Then,
  // for the differential kind without capture, forward_reassociated runs where it pays, else under
  // NoGrad the inference form (model/diff_attention_inference.h): no map written, no per-pair copy
  // of the projections.
  AttentionOutput forward(const Tensor& queries, const Tensor& keys_values, const Tensor& key_mask,
                          const Tensor& query_rows = {}, const Tensor& kv_rows = {}, bool pool_queries = false,
                          bool with_map = true) const;
  // The same computation from separate engine ops (matmul, masked_softmax, rms_norm, ...): the
  // reference for the fused op, and the path used when use_fused is false.
  AttentionOutput forward_unfused(const Tensor& queries, const Tensor& keys_values, const Tensor& key_mask,
                                  const Tensor& query_rows = {}, const Tensor& kv_rows = {},
                                  bool pool_queries = false) const;
  Tensor lambda() const;  // differential only: the scalar λ as a differentiable [] tensor
  // Differential attention with the key/value projections re-associated onto the queries:
  // s = (q·W_k)·xᵀ per half and head, u = A·x, o = u·W_vᵀ per head, so the keys_values rows x are
  // never projected. Exact up to rounding. Cheaper when the key/value blocks are many tokens each
  // and few pairs share one (Drug2Path in a training-sized batch: ~1.5 pairs per cell, 112 pathway
  // tokens); forward() takes it whenever no map is wanted and reassociation_pays(), in training too
  // (the engine ops' backward: the K/V projections' forward and backward GEMMs disappear).
  // Engine ops only (CPU and CUDA); returns no map.
  AttentionOutput forward_reassociated(const Tensor& queries, const Tensor& keys_values, const Tensor& key_mask,
                                       const Tensor& query_rows, const Tensor& kv_rows, bool pool_queries) const;
  // Multiply-adds: projecting every key/value block vs re-associating per output row.
  bool reassociation_pays(int64_t rows, int64_t kv_blocks, int64_t lq, int64_t lk, int64_t embed) const;

  AttentionKind kind;
  int heads;
  int64_t attn_dim, head_dim;  // head_dim: D (differential: attn_dim / (2 heads))
  double lambda_init, rms_eps;
  bool use_fused = true;       // differential only; vanilla always runs unfused
  // When set, the next forwards fill *capture (see AttentionInternals); the fused op then also
  // keeps its scores, on the CPU only. Off (null) in training and inference.
  AttentionInternals* capture = nullptr;
  Linear q_proj, k_proj, v_proj, out_proj;
  RMSNorm subln;  // over 2D (differential) or D (vanilla)
  Tensor lambda_q1, lambda_k1, lambda_q2, lambda_k2;

 private:
  // heads concatenated [B, Lq, A] -> out_proj, after the mean over queries when pool_queries.
  Tensor project_out(const Tensor& heads_output, bool pool_queries) const;
};

}  // namespace dispa
