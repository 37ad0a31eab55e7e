// The fused differential cross-attention (model/diff_attention.h) in inference form: the same
// output, with no gradient and no attention maps, reading the projections through row maps.
//
// In a de-duplicated batch or a screen, Path2Sub's queries are one [Lq = P, H·2D] block per
// distinct cell and its keys/values one [Lk = L, H·2D] block per distinct drug; diff_attention
// wants them expanded to one copy per pair first (gather_rows: ~90 MB per 1024 pairs). Here q_rows
// and kv_rows ([B], i32 or i64) name each output row's blocks instead (undefined = row b is block
// b), and pool_queries returns the mean over query rows ([B, 1, H·2D]) that Path2Sub's pooled view
// reads, without writing [B, Lq, H·2D].
//
// CPU, f32: model/diff_attention_infer_kernels.h (queries or keys in the vector lanes, per
// instruction-set level). CUDA and f64: the reference composition (gather_rows, diff_attention,
// mean), so every device computes the same function. It refuses inputs that require a gradient
// while grad mode is on: training uses diff_attention.
#pragma once
#include "engine/tensor.h"

namespace dispa {

// Which CPU loops run (tests and benchmarks compare them; automatic picks by shape).
enum class InferenceLoops { automatic, queries_in_lanes, keys_in_lanes, reference };

// q: [Nq, Lq, H·2D]; k, v: [Nk, Lk, H·2D]; q_rows, kv_rows: [B] or undefined; key_mask: [B, Lk]
// per output row (nonzero = valid) or undefined; lambda: [] or [1]; subln_weight: [2D].
// Returns y [B, Lq, H·2D], or [B, 1, H·2D] with pool_queries.
Tensor diff_attention_inference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                const Tensor& lambda, double lambda_init, const Tensor& subln_weight, int heads,
                                double rms_eps, const Tensor& q_rows, const Tensor& kv_rows, bool pool_queries,
                                InferenceLoops loops = InferenceLoops::automatic);

}  // namespace dispa
