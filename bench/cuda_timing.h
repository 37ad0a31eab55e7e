// CUDA-event timing shared by the benchmarks. The events are recorded on the calling thread's
// dispa stream (cuda::current_stream()), where every dispa kernel, copy and cuBLAS call runs: an
// event on any other stream would not wait for that work (dispa's streams are non-blocking).
#pragma once
#if DISPA_WITH_CUDA
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include "engine/cuda/check.h"

namespace dispa::bench {

class CudaEventTimer {
 public:
  CudaEventTimer() {
    DISPA_CUDA_CHECK(cudaEventCreate(&start_));
    DISPA_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~CudaEventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  CudaEventTimer(const CudaEventTimer&) = delete;
  CudaEventTimer& operator=(const CudaEventTimer&) = delete;

  void start() { DISPA_CUDA_CHECK(cudaEventRecord(start_, cuda::current_stream())); }
  // Seconds of device time since start(); waits for the work queued in between.
  double stop_seconds() {
    DISPA_CUDA_CHECK(cudaEventRecord(stop_, cuda::current_stream()));
    DISPA_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.f;
    DISPA_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return double(ms) * 1e-3;
  }

 private:
  cudaEvent_t start_{}, stop_{};
};

// Runs fn `warmup` times (caching allocator, cuBLAS handles, first-launch costs), then times each
// benchmark iteration's call with events (for UseManualTime benchmarks).
template <typename Fn>
void time_cuda_iterations(benchmark::State& state, Fn&& fn, int warmup = 3) {
  for (int i = 0; i < warmup; ++i) fn();
  CudaEventTimer timer;
  for (auto _ : state) {
    timer.start();
    fn();
    state.SetIterationTime(timer.stop_seconds());
  }
}

}  // namespace dispa::bench
#endif
