// The CPU loops of the fused differential attention (model/diff_attention.h): one fused pass per
// (b, h, query row) forward, and its backward; OpenMP over (b, h), whose K or V tile is transposed
// once. The loops (diff_attention_cpu_body.h) are compiled once per instruction-set level
// (diff_attention_cpu_{portable,avx2,avx512}.cpp, with their flags) so their `omp simd` loops use
// the widest vectors the CPU has; diff_attention.cpp picks the level with cpu_level(). f64 (for
// gradient checks) runs at the portable level only.
#pragma once
#include <cstdint>

#include "model/diff_attention_math.h"

namespace dispa::diff_cpu {

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


// a1, a2, attn: [B, H, Lq, Lk]; y: [B, Lq, H·2D]; s1, s2 (nullable): the raw scores.
#define DISPA_DIFF_CPU_LEVEL_ENTRIES(level, T)                                                       \
  void forward_##level(const CpuArgs<T>& x, T* a1, T* a2, T* attn, T* y, T* s1, T* s2);            \
  void backward_##level(const CpuArgs<T>& x, const T* a1, const T* a2, const T* dy, const CpuGrads<T>& g);
DISPA_DIFF_CPU_LEVEL_ENTRIES(portable, float)
DISPA_DIFF_CPU_LEVEL_ENTRIES(portable, double)
DISPA_DIFF_CPU_LEVEL_ENTRIES(avx2, float)
DISPA_DIFF_CPU_LEVEL_ENTRIES(avx512, float)
#undef DISPA_DIFF_CPU_LEVEL_ENTRIES

}  // namespace dispa::diff_cpu
