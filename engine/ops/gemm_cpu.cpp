// CPU GEMM, see gemm_cpu.h for the design and its sources. Loop nest of the f32 path (Goto/BLIS):
//   jc over N by NC:   ic over M by MC (threads take (ic, column group) items):
//     pc over K by KC:   pack A[ic, pc] (thread-local)
//       jr over NC by NR:   B[pc, jr] packed once, by the first thread to need it (shared)
//         ir over MC by MR:   6x16 micro-kernel on a KC-long dot of panels
// beta is applied on the first KC block only; later blocks accumulate into C (beta = 1).
#include "engine/ops/gemm_cpu.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

namespace dispa::cpu {
namespace {

constexpr int64_t kMR = SgemmBlocking::kMR;
constexpr int64_t kNR = SgemmBlocking::kNR;
constexpr int64_t kKC = SgemmBlocking::kKC;
constexpr int64_t kMC = SgemmBlocking::kMC;
constexpr int64_t kNC = SgemmBlocking::kNC;
// Below this many flops a product runs on one thread: an OpenMP fork/join (~5-10 us) would cost
// more than the work it splits.
constexpr double kSerialFlops = 2.0e6;
// Packed B kept per pass (1 Mi floats = 4 MiB, in L3): enough for the whole depth of every model
// shape; deeper products (weight gradients, K = B*P rows) take several passes.
constexpr int64_t kPackedBFloats = int64_t(1) << 20;

static_assert(kMR == 6 && kNR == 16, "the micro-kernel below is written for a 6x16 tile");

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
constexpr int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

int threads_available() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// 64-byte aligned scratch that grows and is kept per thread, so repeated GEMMs (every training
// step) do not allocate. Packed panels are read with aligned loads.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(data_); }
  float* get(int64_t count) {
    if (count > capacity_) {
      std::free(data_);
      const size_t bytes = static_cast<size_t>(round_up(count * int64_t(sizeof(float)), 64));
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (data_ == nullptr) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
      capacity_ = count;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};
float* scratch_for_a(int64_t count) {
  thread_local Scratch s;
  return s.get(count);
}
float* scratch_for_b(int64_t count) {
  thread_local Scratch s;
  return s.get(count);
}

// ---- packing ------------------------------------------------------------------------------------
// Packed A blocks may be written up to this many floats past their end (see pack_a).
constexpr int64_t kPackSlack = 16;

// In-register transpose: afterwards v_j holds element j of each of the eight inputs.
inline void transpose_8x8(__m256& v0, __m256& v1, __m256& v2, __m256& v3, __m256& v4, __m256& v5, __m256& v6,
                          __m256& v7) {
  const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
  const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
  const __m256 t4 = _mm256_unpacklo_ps(v4, v5), t5 = _mm256_unpackhi_ps(v4, v5);
  const __m256 t6 = _mm256_unpacklo_ps(v6, v7), t7 = _mm256_unpackhi_ps(v6, v7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  v0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  v1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  v2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  v3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  v4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  v5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  v6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  v7 = _mm256_permute2f128_ps(s3, s7, 0x31);
}
// A block rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) -> ceil(mc/MR) micro-panels, each kc steps
// of MR consecutive values (rows past mc are zero, so the kernel always runs a full tile).
void pack_a(bool trans, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
            float* out) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t mr = std::min(kMR, mc - ir);
    float* dst = out + ir * kc;
    if (trans) {  // op(A)(i, p) = a[p * lda + i]: each step is MR contiguous values
      const float* src = a + p0 * lda + (i0 + ir);
      for (int64_t p = 0; p < kc; ++p, src += lda, dst += kMR) {
        int64_t r = 0;
        for (; r < mr; ++r) dst[r] = src[r];
        for (; r < kMR; ++r) dst[r] = 0.f;
      }
    } else if (mr == kMR) {  // op(A)(i, p) = a[i * lda + p]: interleave six rows, 8 steps at a time
      const float* r0 = a + (i0 + ir) * lda + p0;
      const float* r1 = r0 + lda;
      const float* r2 = r1 + lda;
      const float* r3 = r2 + lda;
      const float* r4 = r3 + lda;
      const float* r5 = r4 + lda;
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8, dst += 8 * kMR) {
        // 6 rows x 8 steps, transposed as 8 x 8 with two zero rows; each column's first six lanes
        // are the step's values. Stores go in ascending order, 8 wide, so lanes 6-7 of one store
        // are overwritten by the next; the last spills two floats into what is written next (or
        // into the scratch's slack).
        __m256 v0 = _mm256_loadu_ps(r0 + p), v1 = _mm256_loadu_ps(r1 + p), v2 = _mm256_loadu_ps(r2 + p);
        __m256 v3 = _mm256_loadu_ps(r3 + p), v4 = _mm256_loadu_ps(r4 + p), v5 = _mm256_loadu_ps(r5 + p);
        __m256 v6 = _mm256_setzero_ps(), v7 = _mm256_setzero_ps();
        transpose_8x8(v0, v1, v2, v3, v4, v5, v6, v7);
        _mm256_storeu_ps(dst + 0 * kMR, v0);
        _mm256_storeu_ps(dst + 1 * kMR, v1);
        _mm256_storeu_ps(dst + 2 * kMR, v2);
        _mm256_storeu_ps(dst + 3 * kMR, v3);
        _mm256_storeu_ps(dst + 4 * kMR, v4);
        _mm256_storeu_ps(dst + 5 * kMR, v5);
        _mm256_storeu_ps(dst + 6 * kMR, v6);
        _mm256_storeu_ps(dst + 7 * kMR, v7);
      }
      for (; p < kc; ++p, dst += kMR) {
        dst[0] = r0[p];
        dst[1] = r1[p];
        dst[2] = r2[p];
        dst[3] = r3[p];
        dst[4] = r4[p];
        dst[5] = r5[p];
      }
    } else {
      for (int64_t p = 0; p < kc; ++p, dst += kMR) {
        int64_t r = 0;
        for (; r < mr; ++r) dst[r] = a[(i0 + ir + r) * lda + p0 + p];
        for (; r < kMR; ++r) dst[r] = 0.f;
      }
    }
  }
}

// One NR-wide micro-panel of B: depth [p0, p0+kc) x columns [j0, j0+nr) of op(B) -> kc steps of NR
// consecutive values (columns past nr are zero).
void pack_b_panel(bool trans, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nr,
                  float* dst) {
  if (!trans && nr == kNR) {  // op(B)(p, j) = b[p * ldb + j]: two vector copies per step
    const float* src = b + p0 * ldb + j0;
    for (int64_t p = 0; p < kc; ++p, src += ldb, dst += kNR) {
      _mm256_store_ps(dst, _mm256_loadu_ps(src));
      _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
    }
  } else if (!trans) {
    const float* src = b + p0 * ldb + j0;
    for (int64_t p = 0; p < kc; ++p, src += ldb, dst += kNR) {
      int64_t j = 0;
      for (; j < nr; ++j) dst[j] = src[j];
      for (; j < kNR; ++j) dst[j] = 0.f;
    }
  } else {  // op(B)(p, j) = b[j * ldb + p]: walk each stored row (contiguous in p), scatter by NR
    for (int64_t j = 0; j < kNR; ++j) {
      if (j < nr) {
        const float* src = b + (j0 + j) * ldb + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = src[p];
      } else {
        for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = 0.f;
      }
    }
  }
}

// ---- micro-kernel -------------------------------------------------------------------------------
// C[6 x 16] (ldc) = alpha * sum_p a[p][0..5] (x) b[p][0..15] + beta * C. a: packed A micro-panel
// (6 per step), b: packed B micro-panel (16 per step, 32-byte aligned). Twelve accumulators, two B
// vectors and one broadcast A value use 15 of the 16 ymm registers; fp32 FMA throughout.
// beta == 0 never reads C.
void kernel_6x16(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                 float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int r = 0; r < 6; ++r) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);

