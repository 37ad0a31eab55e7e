// CPU kernels of the inference form of the fused differential attention
// (model/diff_attention_inference.h): f32, no gradient, no attention maps written. The body below is
// compiled once per instruction-set level (diff_attention_infer_{portable,avx2,avx512}.cpp, each
// with its flags, like the GEMM kernels) and picked by cpu_level() at run time.
//
// Two loop orders, both exact forms of the same math (diff_attention_math.h):
//   queries  16 query rows in the lanes of one vector (GCC/Clang vector extensions): the scores of
//            a key are one FMA chain over D, and the max, exp, sum, A·V and RMSNorm of 16 rows run
//            in the lanes. For many queries against few keys: Path2Sub (112 pathway tokens
//            against ≤ 17 fragments), which is ~90 % of a whole-screen's work.
//   keys     16 keys in the lanes: for few queries against many keys (Drug2Path: one drug token
//            against 112 pathway tokens).
// Both read q and k/v through row maps (the cell and drug projections are never copied per pair)
// and either write every query row or only their mean (Path2Sub's pooled view).
#pragma once
#include <cstdint>

#include "model/diff_attention_math.h"

namespace dispa::infer {

constexpr int kLanes = 16;  // queries (or keys) per vector
inline int64_t padded_rows(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

struct Args {
  DiffAttentionDims dims;  // batch = output rows B; lq, lk, heads, head_dim as diff_attention
  const float* q = nullptr;  // [Nq, Lq, W], W = H·2D
  const float* k = nullptr;  // [Nk, Lk, W]
  const float* v = nullptr;  // [Nk, Lk, W]
  const int64_t* q_rows = nullptr;   // [B] rows of q per output row; nullptr = identity
  const int64_t* kv_rows = nullptr;  // [B] rows of k and v per output row; nullptr = identity
  const float* mask = nullptr;       // [B, Lk] per output row, nonzero = valid; nullptr = all valid
  const float* weight = nullptr;     // subln weight [2D]
  float lambda = 0, out_scale = 1, eps = 1e-5f;
  bool pool_queries = false;  // y [B, 1, W] = mean over query rows, else y [B, Lq, W]
  float* y = nullptr;
  // Scratch from the caller: queries kernel, q transposed per row: [Nq, W, padded_rows(Lq)];
  // keys kernel, k transposed per row: [Nk, W, padded_rows(Lk)].
  float* transposed = nullptr;
  int64_t transposed_rows = 0;  // Nq or Nk
};

// One entry point per level; `queries_in_lanes` picks the loop order. Run on the OpenMP threads.
void run_portable(const Args& args, bool queries_in_lanes);
void run_avx2(const Args& args, bool queries_in_lanes);
void run_avx512(const Args& args, bool queries_in_lanes);

}  // namespace dispa::infer
