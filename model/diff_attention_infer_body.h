// The loops of the inference-form differential attention (diff_attention_infer_kernels.h), written
// once with GCC/Clang vector extensions and included by one translation unit per instruction-set
// level, which first defines
//   DISPA_INFER_LEVEL        the level's namespace (portable, avx2, avx512)
//   DISPA_INFER_KEY_CHUNK    keys whose scores are accumulated at once (that many vectors + 1 live)
//   DISPA_INFER_VALUE_CHUNK  value columns accumulated at once in A·V (that many vectors + 1 live)
// A vector holds 16 floats at every level (one zmm, two ymm or four xmm registers), so the
// chunks shrink with the register file. No include guard: one inclusion per translation unit.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#include "model/diff_attention_infer_kernels.h"

// Every function here is inline and stays inside its translation unit, so passing 64-byte vectors
// by value at a level without zmm registers never meets another ABI.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dispa::infer::DISPA_INFER_LEVEL {

constexpr int kKeyChunk = DISPA_INFER_KEY_CHUNK;
constexpr int kValueChunk = DISPA_INFER_VALUE_CHUNK;

using Lanes = float __attribute__((vector_size(64)));     // 16 floats
using LaneMask = int32_t __attribute__((vector_size(64)));  // comparison results: -1 or 0 per lane
static_assert(sizeof(Lanes) == kLanes * sizeof(float));

inline Lanes splat(float x) { return Lanes{} + x; }
inline Lanes load(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Lanes v) { std::memcpy(p, &v, sizeof v); }

inline Lanes sqrt_lanes(Lanes x) {
#if defined(__AVX512F__)
  return _mm512_maskz_sqrt_ps(__mmask16(0xFFFF), x);  // maskz: _mm512_sqrt_ps trips -Wmaybe-uninitialized
#elif defined(__AVX__)
  using Half = float __attribute__((vector_size(32)));
  Half lo, hi;
  std::memcpy(&lo, &x, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&x) + sizeof lo, sizeof hi);
  lo = _mm256_sqrt_ps(lo);
  hi = _mm256_sqrt_ps(hi);
  Lanes r;
  std::memcpy(&r, &lo, sizeof lo);
  std::memcpy(reinterpret_cast<char*>(&r) + sizeof lo, &hi, sizeof hi);
  return r;
#else
  Lanes r;
  for (int l = 0; l < kLanes; ++l) r[l] = std::sqrt(x[l]);
  return r;
#endif
}

// exp(x) per lane for the softmax's x = score − row maximum ≤ 0 (correct up to x ≈ 88 as well).
// Lanes below −87.3, where expf is subnormal or 0, give 0; NaN stays NaN. The Cephes expf scheme:
// n = round(x·log2 e) (by the 1.5·2^23 rounding constant), r = x − n·ln 2 in two parts so r is
// exact, exp(r) by a degree-7 polynomial, times 2^n assembled in the exponent bits. Within 2 ulp
// of expf on [−87.3, 0] (tests compare against the scalar path).
inline Lanes exp_lanes(Lanes x) {
  const Lanes lowest = splat(-87.3f);
  const LaneMask underflow = x < lowest;
  x = underflow ? lowest : x;
  const Lanes round = splat(12582912.0f);  // 1.5·2^23: adding it rounds to an integer
  const Lanes n = (x * 1.44269504088896341f + round) - round;
  Lanes r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  Lanes p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const LaneMask exponent = (__builtin_convertvector(n, LaneMask) + 127) << 23;
  const Lanes result = p * std::bit_cast<Lanes>(exponent);
  return underflow ? splat(0.0f) : result;
}

// NaN-propagating maximum per lane (a NaN score makes its row NaN, as the reference).
inline Lanes max_lanes(Lanes m, Lanes x) { return ((x > m) | (x != x)) ? x : m; }

