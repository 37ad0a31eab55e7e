#include "model/cross_attention.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/init.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/ops/softmax.h"
#include "model/diff_attention_inference.h"

namespace dispa {

AttentionKind parse_attention_kind(const std::string& name) {
  if (name == "differential") return AttentionKind::differential;
  if (name == "vanilla") return AttentionKind::vanilla;
  fail("unknown attention '{}': expected differential or vanilla", name);
}

double lambda_init_for_depth(int depth) { return 0.8 - 0.6 * std::exp(-0.3 * depth); }

namespace {
int64_t checked_head_dim(AttentionKind kind, int64_t attn_dim, int heads) {
  const int64_t split = kind == AttentionKind::differential ? 2 * int64_t(heads) : int64_t(heads);
  DISPA_CHECK(heads > 0 && attn_dim % split == 0, "cross-attention: attn_dim {} must be divisible by {} ({} heads{})",
              attn_dim, split, heads, kind == AttentionKind::differential ? ", two halves each" : "");
  return attn_dim / split;
}
}  // namespace

CrossAttention::CrossAttention(AttentionKind kind_, int64_t embed_dim, int64_t attn_dim_, int heads_, int depth,
                               double rms_eps_, Generator& init_rng)
    : kind(kind_), heads(heads_), attn_dim(attn_dim_),
      head_dim(checked_head_dim(kind_, attn_dim_, heads_)), lambda_init(lambda_init_for_depth(depth)),
      rms_eps(rms_eps_), q_proj(embed_dim, attn_dim_, false, init_rng), k_proj(embed_dim, attn_dim_, false, init_rng),
      v_proj(embed_dim, attn_dim_, false, init_rng), out_proj(attn_dim_, embed_dim, false, init_rng),
      subln(kind_ == AttentionKind::differential ? 2 * head_dim : head_dim, rms_eps_) {
  register_module("q_proj", q_proj);
  register_module("k_proj", k_proj);
  register_module("v_proj", v_proj);
  register_module("out_proj", out_proj);
  if (kind == AttentionKind::differential) {
    // Differential Transformer init: λ vectors ~ N(0, 0.1²).
    for (auto [name, tensor] : {std::pair{"lambda_q1", &lambda_q1}, std::pair{"lambda_k1", &lambda_k1},
                                std::pair{"lambda_q2", &lambda_q2}, std::pair{"lambda_k2", &lambda_k2}}) {
      *tensor = register_parameter(name, Tensor::empty({head_dim}));
      init::normal_(*tensor, 0.0, 0.1, init_rng);
    }
  }
  register_module("subln", subln);
}

Tensor CrossAttention::lambda() const {
  DISPA_CHECK(kind == AttentionKind::differential, "cross-attention: λ exists only in the differential variant");
  Tensor l1 = exp(sum_all(lambda_q1 * lambda_k1));
  Tensor l2 = exp(sum_all(lambda_q2 * lambda_k2));
  return add_scalar(l1 - l2, lambda_init);
}

namespace {
// Internals are for reading: detached host copies (the maps are small: one pair in explain).
Tensor host_copy(const Tensor& t) { return t.defined() ? t.detach().to(Device::cpu()).clone() : t; }

// Pre-softmax scores [B, H, Lq, Lk] on the host with masked keys (key_mask [B, Lk], 0 = masked)
// set to −inf, as AttentionInternals documents.
Tensor masked_scores(const Tensor& scores, const Tensor& key_mask) {
  Tensor s = host_copy(scores).to(DType::f64);
  if (key_mask.defined()) {
    const std::vector<double> m = key_mask.detach().to(Device::cpu()).to_f64_vector();
    const int64_t B = s.dim(0), Lk = s.dim(3), rows = s.numel() / (B * Lk);
    double* x = s.data<double>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < Lk; ++j)
          if (m[size_t(b * Lk + j)] == 0.0) x[(b * rows + r) * Lk + j] = -INFINITY;
  }
  return s.to(scores.dtype());
}

// The λ a forward used, once per head ([H], host): DiSPA shares one λ across heads.
Tensor lambda_per_head(const Tensor& lambda, int heads) {
  return Tensor::full({int64_t(heads)}, lambda.detach().to(Device::cpu()).item(), lambda.dtype());
}

// Projects distinct rows once, then expands them to the batch (identity without a row map).
Tensor project(const Linear& proj, const Tensor& x, const Tensor& rows) {
  const Tensor y = proj.forward(x);
  return rows.defined() ? gather_rows(y, rows) : y;
}
}  // namespace

