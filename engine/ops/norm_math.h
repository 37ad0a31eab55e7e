// Normalisation math shared by the CPU loops (norm.cpp) and the kernels (norm.cu).
// Row norms normalise each row of x [R, D]: LayerNorm (Ba et al. 2016; PyTorch semantics)
//   mean = sum x / D,  var = sum (x - mean)^2 / D (biased),  xhat = (x - mean) * rstd,
//   rstd = 1 / sqrt(var + eps),  y = xhat * w + b;
// RMSNorm (Zhang & Sennrich 2019) is the uncentred case: mean := 0, var := sum x^2 / D.
// BatchNorm1d does the same per column of x [N, C] over the N rows (torch.nn.BatchNorm1d).
// Backward, with g = dy * w and the sums taken over the normalised set (a row, or a column):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))   (mean(g) := 0 for RMSNorm),
//   dw = sum dy * xhat,  db = sum dy   (over rows for row norms, over N for BatchNorm).
// The mean is computed as shift + sum(x - shift) / D with shift = the first element, so a constant
// row yields exactly its value (xhat = 0, y = b) even in f32; the variance is a second pass around
// that mean (no E[x^2] - E[x]^2 cancellation).
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

template <typename T>
DISPA_HD inline T norm_rstd(T var, T eps) { return math::rsqrt(var + eps); }

template <typename T>
DISPA_HD inline T norm_apply(T x, T mean, T rstd, T w, T b) { return (x - mean) * rstd * w + b; }

template <typename T>
DISPA_HD inline T norm_input_grad(T g, T xhat, T mean_g, T mean_g_xhat, T rstd) {
  return rstd * (g - mean_g - xhat * mean_g_xhat);
}

// torch.nn.BatchNorm1d: running = (1 - momentum) * running + momentum * batch statistic, where the
// variance statistic is the unbiased one, var_biased * n / (n - 1).
template <typename T>
DISPA_HD inline T running_update(T running, T batch, T momentum) { return (T(1) - momentum) * running + momentum * batch; }
template <typename T>
DISPA_HD inline T unbiased_var(T biased_var, int64_t n) { return biased_var * T(n) / T(n - 1); }

// Row-norm parameter gradients on CUDA: rows are cut into `chunks` groups, each writing partial dw
// and db rows [chunks, D] into the workspace; a second kernel sums the chunks in a fixed order.
inline int64_t row_norm_param_chunks(int64_t rows, int64_t D) {
  const int64_t column_blocks = (D + 31) / 32;
  int64_t chunks = (rows + 255) / 256;                 // >= 256 rows per chunk: enough work per block
  const int64_t cap = 1024 / column_blocks;            // about 1024 blocks in all
  if (chunks > cap) chunks = cap;
  return chunks < 1 ? 1 : chunks;
}
inline int64_t row_norm_workspace_size(int64_t rows, int64_t D) { return 2 * row_norm_param_chunks(rows, D) * D; }

namespace cuda {
// f32 only; all buffers contiguous. Row norms: x [rows, D]; w, b [D] or nullptr (no affine term);
// centered = true: LayerNorm (writes mean and rstd [rows]); false: RMSNorm (mean unused, may be null).
void row_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                      int64_t rows, int64_t D, float eps, bool centered);
// Writes dx; and dw, db [D] when non-null (db only makes sense when centered), through workspace
// of row_norm_workspace_size(rows, D) floats. All outputs are written (=), not accumulated.
void row_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                       float* dx, float* dw, float* db, int64_t rows, int64_t D, bool centered, float* workspace);
// BatchNorm1d on x [N, C]: writes y and the statistics used (mean, rstd [C]); in training also
// updates running_mean/var in place when non-null; in eval reads them instead.
void batch_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                        float* running_mean, float* running_var, int64_t N, int64_t C, bool training,
                        float momentum, float eps);
// Writes dx and, when non-null, dw and db [C].
void batch_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dw, float* db, int64_t N, int64_t C, bool training);
}  // namespace cuda

}  // namespace dispa
