// CUDA kernels of the fused differential cross-attention (math and layout: diff_attention_math.h,
// shared with the CPU loops in diff_attention.cpp).
//
// Forward, diff_attention_forward_kernel: one warp per (b, h, query row i); warps stride over the
// B·H·Lq rows. Lanes stride over keys for both score rows (each lane a full D-long dot product)
// and both masked softmaxes (warp-shuffle max and sum), writing scores, then exponentials, then
// p1, p2 and A = p1 − λp2 in place into the saved maps. Then lane l owns output columns
// l, l+32, ... (at most 8, hence 2D ≤ 256) for AV and the RMSNorm.
// Backward, two kernels and no atomics on dq, dk, dv:
//  diff_attention_backward_rows_kernel: one warp per query row again; recomputes A, o and r from
//    p1, p2 and V, writes do (scratch, q's layout), ds1/ds2 (scratch, the maps' layout) and dq
//    (the row owns it: plain stores). dλ and dweight are summed per block in shared memory, then
//    one global atomicAdd per block and element (the grid is capped at kMaxRowBlocks for that).
//  diff_attention_backward_keys_kernel: one warp per (b, h, key j); lanes own columns and loop
//    over the query rows: dV_j = Σ_i A_ij do_i, dK_j = Σ_i ds_ij Q_i / sqrt(D). Each warp writes
//    only its own columns, so dk and dv are deterministic.
// Precision: fp32 storage and fp32 accumulation; each softmax subtracts its row max (over valid
// keys) before exp; a fully masked row gives zeros. Limits: 2D ≤ 256; Lq and Lk unbounded (lanes
// and warps stride), 64-bit indices. The order of the dλ/dweight atomics is not fixed, so those
// match the CPU to rounding, not bit for bit.
#include <cmath>

#include "engine/cuda/check.h"
#include "model/diff_attention_math.h"

namespace dispa::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / kWarp;
constexpr int kColsPerLane = kDiffAttentionMaxCols / kWarp;
constexpr int kMaxBlocks = 65535 * 16;
constexpr int kMaxRowBlocks = 1024;  // bounds the global atomics of dλ/dweight to 1024·(1 + 2D)

__device__ inline float warp_sum(float x) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}
__device__ inline float warp_max(float x) {  // NaN-propagating, as softmax_row_max
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset >>= 1)
    x = max_propagate_nan(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}