inline float sum_of_lanes(Lanes v) {
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

// ---- queries in the lanes ---------------------------------------------------------------------

struct QueryScratch {
  std::vector<int32_t> keys;   // valid keys of the pair, in order
  std::vector<Lanes> p, a, o;  // [valid keys], [valid keys], [2D]
  std::vector<Lanes> pool;     // [2D]
};

// p[jj] = softmax over the valid keys of one half's scores for 16 query rows. qt: that half's D
// rows of the transposed queries (row stride lqp); kh: the pair's head columns of key row 0 (row
// stride W), offset to the half.
inline void softmax_queries(const float* qt, int64_t lqp, const float* kh, int64_t W, int D, const int32_t* keys,
                            int nk, float scale, Lanes* p) {
  int jj = 0;
  for (; jj + kKeyChunk <= nk; jj += kKeyChunk) {
    const float* kj[kKeyChunk];
    Lanes acc[kKeyChunk];
#pragma GCC unroll 16
    for (int u = 0; u < kKeyChunk; ++u) {
      kj[u] = kh + keys[jj + u] * W;
      acc[u] = Lanes{};
    }
    for (int d = 0; d < D; ++d) {
      const Lanes qd = load(qt + d * lqp);
#pragma GCC unroll 16
      for (int u = 0; u < kKeyChunk; ++u) acc[u] += qd * kj[u][d];
    }
#pragma GCC unroll 16
    for (int u = 0; u < kKeyChunk; ++u) p[jj + u] = acc[u] * scale;
  }
  for (; jj < nk; ++jj) {
    const float* kj = kh + keys[jj] * W;
    Lanes acc{};
    for (int d = 0; d < D; ++d) acc += load(qt + d * lqp) * kj[d];
    p[jj] = acc * scale;
  }
  Lanes m = splat(-std::numeric_limits<float>::infinity());
  for (jj = 0; jj < nk; ++jj) m = max_lanes(m, p[jj]);
  Lanes sum{};
  for (jj = 0; jj < nk; ++jj) {
    p[jj] = exp_lanes(p[jj] - m);
    sum += p[jj];
  }
  const Lanes inv = sum == 0.0f ? splat(0.0f) : 1.0f / sum;
  for (jj = 0; jj < nk; ++jj) p[jj] *= inv;
}

// o[c] = Σ_jj a[jj]·V[key jj][c] for c < n, 16 query rows per vector.
inline void values_queries(const Lanes* a, const float* vh, int64_t W, const int32_t* keys, int nk, int n, Lanes* o) {
  int c0 = 0;
  for (; c0 + kValueChunk <= n; c0 += kValueChunk) {
    Lanes acc[kValueChunk];
#pragma GCC unroll 16
    for (int u = 0; u < kValueChunk; ++u) acc[u] = Lanes{};
    for (int jj = 0; jj < nk; ++jj) {
      const float* vj = vh + keys[jj] * W + c0;
      const Lanes aj = a[jj];
#pragma GCC unroll 16
      for (int u = 0; u < kValueChunk; ++u) acc[u] += aj * vj[u];
    }
#pragma GCC unroll 16
    for (int u = 0; u < kValueChunk; ++u) o[c0 + u] = acc[u];
  }
  for (; c0 < n; ++c0) {
    Lanes acc{};
    for (int jj = 0; jj < nk; ++jj) acc += a[jj] * vh[keys[jj] * W + c0];
    o[c0] = acc;
  }
}

// Output row b, head h, all query rows 16 at a time; a.transposed holds q transposed per row.
inline void queries_pair(const Args& a, int64_t b, int h, QueryScratch& s) {
  const DiffAttentionDims& dm = a.dims;
  const int D = dm.head_dim, n = dm.cols();
  const int64_t W = dm.width(), lq = dm.lq, lk = dm.lk, lqp = padded_rows(lq);
  const int64_t qr = a.q_rows ? a.q_rows[b] : b, kr = a.kv_rows ? a.kv_rows[b] : b;
  const float* qt = a.transposed + (qr * W + int64_t(h) * n) * lqp;  // [2D][lqp]
  const float* kh = a.k + kr * lk * W + int64_t(h) * n;
  const float* vh = a.v + kr * lk * W + int64_t(h) * n;
  const float* mask = a.mask ? a.mask + b * lk : nullptr;
  s.keys.clear();
  for (int64_t j = 0; j < lk; ++j)
    if (!mask || mask[j] != 0.0f) s.keys.push_back(int32_t(j));
  const int nk = int(s.keys.size());
  const float scale = math::rsqrt(float(D));
  if (a.pool_queries) std::fill(s.pool.begin(), s.pool.end(), Lanes{});
  for (int64_t i0 = 0; i0 < lq; i0 += kLanes) {
    softmax_queries(qt + i0, lqp, kh, W, D, s.keys.data(), nk, scale, s.a.data());
    softmax_queries(qt + D * lqp + i0, lqp, kh + D, W, D, s.keys.data(), nk, scale, s.p.data());
    for (int jj = 0; jj < nk; ++jj) s.a[size_t(jj)] = s.a[size_t(jj)] - a.lambda * s.p[size_t(jj)];
    values_queries(s.a.data(), vh, W, s.keys.data(), nk, n, s.o.data());
    Lanes squares{};
    for (int c = 0; c < n; ++c) squares += s.o[size_t(c)] * s.o[size_t(c)];
    Lanes rstd = 1.0f / sqrt_lanes(squares / float(n) + a.eps);
    const int rows = int(std::min<int64_t>(kLanes, lq - i0));
    if (a.pool_queries) {
      for (int l = rows; l < kLanes; ++l) rstd[l] = 0.0f;  // padding rows are not queries
      for (int c = 0; c < n; ++c) s.pool[size_t(c)] += s.o[size_t(c)] * rstd;
    } else {
      for (int l = 0; l < rows; ++l) {
        float* yr = a.y + (b * lq + i0 + l) * W + int64_t(h) * n;
        for (int c = 0; c < n; ++c) yr[c] = diff_attention_out(s.o[size_t(c)][l], rstd[l], a.weight[c], a.out_scale);
      }
    }
  }
  if (a.pool_queries) {
    float* yr = a.y + b * W + int64_t(h) * n;
    for (int c = 0; c < n; ++c) yr[c] = sum_of_lanes(s.pool[size_t(c)]) * a.weight[c] * a.out_scale / float(lq);
  }
}

// ---- keys in the lanes ------------------------------------------------------------------------

struct KeyScratch {
  std::vector<LaneMask> valid;  // [key blocks]
  std::vector<Lanes> s1, s2;    // [key blocks]
  std::vector<float> a, o;      // [padded Lk], [2D]
  std::vector<float> o_pool;    // [2D]: Σ over query rows of o·rstd (pooled output)
};

// s[kb] = scale·q·K_j for 16 keys per vector; kt: the half's D rows of the transposed keys.
inline void scores_keys(const float* q, const float* kt, int64_t lkp, int D, float scale, Lanes* s) {
  for (int64_t kb = 0; kb < lkp / kLanes; ++kb) {
    Lanes acc{};
    for (int d = 0; d < D; ++d) acc += q[d] * load(kt + d * lkp + kb * kLanes);
    s[kb] = acc * scale;
  }
}

// Softmax over the valid lanes of s (in place); invalid lanes become 0 and are never read as scores.
inline void softmax_keys(Lanes* s, const LaneMask* valid, int64_t blocks) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t kb = 0; kb < blocks; ++kb)
    for (int l = 0; l < kLanes; ++l)
      if (valid[kb][l]) m = max_propagate_nan(m, s[kb][l]);
  Lanes sum{};
  for (int64_t kb = 0; kb < blocks; ++kb) {
    s[kb] = valid[kb] ? exp_lanes(s[kb] - m) : splat(0.0f);
    sum += s[kb];
  }
  const float total = sum_of_lanes(sum);
  const float inv = softmax_inv_sum(total);
  for (int64_t kb = 0; kb < blocks; ++kb) s[kb] *= inv;
}