#define DISPA_GEMM_STEP(P)                                                                  \
  {                                                                                         \
    const __m256 b0 = _mm256_load_ps(b + (P) * 16);                                         \
    const __m256 b1 = _mm256_load_ps(b + (P) * 16 + 8);                                     \
    __m256 av = _mm256_broadcast_ss(a + (P) * 6 + 0);                                       \
    c00 = _mm256_fmadd_ps(av, b0, c00);                                                     \
    c01 = _mm256_fmadd_ps(av, b1, c01);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 1);                                              \
    c10 = _mm256_fmadd_ps(av, b0, c10);                                                     \
    c11 = _mm256_fmadd_ps(av, b1, c11);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 2);                                              \
    c20 = _mm256_fmadd_ps(av, b0, c20);                                                     \
    c21 = _mm256_fmadd_ps(av, b1, c21);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 3);                                              \
    c30 = _mm256_fmadd_ps(av, b0, c30);                                                     \
    c31 = _mm256_fmadd_ps(av, b1, c31);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 4);                                              \
    c40 = _mm256_fmadd_ps(av, b0, c40);                                                     \
    c41 = _mm256_fmadd_ps(av, b1, c41);                                                     \
    av = _mm256_broadcast_ss(a + (P) * 6 + 5);                                              \
    c50 = _mm256_fmadd_ps(av, b0, c50);                                                     \
    c51 = _mm256_fmadd_ps(av, b1, c51);                                                     \
  }
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {  // unrolled by 4 to amortise the loop overhead
    _mm_prefetch(reinterpret_cast<const char*>(a + 96), _MM_HINT_T0);
    DISPA_GEMM_STEP(0)
    DISPA_GEMM_STEP(1)
    DISPA_GEMM_STEP(2)
    DISPA_GEMM_STEP(3)
    a += 24;
    b += 64;
  }
  for (; p < kc; ++p) {
    DISPA_GEMM_STEP(0)
    a += 6;
    b += 16;
  }
