// CPU GEMM, see gemm_cpu.h for the design and its sources. Loop nest of the f32 path (Goto/BLIS):
//   jc over N by NC:   ic over M by MC (threads take (ic, column group) items):
//     pc over K by KC:   pack A[ic, pc] (thread-local)
//       jr over NC by NR:   B[pc, jr] packed once, by the first thread to need it (shared)
//         ir over MC by MR:   MR x NR micro-kernel on a KC-long dot of panels
// beta is applied on the first KC block only; later blocks accumulate into C (beta = 1).
// This file is compiled for baseline x86-64: tile sizes, blocking, packing and the micro-kernel
// come from the SgemmKernel of the CPU level in use (gemm_cpu_kernels.h), read once per call.
#include "engine/ops/gemm_cpu.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/ops/gemm_cpu_kernels.h"

#ifndef DISPA_CPU_KERNELS_X86
#define DISPA_CPU_KERNELS_X86 0
#endif

namespace dispa::cpu {
namespace {

using gemm_kernels::SgemmKernel;

// Below this many flops a product runs on one thread: an OpenMP fork/join (~5-10 us) would cost
// more than the work it splits.
constexpr double kSerialFlops = 2.0e6;
// Packed B kept per pass (1 Mi floats = 4 MiB, in L3): enough for the whole depth of every model
// shape; deeper products (weight gradients, K = B*P rows) take several passes.
constexpr int64_t kPackedBFloats = int64_t(1) << 20;

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
constexpr int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

int threads_available() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

const SgemmKernel& kernel_for(CpuLevel level) {
#if DISPA_CPU_KERNELS_X86
  if (level == CpuLevel::avx512) return gemm_kernels::sgemm_kernel_avx512();
  if (level == CpuLevel::avx2) return gemm_kernels::sgemm_kernel_avx2();
#endif
  DISPA_CHECK(level == CpuLevel::portable, "sgemm: no {} kernel in this build", cpu_level_name(level));
  return gemm_kernels::sgemm_kernel_portable();
}

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

void sgemm_with(const SgemmKernel& kern, int threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  if (2.0 * double(m) * double(n) * double(k) < kSerialFlops) threads = 1;

  const int64_t tile_m = kern.mr, tile_n = kern.nr, kc_max = kern.kc, mc_max = kern.mc, nc_block = kern.nc;
  // Rows are split into blocks of at most MC, rounded so every thread gets the same number; when
  // there are fewer row blocks than threads, each block's NR panels are split into column groups.
  int64_t m_blocks = ceil_div(m, mc_max);
  if (m_blocks >= threads) m_blocks = round_up(m_blocks, threads);
  const int64_t mc_step = round_up(ceil_div(m, m_blocks), tile_m);
  m_blocks = ceil_div(m, mc_step);
  // Depth blocks of equal size (576 = 2 x 288, not 512 + 64): a thin last block would pay a full
  // pass over C for little work.
  const int64_t kc_step = std::min(k, round_up(ceil_div(k, ceil_div(k, kc_max)), 8));
  const int64_t nc_max = round_up(std::min(n, nc_block), tile_n);
  const int64_t panels_max = nc_max / tile_n;
  // One pass holds several KC blocks of packed B (the whole depth for the model's shapes); only
  // deeper products (weight gradients, K = B*P rows) and wider ones (N > NC) take several passes,
  // with a barrier between passes because the next one reuses the buffer.
  const int64_t k_blocks = ceil_div(k, kc_step);
  const int64_t blocks_per_pass = std::clamp<int64_t>(kPackedBFloats / (kc_step * nc_max), 1, k_blocks);
  float* b_pack = scratch_for_b(blocks_per_pass * kc_step * nc_max);
  // One claim flag per (column block, depth block, panel); value-initialised to kPanelEmpty.
  const int64_t jc_blocks = ceil_div(n, nc_block);
  std::vector<std::atomic<uint8_t>> panel_state(static_cast<size_t>(jc_blocks * k_blocks * panels_max));

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* a_pack = scratch_for_a(mc_step * kc_step + gemm_kernels::kPackSlack);
    std::vector<int64_t> deferred;
    for (int64_t jc = 0; jc < n; jc += nc_block) {
      const int64_t nc = std::min(nc_block, n - jc);
      const int64_t panels = ceil_div(nc, tile_n);
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
            kern.pack_a(trans_a, a, lda, i0, mc, pc, kc, a_pack);
            float* b_block = b_pack + q * kc_step * nc_max;  // panel jp at + jp * NR * kc
            std::atomic<uint8_t>* state = panel_state.data() + ((jc / nc_block) * k_blocks + block0 + q) * panels_max;
            auto pack = [&](int64_t jp) {
              return [&, jp] {
                kern.pack_b(trans_b, b, ldb, pc, kc, jc + jp * tile_n, std::min(tile_n, nc - jp * tile_n),
                            b_block + jp * tile_n * kc);
              };
            };
            auto compute = [&](int64_t jp) {
              kern.block_times_panel(mc, std::min(tile_n, nc - jp * tile_n), kc, a_pack, b_block + jp * tile_n * kc,
                                     c + i0 * ldc + jc + jp * tile_n, ldc, alpha, beta_here);
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

SgemmBlocking sgemm_blocking(CpuLevel level) {
  const SgemmKernel& kern = kernel_for(level);
  return {kern.name, kern.mr, kern.nr, kern.kc, kern.mc, kern.nc};
}
SgemmBlocking sgemm_blocking() { return sgemm_blocking(cpu_level()); }

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm_with(kernel_for(cpu_level()), threads_available(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
             c, ldc);
}

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
           int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  dgemm_on(threads_available(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
                   float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  // The kernel is chosen here, outside any parallel region (cpu_level() may throw on a bad DISPA_CPU).
  const SgemmKernel& kern = kernel_for(cpu_level());
  auto gemm = [&kern](int threads, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    sgemm_with(kern, threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  };
  batched<float>(gemm, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c,
                 batch);
}

void dgemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                   int64_t lda, int64_t stride_a, const double* b, int64_t ldb, int64_t stride_b, double beta,
                   double* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  batched<double>(dgemm_on, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                  stride_c, batch);
}

}  // namespace dispa::cpu
