// CUDA runtime glue (host code only, compiled by the C++ compiler): error formatting, the current stream, the per-stream cuBLAS handle, copies,
// and a caching device allocator. The allocator rounds requests up to size bins (512-byte steps
// below 1 MiB, 2 MiB steps above) and keeps freed blocks in per-(device, bin) free lists, so a
// training step after the first performs no cudaMalloc/cudaFree. Single stream per device for now:
// blocks are reused in stream order, which is safe because all work goes to current_stream().
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace dispa::cuda {

void throw_cuda_error(const char* call, cudaError_t status, const char* file, int line) {
  int device = -1;
  cudaGetDevice(&device);
  fail("{} failed: {} [{}:{}, device {}]", call, cudaGetErrorString(status), file, line, device);
}

void throw_cublas_error(const char* call, cublasStatus_t status, const char* file, int line) {
  int device = -1;
  cudaGetDevice(&device);
  fail("{} failed: {} [{}:{}, device {}]", call, cublasGetStatusString(status), file, line, device);
}

bool available() { return device_count() > 0; }

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

cudaStream_t current_stream() { return cudaStreamPerThread; }

cublasHandle_t cublas_handle() {
  thread_local cublasHandle_t handle = nullptr;
  if (!handle) {
    DISPA_CUBLAS_CHECK(cublasCreate(&handle));
    DISPA_CUBLAS_CHECK(cublasSetStream(handle, current_stream()));
  }
  return handle;
}

namespace {

size_t bin_size(size_t nbytes) {
  constexpr size_t kSmallStep = 512, kLargeStep = 2u << 20, kSmallLimit = 1u << 20;
  if (nbytes <= kSmallLimit) return (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  return (nbytes + kLargeStep - 1) / kLargeStep * kLargeStep;
}

struct CachingAllocator {
  std::mutex mutex;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;  // (device, bin) -> blocks
  AllocatorStats stats;

  void* allocate(size_t nbytes, int device) {
    const size_t bin = bin_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex);
    auto& list = free_blocks[{device, bin}];
    void* ptr = nullptr;
    if (!list.empty()) {
      ptr = list.back();
      list.pop_back();
      stats.cached_bytes -= bin;
    } else {
      int previous = 0;
      DISPA_CUDA_CHECK(cudaGetDevice(&previous));
      DISPA_CUDA_CHECK(cudaSetDevice(device));
      cudaError_t status = cudaMalloc(&ptr, bin);
      if (status == cudaErrorMemoryAllocation) {  // free the cache once and retry
        cudaGetLastError();
        release_locked();
        status = cudaMalloc(&ptr, bin);
      }
      cudaSetDevice(previous);
      if (status != cudaSuccess)
        fail("cudaMalloc of {} bytes on device {} failed: {} (allocator holds {} bytes in use)", bin,
             device, cudaGetErrorString(status), stats.current_bytes);
      ++stats.device_mallocs;
    }
    stats.current_bytes += bin;
    if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
    return ptr;
  }

  void deallocate(void* ptr, size_t nbytes, int device) {
    const size_t bin = bin_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex);
    free_blocks[{device, bin}].push_back(ptr);
    stats.current_bytes -= bin;
    stats.cached_bytes += bin;
  }

  void release_locked() {
    for (auto& [key, list] : free_blocks) {
      for (void* ptr : list) cudaFree(ptr);
      stats.cached_bytes -= key.second * list.size();
      list.clear();
    }
  }
};

CachingAllocator& allocator() {
  static auto* instance = new CachingAllocator();  // leaked on purpose: outlives static tensors
  return *instance;
}

}  // namespace

void* device_alloc(size_t nbytes, int device) { return allocator().allocate(nbytes, device); }
void device_free(void* ptr, size_t nbytes, int device) { allocator().deallocate(ptr, nbytes, device); }

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(allocator().mutex);
  return allocator().stats;
}

void allocator_release_cache() {
  std::lock_guard<std::mutex> lock(allocator().mutex);
  allocator().release_locked();
}

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) {
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  DISPA_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, current_stream()));
  if (!dst_on_device) DISPA_CUDA_CHECK(cudaStreamSynchronize(current_stream()));  // host reads next
}

void memset_zero(void* dst, size_t nbytes) {
  DISPA_CUDA_CHECK(cudaMemsetAsync(dst, 0, nbytes, current_stream()));
}

void synchronize() { DISPA_CUDA_CHECK(cudaStreamSynchronize(current_stream())); }

}  // namespace dispa::cuda

namespace dispa {
bool cuda_available() { return cuda::available(); }
}  // namespace dispa