#undef DISPA_GEMM_STEP

  const __m256 va = _mm256_set1_ps(alpha);
  auto store = [&](float* dst, __m256 acc) {
    if (beta == 0.f) {
      _mm256_storeu_ps(dst, _mm256_mul_ps(va, acc));
    } else {
      const __m256 vb = _mm256_set1_ps(beta);
      _mm256_storeu_ps(dst, _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, _mm256_loadu_ps(dst))));
    }
  };
  store(c + 0 * ldc, c00), store(c + 0 * ldc + 8, c01);
  store(c + 1 * ldc, c10), store(c + 1 * ldc + 8, c11);
  store(c + 2 * ldc, c20), store(c + 2 * ldc + 8, c21);
  store(c + 3 * ldc, c30), store(c + 3 * ldc + 8, c31);
  store(c + 4 * ldc, c40), store(c + 4 * ldc + 8, c41);
  store(c + 5 * ldc, c50), store(c + 5 * ldc + 8, c51);
}

// A packed mc x kc block of A times one packed B micro-panel (nr <= NR columns, kc deep) into C
// (already offset to the block's first row and the panel's first column); the B panel stays in
// L1 over the ir loop. Edge tiles go through a local tile so the kernel never writes outside C.
void panel_kernel(int64_t mc, int64_t nr, int64_t kc, const float* ap, const float* b_panel, float* c,
                  int64_t ldc, float alpha, float beta) {
  alignas(32) float tile[kMR * kNR];
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t mr = std::min(kMR, mc - ir);
    const float* a_panel = ap + ir * kc;
    float* c_tile = c + ir * ldc;
    if (mr == kMR && nr == kNR) {
      kernel_6x16(kc, a_panel, b_panel, c_tile, ldc, alpha, beta);
    } else {
      kernel_6x16(kc, a_panel, b_panel, tile, kNR, 1.f, 0.f);
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < nr; ++j) {
          float& dst = c_tile[i * ldc + j];
          dst = beta == 0.f ? alpha * tile[i * kNR + j] : alpha * tile[i * kNR + j] + beta * dst;
        }
    }
  }
}

