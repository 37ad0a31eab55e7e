// The host-side face of the CUDA runtime: memory, copies, streams and the cuBLAS handle.
// Declared for every build; in a CPU-only build (DISPA_WITH_CUDA=0) each call throws
// "built without CUDA", so callers never need #ifdefs. Implemented in runtime.cu / runtime_stub.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dispa::cuda {

bool available();                 // built with CUDA and at least one device visible
int device_count();
void* device_alloc(size_t nbytes, int device);           // caching allocator (allocator.cu)
void device_free(void* ptr, size_t nbytes, int device);  // returns the block to the cache
// Copies on the calling thread's stream. Host->device copies are staged through pinned buffers and
// return before the transfer completes (src may be reused at once); device->host copies wait.
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes);
void memset_zero(void* dst, size_t nbytes);
void synchronize();

struct AllocatorStats {
  size_t current_bytes = 0;   // bytes handed out to tensors now
  size_t peak_bytes = 0;      // highest current_bytes seen
  size_t cached_bytes = 0;    // bytes held in free lists
  size_t device_mallocs = 0;  // cudaMalloc calls so far (flat after the first training step)
  size_t pinned_bytes = 0;    // page-locked host staging buffers for uploads
};
AllocatorStats allocator_stats();

struct DeviceInfo {
  std::string name;
  int multiprocessors = 0;
  size_t l2_bytes = 0, memory_bytes = 0;
  double peak_bandwidth_gbs = 0;  // from the memory clock and bus width (a datasheet-style bound)
};
DeviceInfo device_info(int device);
void allocator_release_cache();  // cudaFree every cached block

}  // namespace dispa::cuda