__device__ inline float dot(const float* a, const float* b, int n) {
  float s = 0.f;
  for (int d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

// Global warp index and warp count for a grid-stride loop over warp-sized work items.
struct WarpGrid {
  int64_t warp;
  int64_t count;
  int lane;
  __device__ WarpGrid()
      : warp((int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp),
        count(int64_t(gridDim.x) * blockDim.x / kWarp),
        lane(int(threadIdx.x % kWarp)) {}
};

__global__ void __launch_bounds__(kThreads)
diff_attention_forward_kernel(DiffAttentionDims dm, const float* __restrict__ q, const float* __restrict__ k,
                              const float* __restrict__ v, const float* __restrict__ key_mask,
                              const float* __restrict__ lambda_ptr, const float* __restrict__ weight,
                              float out_scale, float eps, float* a1, float* a2, float* attn, float* y) {
  const WarpGrid wg;
  const int lane = wg.lane;
  const int d_half = dm.head_dim, n = dm.cols();
  const float scale = math::rsqrt(float(d_half));
  const float lambda = *lambda_ptr;
  const int64_t rows = dm.batch * dm.heads * dm.lq;
  for (int64_t row = wg.warp; row < rows; row += wg.count) {
    const int64_t i = row % dm.lq;
    const int h = int((row / dm.lq) % dm.heads);
    const int64_t b = row / (dm.lq * dm.heads);
    const float* q1 = q + dm.q_at(b, i, h);
    const float* q2 = q1 + d_half;
    const float* mask = key_mask ? key_mask + b * dm.lk : nullptr;
    const int64_t m0 = dm.map_at(b, h, i);

    float max1 = -INFINITY, max2 = -INFINITY;
    for (int64_t j = lane; j < dm.lk; j += kWarp) {
      const float* k1 = k + dm.kv_at(b, j, h);
      const float s1 = scale * dot(q1, k1, d_half);
      const float s2 = scale * dot(q2, k1 + d_half, d_half);
      a1[m0 + j] = s1;
      a2[m0 + j] = s2;
      if (!mask || mask[j] != 0.f) {
        max1 = softmax_row_max(max1, s1);
        max2 = softmax_row_max(max2, s2);
      }
    }
    max1 = warp_max(max1);
    max2 = warp_max(max2);
    float sum1 = 0.f, sum2 = 0.f;
    for (int64_t j = lane; j < dm.lk; j += kWarp) {  // each lane rereads only what it wrote
      const bool valid = !mask || mask[j] != 0.f;
      const float e1 = masked_exp(a1[m0 + j], max1, valid);
      const float e2 = masked_exp(a2[m0 + j], max2, valid);
      a1[m0 + j] = e1;
      a2[m0 + j] = e2;
      sum1 += e1;
      sum2 += e2;
    }
    const float inv1 = softmax_inv_sum(warp_sum(sum1));
    const float inv2 = softmax_inv_sum(warp_sum(sum2));
    for (int64_t j = lane; j < dm.lk; j += kWarp) {
      const float p1 = a1[m0 + j] * inv1;
      const float p2 = a2[m0 + j] * inv2;
      a1[m0 + j] = p1;
      a2[m0 + j] = p2;
      attn[m0 + j] = diff_combine(p1, p2, lambda);
    }
    __syncwarp();  // the AV loop reads A entries written by other lanes

    float o[kColsPerLane];
    float sum_squares = 0.f;
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + t * kWarp;
      o[t] = 0.f;
      if (c < n) {
        for (int64_t j = 0; j < dm.lk; ++j) o[t] += attn[m0 + j] * v[dm.kv_at(b, j, h) + c];
        sum_squares += o[t] * o[t];
      }
    }
    const float rstd = rms_rstd(warp_sum(sum_squares), n, eps);
    float* yr = y + dm.q_at(b, i, h);
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + t * kWarp;
      if (c < n) yr[c] = diff_attention_out(o[t], rstd, weight[c], out_scale);
    }
  }
}

__global__ void __launch_bounds__(kThreads)
diff_attention_backward_rows_kernel(DiffAttentionDims dm, const float* __restrict__ k, const float* __restrict__ v,
                                    const float* __restrict__ lambda_ptr, const float* __restrict__ weight,
                                    float out_scale, float eps, const float* __restrict__ a1,
                                    const float* __restrict__ a2, const float* __restrict__ dy,
                                    float* __restrict__ dq, float* dlambda, float* dweight, float* d_o, float* ds1,
                                    float* ds2) {
  __shared__ float block_dweight[kDiffAttentionMaxCols];
  __shared__ float block_dlambda;
  for (int c = threadIdx.x; c < kDiffAttentionMaxCols; c += blockDim.x) block_dweight[c] = 0.f;
  if (threadIdx.x == 0) block_dlambda = 0.f;
  __syncthreads();

  const WarpGrid wg;
  const int lane = wg.lane;
  const int d_half = dm.head_dim, n = dm.cols();
  const float scale = math::rsqrt(float(d_half));
  const float lambda = *lambda_ptr;
  const int64_t rows = dm.batch * dm.heads * dm.lq;
  for (int64_t row = wg.warp; row < rows; row += wg.count) {
    const int64_t i = row % dm.lq;
    const int h = int((row / dm.lq) % dm.heads);
    const int64_t b = row / (dm.lq * dm.heads);
    const int64_t m0 = dm.map_at(b, h, i);
    const int64_t qa = dm.q_at(b, i, h);

    // Recompute o and r exactly as the forward did.
    float o[kColsPerLane], g[kColsPerLane];
    float sum_squares = 0.f;
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + t * kWarp;
      o[t] = 0.f;
      if (c < n) {
        for (int64_t j = 0; j < dm.lk; ++j)
          o[t] += diff_combine(a1[m0 + j], a2[m0 + j], lambda) * v[dm.kv_at(b, j, h) + c];
        sum_squares += o[t] * o[t];
      }
    }
    const float rstd = rms_rstd(warp_sum(sum_squares), n, eps);
    float g_dot_o = 0.f;
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + t * kWarp;
      g[t] = c < n ? dy[qa + c] * weight[c] * out_scale : 0.f;
      g_dot_o += g[t] * o[t];
    }
    g_dot_o = warp_sum(g_dot_o);
#pragma unroll
    for (int t = 0; t < kColsPerLane; ++t) {
      const int c = lane + t * kWarp;
      if (c < n) {
        d_o[qa + c] = rms_input_grad(g[t], o[t], rstd, g_dot_o, n);
        atomicAdd(&block_dweight[c], dy[qa + c] * o[t] * rstd * out_scale);
      }
    }
    __syncwarp();  // every lane reads the whole do row below

    float pd1 = 0.f, pd2 = 0.f, dl = 0.f;
    for (int64_t j = lane; j < dm.lk; j += kWarp) {
      const float da = dot(d_o + qa, v + dm.kv_at(b, j, h), n);
      const float p1 = a1[m0 + j], p2 = a2[m0 + j];
      ds1[m0 + j] = da;  // da parked here until the row sums are known
      pd1 += p1 * da;
      pd2 += p2 * (-lambda * da);
      dl -= p2 * da;
    }
    pd1 = warp_sum(pd1);
    pd2 = warp_sum(pd2);
    dl = warp_sum(dl);
    for (int64_t j = lane; j < dm.lk; j += kWarp) {
      const float da = ds1[m0 + j];
      ds2[m0 + j] = softmax_input_grad(a2[m0 + j], -lambda * da, pd2);
      ds1[m0 + j] = softmax_input_grad(a1[m0 + j], da, pd1);
    }
    __syncwarp();  // dq reads every key's ds

    for (int c = lane; c < n; c += kWarp) {
      const float* ds = c < d_half ? ds1 : ds2;
      float acc = 0.f;
      for (int64_t j = 0; j < dm.lk; ++j) acc += ds[m0 + j] * k[dm.kv_at(b, j, h) + c];
      dq[qa + c] = acc * scale;
    }
    if (lane == 0) atomicAdd(&block_dlambda, dl);
  }
  __syncthreads();
  for (int c = threadIdx.x; c < n; c += blockDim.x) atomicAdd(dweight + c, block_dweight[c]);
  if (threadIdx.x == 0) atomicAdd(dlambda, block_dlambda);
}