// Packed B panels are shared by all threads and packed on demand by whichever thread first needs
// one (a claim flag per panel), so no thread waits at a barrier between packing and computing:
// on a machine shared with other jobs a barrier can cost a whole scheduler time slice. A thread
// that finds a panel being packed by another computes its other panels first and only then
// waits, yielding the core.
enum : uint8_t { kPanelEmpty = 0, kPanelPacking = 1, kPanelReady = 2 };

template <typename Pack>
bool try_claim_and_pack(std::atomic<uint8_t>& state, Pack pack) {
  uint8_t seen = state.load(std::memory_order_acquire);
  if (seen == kPanelReady) return true;
  if (seen == kPanelEmpty && state.compare_exchange_strong(seen, kPanelPacking, std::memory_order_acq_rel)) {
    pack();
    state.store(kPanelReady, std::memory_order_release);
    return true;
  }
  return state.load(std::memory_order_acquire) == kPanelReady;
}

void wait_ready(const std::atomic<uint8_t>& state) {
  while (state.load(std::memory_order_acquire) != kPanelReady) std::this_thread::yield();
}

template <typename T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

void sgemm_on(int threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  if (2.0 * double(m) * double(n) * double(k) < kSerialFlops) threads = 1;

  // Rows are split into blocks of at most MC, rounded so every thread gets the same number; when
  // there are fewer row blocks than threads, each block's NR panels are split into column groups.
  int64_t m_blocks = ceil_div(m, kMC);
  if (m_blocks >= threads) m_blocks = round_up(m_blocks, threads);
  const int64_t mc_step = round_up(ceil_div(m, m_blocks), kMR);
  m_blocks = ceil_div(m, mc_step);
  // Depth blocks of equal size (576 = 2 x 288, not 512 + 64): a thin last block would pay a full
  // pass over C for little work.
  const int64_t kc_step = std::min(k, round_up(ceil_div(k, ceil_div(k, kKC)), 8));
  const int64_t nc_max = round_up(std::min(n, kNC), kNR);
  const int64_t panels_max = nc_max / kNR;
  // One pass holds several KC blocks of packed B (the whole depth for the model's shapes); only
  // deeper products (weight gradients, K = B*P rows) and wider ones (N > NC) take several passes,
  // with a barrier between passes because the next one reuses the buffer.
  const int64_t k_blocks = ceil_div(k, kc_step);
  const int64_t blocks_per_pass = std::clamp<int64_t>(kPackedBFloats / (kc_step * nc_max), 1, k_blocks);
  float* b_pack = scratch_for_b(blocks_per_pass * kc_step * nc_max);
  // One claim flag per (column block, depth block, panel); value-initialised to kPanelEmpty.
  const int64_t jc_blocks = ceil_div(n, kNC);
  std::vector<std::atomic<uint8_t>> panel_state(static_cast<size_t>(jc_blocks * k_blocks * panels_max));

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* a_pack = scratch_for_a(mc_step * kc_step + kPackSlack);
    std::vector<int64_t> deferred;
    for (int64_t jc = 0; jc < n; jc += kNC) {
      const int64_t nc = std::min(kNC, n - jc);
      const int64_t panels = ceil_div(nc, kNR);
      const int64_t groups = std::clamp<int64_t>(ceil_div(threads, m_blocks), 1, panels);
      for (int64_t block0 = 0; block0 < k_blocks; block0 += blocks_per_pass) {
        const int64_t pass_blocks = std::min(blocks_per_pass, k_blocks - block0);
        if (jc > 0 || block0 > 0) {  // everyone is done reading the previous pass's panels
#pragma omp barrier
        }
#pragma omp for schedule(dynamic, 1) nowait
        for (int64_t item = 0; item < m_blocks * groups; ++item) {
          const int64_t i0 = (item / groups) * mc_step;
          const int64_t g = item % groups;
          const int64_t mc = std::min(mc_step, m - i0);
          const int64_t jp_begin = g * panels / groups, jp_end = (g + 1) * panels / groups;
          if (mc <= 0 || jp_begin == jp_end) continue;
          for (int64_t q = 0; q < pass_blocks; ++q) {
            const int64_t pc = (block0 + q) * kc_step, kc = std::min(kc_step, k - pc);
            const float beta_here = pc == 0 ? beta : 1.f;
            pack_a(trans_a, a, lda, i0, mc, pc, kc, a_pack);
            float* b_block = b_pack + q * kc_step * nc_max;  // panel jp at + jp * NR * kc
            std::atomic<uint8_t>* state = panel_state.data() + ((jc / kNC) * k_blocks + block0 + q) * panels_max;
            auto pack = [&](int64_t jp) {
              return [&, jp] {
                pack_b_panel(trans_b, b, ldb, pc, kc, jc + jp * kNR, std::min(kNR, nc - jp * kNR),
                             b_block + jp * kNR * kc);
              };
            };
            auto compute = [&](int64_t jp) {
              panel_kernel(mc, std::min(kNR, nc - jp * kNR), kc, a_pack, b_block + jp * kNR * kc,
                           c + i0 * ldc + jc + jp * kNR, ldc, alpha, beta_here);
            };
            deferred.clear();
            for (int64_t jp = jp_begin; jp < jp_end; ++jp) {
              if (try_claim_and_pack(state[jp], pack(jp))) compute(jp);
              else deferred.push_back(jp);  // another thread is packing it: come back later
            }
            for (int64_t jp : deferred) {
              wait_ready(state[jp]);
              compute(jp);
            }
          }
        }
      }
    }
  }
}