inline void keys_pair(const Args& a, int64_t b, int h, KeyScratch& s) {
  const DiffAttentionDims& dm = a.dims;
  const int D = dm.head_dim, n = dm.cols();
  const int64_t W = dm.width(), lq = dm.lq, lk = dm.lk, lkp = padded_rows(lk), blocks = lkp / kLanes;
  const int64_t qr = a.q_rows ? a.q_rows[b] : b, kr = a.kv_rows ? a.kv_rows[b] : b;
  const float* kt = a.transposed + (kr * W + int64_t(h) * n) * lkp;  // [2D][lkp]
  const float* vh = a.v + kr * lk * W + int64_t(h) * n;
  const float* mask = a.mask ? a.mask + b * lk : nullptr;
  for (int64_t kb = 0; kb < blocks; ++kb)
    for (int l = 0; l < kLanes; ++l) {
      const int64_t j = kb * kLanes + l;
      s.valid[size_t(kb)][l] = j < lk && (!mask || mask[j] != 0.0f) ? -1 : 0;
    }
  const float scale = math::rsqrt(float(D));
  if (a.pool_queries) std::fill(s.o_pool.begin(), s.o_pool.end(), 0.0f);
  for (int64_t i = 0; i < lq; ++i) {
    const float* q1 = a.q + (qr * lq + i) * W + int64_t(h) * n;
    scores_keys(q1, kt, lkp, D, scale, s.s1.data());
    scores_keys(q1 + D, kt + D * lkp, lkp, D, scale, s.s2.data());
    softmax_keys(s.s1.data(), s.valid.data(), blocks);
    softmax_keys(s.s2.data(), s.valid.data(), blocks);
    for (int64_t kb = 0; kb < blocks; ++kb) store(s.a.data() + kb * kLanes, s.s1[size_t(kb)] - a.lambda * s.s2[size_t(kb)]);
    float* o = s.o.data();
    std::fill(o, o + n, 0.0f);
    for (int64_t j = 0; j < lk; ++j) {
      if (mask && mask[j] == 0.0f) continue;
      const float aj = s.a[size_t(j)];
      const float* vj = vh + j * W;
#pragma omp simd
      for (int c = 0; c < n; ++c) o[c] += aj * vj[c];
    }
    float squares = 0;
    for (int c = 0; c < n; ++c) squares += o[c] * o[c];
    const float rstd = rms_rstd(squares, n, a.eps);
    if (a.pool_queries) {
      for (int c = 0; c < n; ++c) s.o_pool[size_t(c)] += o[c] * rstd;
    } else {
      float* yr = a.y + (b * lq + i) * W + int64_t(h) * n;
      for (int c = 0; c < n; ++c) yr[c] = diff_attention_out(o[c], rstd, a.weight[c], a.out_scale);
    }
  }
  if (a.pool_queries) {
    float* yr = a.y + b * W + int64_t(h) * n;
    for (int c = 0; c < n; ++c) yr[c] = s.o_pool[size_t(c)] * a.weight[c] * a.out_scale / float(lq);
  }
}

