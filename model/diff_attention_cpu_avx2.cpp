// The fused differential attention's CPU loops (diff_attention_cpu_body.h) at the avx2 level
// (compiled with the level's flags: model/CMakeLists.txt).
#define DISPA_DIFF_CPU_LEVEL avx2
#include "model/diff_attention_cpu_body.h"

namespace dispa::diff_cpu {
void forward_avx2(const CpuArgs<float>& x, float* a1, float* a2, float* attn, float* y, float* s1, float* s2) {
  avx2::forward_cpu(x, a1, a2, attn, y, s1, s2);
}
void backward_avx2(const CpuArgs<float>& x, const float* a1, const float* a2, const float* dy,
                  const CpuGrads<float>& g) {
  avx2::backward_cpu(x, a1, a2, dy, g);
}
}  // namespace dispa::diff_cpu
