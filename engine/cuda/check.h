// Error checks for CUDA and cuBLAS calls and kernel launches: each failure becomes a dispa::Error
// naming the call, the file and line, and the device (fmt-free, so .cu files may include it).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

namespace dispa::cuda {
[[noreturn]] void throw_cuda_error(const char* call, cudaError_t status, const char* file, int line);
[[noreturn]] void throw_cublas_error(const char* call, cublasStatus_t status, const char* file, int line);
cudaStream_t current_stream();
cublasHandle_t cublas_handle();  // one handle per stream, bound to current_stream()
}  // namespace dispa::cuda

#define DISPA_CUDA_CHECK(call)                                                        \
  do {                                                                                \
    cudaError_t dispa_status_ = (call);                                               \
    if (dispa_status_ != cudaSuccess)                                                 \
      ::dispa::cuda::throw_cuda_error(#call, dispa_status_, __FILE__, __LINE__);      \
  } while (0)

#define DISPA_CUBLAS_CHECK(call)                                                      \
  do {                                                                                \
    cublasStatus_t dispa_status_ = (call);                                            \
    if (dispa_status_ != CUBLAS_STATUS_SUCCESS)                                       \
      ::dispa::cuda::throw_cublas_error(#call, dispa_status_, __FILE__, __LINE__);    \
  } while (0)

// After every kernel launch: configuration errors surface here, asynchronous faults at the next
// synchronising call (run with CUDA_LAUNCH_BLOCKING=1 or compute-sanitizer to pin them down).
#define DISPA_CUDA_CHECK_LAUNCH(kernel_name) DISPA_CUDA_CHECK(cudaGetLastError())

// Grid size for n elements at `threads` per block, capped so huge n uses grid-stride loops.
inline int dispa_grid_for(long long n, int threads) {
  long long blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return static_cast<int>(blocks > 65535LL * 16 ? 65535LL * 16 : blocks);
}
