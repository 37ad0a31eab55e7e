// The fused differential attention's CPU loops (diff_attention_cpu_body.h) at the portable level
// (the build's baseline flags).
#define DISPA_DIFF_CPU_LEVEL portable
#include "model/diff_attention_cpu_body.h"

namespace dispa::diff_cpu {
void forward_portable(const CpuArgs<float>& x, float* a1, float* a2, float* attn, float* y, float* s1, float* s2) {
  portable::forward_cpu(x, a1, a2, attn, y, s1, s2);
}
void backward_portable(const CpuArgs<float>& x, const float* a1, const float* a2, const float* dy,
                  const CpuGrads<float>& g) {
  portable::backward_cpu(x, a1, a2, dy, g);
}
void forward_portable(const CpuArgs<double>& x, double* a1, double* a2, double* attn, double* y, double* s1,
                      double* s2) {
  portable::forward_cpu(x, a1, a2, attn, y, s1, s2);
}
void backward_portable(const CpuArgs<double>& x, const double* a1, const double* a2, const double* dy,
                  const CpuGrads<double>& g) {
  portable::backward_cpu(x, a1, a2, dy, g);
}
}  // namespace dispa::diff_cpu