__global__ void __launch_bounds__(kThreads)
diff_attention_backward_keys_kernel(DiffAttentionDims dm, const float* __restrict__ q,
                                    const float* __restrict__ lambda_ptr, const float* __restrict__ a1,
                                    const float* __restrict__ a2, const float* __restrict__ d_o,
                                    const float* __restrict__ ds1, const float* __restrict__ ds2,
                                    float* __restrict__ dk, float* __restrict__ dv) {
  const WarpGrid wg;
  const int d_half = dm.head_dim, n = dm.cols();
  const float scale = math::rsqrt(float(d_half));
  const float lambda = *lambda_ptr;
  const int64_t keys = dm.batch * dm.heads * dm.lk;
  for (int64_t key = wg.warp; key < keys; key += wg.count) {
    const int64_t j = key % dm.lk;
    const int h = int((key / dm.lk) % dm.heads);
    const int64_t b = key / (dm.lk * dm.heads);
    const int64_t kv = dm.kv_at(b, j, h);
    for (int c = wg.lane; c < n; c += kWarp) {
      const float* ds = c < d_half ? ds1 : ds2;
      float acc_v = 0.f, acc_k = 0.f;
      for (int64_t i = 0; i < dm.lq; ++i) {
        const int64_t m = dm.map_at(b, h, i) + j;
        const int64_t qa = dm.q_at(b, i, h) + c;
        acc_v += diff_combine(a1[m], a2[m], lambda) * d_o[qa];
        acc_k += ds[m] * q[qa];
      }
      dv[kv + c] = acc_v;
      dk[kv + c] = acc_k * scale;
    }
  }
}

int blocks_for_warps(int64_t warps, int cap) {
  int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks < 1) blocks = 1;
  return static_cast<int>(blocks > cap ? cap : blocks);
}

}  // namespace

void diff_attention_forward(const DiffAttentionDims& dims, const float* q, const float* k, const float* v,
                            const float* key_mask, const float* lambda, const float* weight, float out_scale,
                            float eps, float* a1, float* a2, float* attn, float* y) {
  const int64_t rows = dims.batch * dims.heads * dims.lq;
  if (rows == 0 || dims.lk == 0) return;
  diff_attention_forward_kernel<<<blocks_for_warps(rows, kMaxBlocks), kThreads, 0, current_stream()>>>(
      dims, q, k, v, key_mask, lambda, weight, out_scale, eps, a1, a2, attn, y);
  DISPA_CUDA_CHECK_LAUNCH("diff_attention_forward_kernel");
}

void diff_attention_backward(const DiffAttentionDims& dims, const float* q, const float* k, const float* v,
                             const float* lambda, const float* weight, float out_scale, float eps,
                             const float* a1, const float* a2, const float* dy, float* dq, float* dk, float* dv,
                             float* dlambda, float* dweight, float* d_o, float* ds1, float* ds2, bool need_dkv) {
  const int64_t rows = dims.batch * dims.heads * dims.lq;
  if (rows == 0 || dims.lk == 0) return;
  diff_attention_backward_rows_kernel<<<blocks_for_warps(rows, kMaxRowBlocks), kThreads, 0, current_stream()>>>(
      dims, k, v, lambda, weight, out_scale, eps, a1, a2, dy, dq, dlambda, dweight, d_o, ds1, ds2);
  DISPA_CUDA_CHECK_LAUNCH("diff_attention_backward_rows_kernel");
  if (!need_dkv) return;
  const int64_t keys = dims.batch * dims.heads * dims.lk;
  diff_attention_backward_keys_kernel<<<blocks_for_warps(keys, kMaxBlocks), kThreads, 0, current_stream()>>>(
      dims, q, lambda, a1, a2, d_o, ds1, ds2, dk, dv);
  DISPA_CUDA_CHECK_LAUNCH("diff_attention_backward_keys_kernel");
}

}  // namespace dispa::cuda