// ---- entry ------------------------------------------------------------------------------------

// transposed[r][c][i] = src[r][i][c] for i < L, zero up to padded_rows(L).
inline void transpose_rows(const float* src, int64_t rows, int64_t L, int64_t W, float* dst) {
  const int64_t lp = padded_rows(L);
#pragma omp parallel for schedule(static) if (rows * L * W > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    float* out = dst + r * W * lp;
    const float* in = src + r * L * W;
    // 16 x 16 tiles: each tile reads 16 input rows and writes 16 output rows of one vector each.
    for (int64_t i0 = 0; i0 < lp; i0 += kLanes)
      for (int64_t c0 = 0; c0 < W; c0 += kLanes) {
        const int64_t c1 = std::min(W, c0 + kLanes);
        float tile[kLanes][kLanes] = {};  // [c][i]; rows past L stay zero (padding)
        for (int64_t i = i0; i < std::min(L, i0 + kLanes); ++i)
          for (int64_t c = c0; c < c1; ++c) tile[c - c0][i - i0] = in[i * W + c];
        for (int64_t c = c0; c < c1; ++c) std::memcpy(out + c * lp + i0, tile[c - c0], sizeof tile[0]);
      }
  }
}

inline void run_level(const Args& a, bool queries_in_lanes) {
  const DiffAttentionDims& dm = a.dims;
  const int n = dm.cols();
  transpose_rows(queries_in_lanes ? a.q : a.k, a.transposed_rows, queries_in_lanes ? dm.lq : dm.lk, dm.width(),
                 a.transposed);
  const int64_t items = dm.batch * dm.heads;
#pragma omp parallel
  {
    if (queries_in_lanes) {
      QueryScratch s;
      s.keys.reserve(size_t(dm.lk));
      s.p.resize(size_t(dm.lk));
      s.a.resize(size_t(dm.lk));
      s.o.resize(size_t(n));
      s.pool.resize(size_t(n));
#pragma omp for schedule(static)
      for (int64_t bh = 0; bh < items; ++bh) queries_pair(a, bh / dm.heads, int(bh % dm.heads), s);
    } else {
      KeyScratch s;
      const size_t blocks = size_t(padded_rows(dm.lk) / kLanes);
      s.valid.resize(blocks);
      s.s1.resize(blocks);
      s.s2.resize(blocks);
      s.a.resize(blocks * kLanes);
      s.o.resize(size_t(n));
      s.o_pool.resize(size_t(n));
#pragma omp for schedule(static)
      for (int64_t bh = 0; bh < items; ++bh) keys_pair(a, bh / dm.heads, int(bh % dm.heads), s);
    }
  }
}

}  // namespace dispa::infer::DISPA_INFER_LEVEL
