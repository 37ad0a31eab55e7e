// Inverted dropout: checks, tape record and the CPU loop. The mask is never stored: forward and
// backward both recompute it from (seed, offset) with the Philox rule of dropout_keep
// (dropout_math.h), which is what makes the CPU and CUDA masks identical and keeps the tape free
// of mask tensors. The CPU loop runs Philox in SIMD lanes at the CPU level cpu_level() picks.
#include "engine/ops/dropout.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/dropout_math.h"

namespace dispa {
namespace {

// ---- CPU mask generation in SIMD lanes ----------------------------------------------------------
// Philox4x32-10 for kLanes consecutive blocks at once, laid out as structure of arrays so each
// round's 32x32->64-bit products map onto vector multiplies (pmuludq, vpmuludq on 4 or 8 lanes)
// instead of one scalar block at a time (a profile of the training step had the scalar loop at
// 14% of the CPU time). The arithmetic is philox4x32_10's, so the mask is bit-identical to
// dropout_keep on every device; tests compare them at every CPU level.
constexpr int kLanes = 16;  // blocks per group: 64 elements

struct PhiloxLanes {
  uint32_t w[4][kLanes];
};

[[gnu::always_inline]] inline void philox_lanes(uint64_t counter, uint64_t seed, PhiloxLanes& out) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    const uint64_t c = counter + uint64_t(j);
    c0[j] = uint32_t(c);
    c1[j] = uint32_t(c >> 32);
    c2[j] = 0;
    c3[j] = 0;
  }
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int j = 0; j < kLanes; ++j) {
      const uint64_t p0 = uint64_t(kM0) * c0[j], p1 = uint64_t(kM1) * c2[j];
      const uint32_t n0 = uint32_t(p1 >> 32) ^ c1[j] ^ k0, n2 = uint32_t(p0 >> 32) ^ c3[j] ^ k1;
      c1[j] = uint32_t(p1);
      c3[j] = uint32_t(p0);
      c0[j] = n0;
      c2[j] = n2;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int j = 0; j < kLanes; ++j) {
    out.w[0][j] = c0[j];
    out.w[1][j] = c1[j];
    out.w[2][j] = c2[j];
    out.w[3][j] = c3[j];
  }
}

// y[i] = dropout_apply(x[i], keep(i), s) for the elements of blocks [b0, b1) (b1 - b0 a multiple
// of kLanes, all 4 * b1 elements inside the tensor); element i uses word i % 4 of block i / 4.
template <typename T>
[[gnu::always_inline]] inline void masked_scale_groups(const T* x, T* y, int64_t b0, int64_t b1, float p, T s,
                                                       uint64_t seed, uint64_t offset) {
  PhiloxLanes words;
  for (int64_t b = b0; b < b1; b += kLanes) {
    philox_lanes(offset + uint64_t(b), seed, words);
    const T* xb = x + 4 * b;
    T* yb = y + 4 * b;
    for (int j = 0; j < kLanes; ++j)
      for (int w = 0; w < 4; ++w)
        yb[4 * j + w] = dropout_apply(xb[4 * j + w], philox_uniform_from_word(words.w[w][j], 0.0f, 1.0f) >= p, s);
  }
}

template <typename T>
void masked_scale_groups_portable(const T* x, T* y, int64_t b0, int64_t b1, float p, T s, uint64_t seed,
                                  uint64_t offset) {
  masked_scale_groups(x, y, b0, b1, p, s, seed, offset);
}

#if defined(__x86_64__)
// AVX-512: 16 blocks in the 32-bit lanes of a zmm register. GCC does not vectorise the portable
// loop's 32x32->64-bit products well (as fast as scalar at AVX2, slower at AVX-512: measured), so
// the rounds are written out: vpmuludq multiplies the even lanes, a 32-bit shift brings the odd
// lanes down for a second multiply, and two blends gather the low and high halves.
#define DISPA_TARGET_AVX512 [[gnu::target("avx512f,avx512vl,avx512bw,avx512dq")]]
DISPA_TARGET_AVX512 inline void mulhilo_x16(__m512i a, __m512i m, __m512i& lo, __m512i& hi) {
  // The maskz forms with an all-ones mask (the same result): GCC 12's plain forms trip
  // -Wmaybe-uninitialized on their own _mm512_undefined_epi32() passthrough in a target function.
  constexpr __mmask8 kAll = 0xFF;
  const __m512i even = _mm512_maskz_mul_epu32(kAll, a, m);
  const __m512i odd = _mm512_maskz_mul_epu32(kAll, _mm512_maskz_srli_epi64(kAll, a, 32), m);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_maskz_slli_epi64(kAll, odd, 32));
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_maskz_srli_epi64(kAll, even, 32), odd);
}