// f64: plain loops, one row of C per iteration (accumulated in a row buffer so beta == 0 never
// reads C). For gradient checks, where sizes are tiny and exactness matters, not speed.
void dgemm_on(int threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
              const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (2.0 * double(m) * double(n) * double(k) < kSerialFlops) threads = 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::vector<double> row(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      std::fill(row.begin(), row.end(), 0.0);
      for (int64_t p = 0; p < k; ++p) {
        const double aip = trans_a ? a[p * lda + i] : a[i * lda + p];
        if (trans_b) {
          for (int64_t j = 0; j < n; ++j) row[j] += aip * b[j * ldb + p];
        } else {
          const double* brow = b + p * ldb;
          for (int64_t j = 0; j < n; ++j) row[j] += aip * brow[j];
        }
      }
      double* crow = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) crow[j] = beta == 0.0 ? alpha * row[j] : alpha * row[j] + beta * crow[j];
    }
  }
}

// Threads over batch entries (each product on one thread) when the products are small or the
// batch alone fills the threads; otherwise one product after another, each threaded inside.
template <typename T, typename Gemm>
void batched(Gemm gemm, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
             int64_t sa, const T* b, int64_t ldb, int64_t sb, T beta, T* c, int64_t ldc, int64_t sc,
             int64_t batch) {
  if (batch <= 0) return;
  const int threads = threads_available();
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const bool over_batch = threads > 1 && batch > 1 && (flops < 8 * kSerialFlops || batch >= 4 * threads);
  if (!over_batch) {
    for (int64_t i = 0; i < batch; ++i)
      gemm(threads, ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t i = 0; i < batch; ++i)
    gemm(1, ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm_on(threads_available(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
           int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  dgemm_on(threads_available(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
                   float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  batched<float>(sgemm_on, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                 stride_c, batch);
}

void dgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                   int64_t lda, int64_t stride_a, const double* b, int64_t ldb, int64_t stride_b, double beta,
                   double* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  batched<double>(dgemm_on, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                  stride_c, batch);
}

}  // namespace dispa::cpu