Tensor CrossAttention::project_out(const Tensor& heads_output, bool pool_queries) const {
  if (!pool_queries) return out_proj.forward(heads_output);
  return out_proj.forward(mean(heads_output, 1, true));  // [B, 1, A] -> [B, 1, E]
}

AttentionOutput CrossAttention::forward(const Tensor& queries, const Tensor& keys_values, const Tensor& key_mask,
                                        const Tensor& query_rows, const Tensor& kv_rows, bool pool_queries,
                                        bool with_map) const {
  if (kind == AttentionKind::differential && use_fused && !with_map && !capture) {
    if (reassociation_pays(query_rows.defined() ? query_rows.numel() : queries.dim(0), keys_values.dim(0),
                           queries.dim(1), keys_values.dim(1), keys_values.dim(2)))
      return forward_reassociated(queries, keys_values, key_mask, query_rows, kv_rows, pool_queries);
    if (!grad_enabled()) {
      // Projections of the distinct rows only; the kernels read them through the row maps.
      const Tensor y = diff_attention_inference(q_proj.forward(queries), k_proj.forward(keys_values),
                                                v_proj.forward(keys_values), key_mask, lambda(), lambda_init,
                                                subln.weight, heads, rms_eps, query_rows, kv_rows, pool_queries);
      return {out_proj.forward(y), Tensor()};
    }
  }
  if (kind != AttentionKind::differential || !use_fused) {
    AttentionOutput out = forward_unfused(queries, keys_values, key_mask, query_rows, kv_rows, pool_queries);
    if (!with_map) out.attention = Tensor();
    return out;
  }
  const Tensor q = project(q_proj, queries, query_rows);  // [B, Lq, A]
  const Tensor k = project(k_proj, keys_values, kv_rows); // [B, Lk, A]
  const Tensor v = project(v_proj, keys_values, kv_rows); // [B, Lk, A]
  const Tensor lam = lambda();
  DiffAttentionResult r = diff_attention(q, k, v, key_mask, lam, lambda_init, subln.weight, heads, rms_eps,
                                         capture != nullptr);
  if (capture)
    *capture = {masked_scores(r.scores1, key_mask), masked_scores(r.scores2, key_mask), host_copy(r.softmax1),
                host_copy(r.softmax2), lambda_per_head(lam, heads), host_copy(r.attention)};
  return {project_out(r.output, pool_queries), with_map ? r.attention : Tensor()};
}

bool CrossAttention::reassociation_pays(int64_t rows, int64_t kv_blocks, int64_t lq, int64_t lk, int64_t embed) const {
  if (kind != AttentionKind::differential) return false;
  const double A = double(attn_dim), E = double(embed), H = double(heads);
  const double project = double(kv_blocks) * double(lk) * E * 2 * A;  // K and V of every block
  // Per row: q·W_k per half and head, scores against Lk tokens (2H), A·x (H), u·W_vᵀ.
  const double reassociate = double(rows) * double(lq) * (A * E + 3 * H * double(lk) * E + A * E);
  return reassociate < project;
}

AttentionOutput CrossAttention::forward_reassociated(const Tensor& queries, const Tensor& keys_values,
                                                     const Tensor& key_mask, const Tensor& query_rows,
                                                     const Tensor& kv_rows, bool pool_queries) const {
  DISPA_CHECK(kind == AttentionKind::differential, "cross-attention: re-association is for the differential kind");
  const int64_t Nq = queries.dim(0), Lq = queries.dim(1), Lk = keys_values.dim(1), E = keys_values.dim(2);
  const int64_t H = heads, D = head_dim, H2 = 2 * H;
  const double scale = 1.0 / std::sqrt(double(D));
  // q'[r, i, (h, half)] = Σ_d q[r, i, h, half, d] · W_k[(h, half, d), :]   -> [Nq, Lq·2H, E]
  const Tensor q = q_proj.forward(queries);                                             // [Nq, Lq, A]
  const Tensor qh = permute(q.reshape({Nq * Lq, H2, D}), {1, 0, 2});                    // [2H, Nq·Lq, D]
  Tensor qk = matmul(qh, k_proj.weight.reshape({H2, D, E}));                             // [2H, Nq·Lq, E]
  qk = permute(qk, {1, 0, 2}).reshape({Nq, Lq * H2, E});
  if (query_rows.defined()) qk = gather_rows(qk, query_rows);                           // [B, Lq·2H, E]
  const int64_t B = qk.dim(0);
  const Tensor x = kv_rows.defined() ? gather_rows(keys_values, kv_rows) : keys_values;  // [B, Lk, E]
  const Tensor s = mul_scalar(matmul(qk, x, false, true), scale).reshape({B, Lq, H, 2, Lk});
  const Tensor p = key_mask.defined() ? masked_softmax(s, key_mask.reshape({B, 1, 1, 1, Lk})) : softmax(s);
  const Tensor lam = lambda();
  const Tensor a = (slice(p, 3, 0, 1) - lam * slice(p, 3, 1, 2)).reshape({B, Lq * H, Lk});  // A1 − λA2
  const Tensor u = matmul(a, x);                                                        // [B, Lq·H, E]
  const Tensor uh = permute(u.reshape({B * Lq, H, E}), {1, 0, 2});                      // [H, B·Lq, E]
  const Tensor o = matmul(uh, v_proj.weight.reshape({H, 2 * D, E}), false, true);       // [H, B·Lq, 2D]
  Tensor y = permute(o, {1, 0, 2});                                                     // [B·Lq, H, 2D]
  y = mul_scalar(subln.forward(y), 1.0 - lambda_init).reshape({B, Lq, attn_dim});
  return {project_out(y, pool_queries), Tensor()};
}