template <typename T>
DISPA_TARGET_AVX512 void masked_scale_groups_avx512(const T* x, T* y, int64_t b0, int64_t b1, float p, T s,
                                                    uint64_t seed, uint64_t offset) {
  static_assert(kLanes == 16, "one zmm register of 32-bit lanes");
  const __m512i m0 = _mm512_set1_epi32(int(0xD2511F53u)), m1 = _mm512_set1_epi32(int(0xCD9E8D57u));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  alignas(64) uint32_t words[4][kLanes];
  for (int64_t b = b0; b < b1; b += kLanes) {
    // Counters offset + b + j as 64-bit numbers: low word plus lane, carry into the high word.
    const uint64_t counter = offset + uint64_t(b);
    const __m512i low = _mm512_set1_epi32(int(uint32_t(counter)));
    const __m512i high = _mm512_set1_epi32(int(uint32_t(counter >> 32)));
    __m512i c0 = _mm512_add_epi32(low, iota);
    __m512i c1 = _mm512_mask_add_epi32(high, _mm512_cmplt_epu32_mask(c0, low), high, _mm512_set1_epi32(1));
    __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      __m512i lo0, hi0, lo1, hi1;
      mulhilo_x16(c0, m0, lo0, hi0);
      mulhilo_x16(c2, m1, lo1, hi1);
      c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int(k0)));
      c1 = lo1;
      c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int(k1)));
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    _mm512_store_si512(words[0], c0);
    _mm512_store_si512(words[1], c1);
    _mm512_store_si512(words[2], c2);
    _mm512_store_si512(words[3], c3);
    // Applying the mask in vector form too measured no faster (the loop is then memory-bound).
    const T* xb = x + 4 * b;
    T* yb = y + 4 * b;
    for (int j = 0; j < kLanes; ++j)
      for (int w = 0; w < 4; ++w)
        yb[4 * j + w] = dropout_apply(xb[4 * j + w], philox_uniform_from_word(words[w][j], 0.0f, 1.0f) >= p, s);
  }
}
#undef DISPA_TARGET_AVX512
#endif

template <typename T>
using GroupsFn = void (*)(const T*, T*, int64_t, int64_t, float, T, uint64_t, uint64_t);

template <typename T>
GroupsFn<T> groups_for_level(CpuLevel level) {
#if defined(__x86_64__)
  if (level >= CpuLevel::avx512) return &masked_scale_groups_avx512<T>;
#endif
  (void)level;
  return &masked_scale_groups_portable<T>;  // AVX2 too: the compiler's AVX2 code was no faster
}

// The CPU loop: whole groups of kLanes blocks through the SIMD path (threads split the groups),
// the last partial group element by element with the scalar rule.
template <typename T>
void masked_scale_cpu(const T* x, T* y, int64_t n, float p, T s, uint64_t seed, uint64_t offset) {
  const GroupsFn<T> groups = groups_for_level<T>(cpu_level());
  const int64_t full_groups = n / (4 * kLanes);
  constexpr int64_t kGroupsPerTask = 64;  // 4096 elements
  const int64_t tasks = (full_groups + kGroupsPerTask - 1) / kGroupsPerTask;
#pragma omp parallel for if (n > 65536)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t g0 = t * kGroupsPerTask, g1 = std::min(full_groups, g0 + kGroupsPerTask);
    groups(x, y, g0 * kLanes, g1 * kLanes, p, s, seed, offset);
  }
  for (int64_t i = full_groups * 4 * kLanes; i < n; ++i)
    y[i] = dropout_apply(x[i], dropout_keep(seed, offset, uint64_t(i), p), s);
}

// y = x * mask(seed, offset) * scale, on x's device; no autograd.
Tensor masked_scale(const Tensor& x, float p, double scale, uint64_t seed, uint64_t offset) {
  Tensor y = Tensor::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) return y;
  dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T s = static_cast<T>(scale);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::dropout_masked_scale<T>(xp, yp, n, p, s, seed, offset));
    } else {
      masked_scale_cpu<T>(xp, yp, n, p, s, seed, offset);
    }
  });
  return y;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t offset) {
  detail::check_floating("dropout", x);
  DISPA_CHECK(std::isfinite(p) && p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got {} (input {})", p,
              x.describe());
  if (!training || p == 0.0) return x;  // identity: the same tensor, nothing recorded
  const float p32 = static_cast<float>(p);
  const double scale = 1.0 / (1.0 - p);
  Tensor y = masked_scale(x, p32, scale, seed, offset);
  // Keeps x only to receive the gradient, plus (p, scale, seed, offset) to rebuild the mask.
  record("dropout", {x}, y, [x, p32, scale, seed, offset](const Tensor& dy) {
    x.accumulate_grad(masked_scale(dy, p32, scale, seed, offset));
  });
  return y;
}

}  // namespace dispa
