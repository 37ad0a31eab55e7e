// Reductions over one axis, seen as x [outer, n, inner] -> out [outer, inner] (sum over n), and
// their backward (broadcast dy back over n). The per-element math is trivial; what is shared here
// is the shape split and the workspace rule of the CUDA path. Raw CUDA entry points (f32 only):
// pointers and sizes, no Tensor, no fmt (nvcc reads this header).
#pragma once
#include <cstdint>

namespace dispa {

// x viewed as [outer, n, inner] around the reduced axis.
struct ReduceSplit {
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
};

// Long rows with few of them (sum_all, or [2, 1e6] over the last axis) are split into chunks
// reduced by whole blocks into a workspace of [outer, chunks] partial sums, then summed in a second
// pass; everything else is reduced in one pass. Chunk sums are added in a fixed order, so the CUDA
// result is deterministic.
constexpr int64_t kReduceChunk = 8192;       // elements per partial sum
constexpr int64_t kReduceMaxChunks = 1024;
constexpr int64_t kReduceSplitMinRow = 4096; // shorter rows: one warp per row, no workspace
inline int64_t reduce_chunks(const ReduceSplit& s) {
  if (s.inner != 1 || s.n < kReduceSplitMinRow || s.outer >= 1024) return 1;
  int64_t chunks = (s.n + kReduceChunk - 1) / kReduceChunk;
  return chunks < 2 ? 2 : (chunks > kReduceMaxChunks ? kReduceMaxChunks : chunks);
}
// Elements of workspace the CUDA forward needs (0: none).
inline int64_t reduce_workspace_size(const ReduceSplit& s) {
  const int64_t chunks = reduce_chunks(s);
  return chunks > 1 ? s.outer * chunks : 0;
}

namespace cuda {
// out[o, i] = scale * sum_j x[o, j, i]; scale = 1 (sum) or 1/n (mean). workspace: see above.
void sum_axis_forward(const float* x, float* out, const ReduceSplit& split, float scale, float* workspace);
// dx[o, j, i] = scale * dy[o, i] (written, not accumulated).
void sum_axis_backward(const float* dy, float* dx, const ReduceSplit& split, float scale);
}  // namespace cuda

}  // namespace dispa