AttentionOutput CrossAttention::forward_unfused(const Tensor& queries, const Tensor& keys_values,
                                                const Tensor& key_mask, const Tensor& query_rows,
                                                const Tensor& kv_rows, bool pool_queries) const {
  const Tensor q = project(q_proj, queries, query_rows);
  const Tensor k = project(k_proj, keys_values, kv_rows);
  const Tensor v = project(v_proj, keys_values, kv_rows);
  const int64_t B = q.dim(0), Lq = q.dim(1), Lk = k.dim(1);
  const int64_t H = heads, D = head_dim;
  const double scale = 1.0 / std::sqrt(double(D));
  const Tensor mask = key_mask.defined() ? key_mask.reshape({B, 1, 1, Lk}) : Tensor();
  auto probabilities = [&](const Tensor& scores) { return mask.defined() ? masked_softmax(scores, mask) : softmax(scores); };

  Tensor attention, values;
  if (kind == AttentionKind::differential) {
    const Tensor qh = permute(q.reshape({B, Lq, H, 2, D}), {0, 2, 3, 1, 4});  // [B, H, 2, Lq, D]
    const Tensor kh = permute(k.reshape({B, Lk, H, 2, D}), {0, 2, 3, 1, 4});  // [B, H, 2, Lk, D]
    auto half = [&](const Tensor& t, int64_t i, int64_t rows) { return slice(t, 2, i, i + 1).reshape({B, H, rows, D}); };
    const Tensor s1 = mul_scalar(matmul(half(qh, 0, Lq), half(kh, 0, Lk), false, true), scale);
    const Tensor s2 = mul_scalar(matmul(half(qh, 1, Lq), half(kh, 1, Lk), false, true), scale);
    const Tensor a1 = probabilities(s1), a2 = probabilities(s2);
    const Tensor lam = lambda();
    attention = a1 - lam * a2;                                                 // [B, H, Lq, Lk]
    values = permute(v.reshape({B, Lk, H, 2 * D}), {0, 2, 1, 3});              // [B, H, Lk, 2D]
    if (capture)
      *capture = {masked_scores(s1, key_mask), masked_scores(s2, key_mask), host_copy(a1), host_copy(a2),
                  lambda_per_head(lam, heads), host_copy(attention)};
  } else {
    const Tensor qh = permute(q.reshape({B, Lq, H, D}), {0, 2, 1, 3});
    const Tensor kh = permute(k.reshape({B, Lk, H, D}), {0, 2, 1, 3});
    const Tensor s = mul_scalar(matmul(qh, kh, false, true), scale);
    attention = probabilities(s);
    values = permute(v.reshape({B, Lk, H, D}), {0, 2, 1, 3});
    if (capture) *capture = {masked_scores(s, key_mask), Tensor(), host_copy(attention), Tensor(), Tensor(),
                             host_copy(attention)};
  }
  Tensor o = subln.forward(matmul(attention, values));       // [B, H, Lq, 2D or D]
  if (kind == AttentionKind::differential) o = mul_scalar(o, 1.0 - lambda_init);
  o = permute(o, {0, 2, 1, 3}).reshape({B, Lq, attn_dim});
  return {project_out(o, pool_queries), attention.detach()};
}

}  // namespace dispa
