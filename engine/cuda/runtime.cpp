// CUDA runtime glue (host code only, compiled by the C++ compiler): error formatting, the streams,
// the per-stream cuBLAS handles, copies through pinned staging buffers, and a caching device
// allocator.
//
// Streams: each host thread gets its own non-blocking stream per device, created on first use and
// kept for the life of the process (dispa drives a device from one thread; a second thread gets a
// second stream, and its own cuBLAS handle bound to it).
//
// Allocator: requests are rounded up to size bins and may be served by a slightly larger cached
// block (the policy, with its reasons, is engine/cuda/allocator_policy.h); freed blocks go to a
// free list per (device, stream, bin): a block is only ever reused by the
// stream that allocated it, so reuse is ordered after every kernel that stream queued on the old
// tensor without any event. After warm-up cudaMalloc is rare: none with fixed-size batches or in
// eval; a de-duplicated batch larger than any before may still allocate (H200: 14 calls in 50 steps
// after 10 warm-up steps; dispa bench-step prints the count). A tensor that a second thread's
// stream has used must be synchronised by that thread before it is freed (as PyTorch's
// record_stream rule).
//
// Uploads: host->device copies up to 64 MiB go through a per-thread pair of pinned (page-locked)
// staging buffers: the host copies into the pinned buffer and queues an asynchronous DMA, so the
// host does not wait for the transfer (batch indices and targets each step); a buffer is reused
// once the event recorded after its last copy has completed. Larger uploads (a dataset, once) copy
// from pageable memory directly.
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/cuda/allocator_policy.h"
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

namespace {
constexpr int kMaxDevices = 64;

int current_device() {
  int device = 0;
  DISPA_CUDA_CHECK(cudaGetDevice(&device));
  if (device < 0 || device >= kMaxDevices) fail("CUDA device {} out of range (at most {} devices)", device, kMaxDevices);
  return device;
}

std::atomic<size_t> g_pinned_bytes{0};  // page-locked staging bytes over all threads

struct ThreadStreams {
  std::array<cudaStream_t, kMaxDevices> stream{};
  std::array<cublasHandle_t, kMaxDevices> blas{};
};
thread_local ThreadStreams tls_streams;
}  // namespace

cudaStream_t current_stream() {
  const int device = current_device();
  cudaStream_t& stream = tls_streams.stream[size_t(device)];
  if (!stream) DISPA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

cublasHandle_t cublas_handle() {
  const int device = current_device();
  cublasHandle_t& handle = tls_streams.blas[size_t(device)];
  if (!handle) {
    DISPA_CUBLAS_CHECK(cublasCreate(&handle));
    DISPA_CUBLAS_CHECK(cublasSetStream(handle, current_stream()));
  }
  return handle;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp prop{};
  DISPA_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  int memory_clock_khz = 0, bus_width_bits = 0;
  DISPA_CUDA_CHECK(cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, device));
  DISPA_CUDA_CHECK(cudaDeviceGetAttribute(&bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, device));
  DeviceInfo info;
  info.name = prop.name;
  info.multiprocessors = prop.multiProcessorCount;
  info.l2_bytes = size_t(prop.l2CacheSize);
  info.memory_bytes = prop.totalGlobalMem;
  // DDR: two transfers per clock.
  info.peak_bandwidth_gbs = 2.0 * double(memory_clock_khz) * 1e3 * double(bus_width_bits / 8) / 1e9;
  return info;
}

namespace {

using policy::bin_size;  // size policy: engine/cuda/allocator_policy.h

// Makes `device` current for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    DISPA_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) DISPA_CUDA_CHECK(cudaSetDevice(device));
    switched_ = previous_ != device;
  }
  ~DeviceGuard() {
    if (switched_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool switched_ = false;
};

struct CachingAllocator {
  using PoolKey = std::tuple<int, cudaStream_t, size_t>;  // (device, stream, bin)
  struct Owner {
    cudaStream_t stream;
    size_t bin;
  };
  std::mutex mutex;
  std::map<PoolKey, std::vector<void*>> free_blocks;
  std::unordered_map<void*, Owner> owner;  // live block -> its stream and bin
  AllocatorStats stats;

  void* allocate(size_t nbytes, int device) {
    size_t bin = bin_size(nbytes);
    const DeviceGuard on_device(device);
    const cudaStream_t stream = current_stream();
    std::lock_guard<std::mutex> lock(mutex);
    void* ptr = nullptr;
    // The smallest non-empty cached bin of this stream that is at least `bin` and not much larger.
    std::vector<void*>* source = nullptr;
    for (auto it = free_blocks.lower_bound({device, stream, bin}); it != free_blocks.end(); ++it) {
      const auto& [key_device, key_stream, key_bin] = it->first;
      if (key_device != device || key_stream != stream || !policy::can_serve(key_bin, bin)) break;
      if (!it->second.empty()) {
        source = &it->second;
        bin = key_bin;
        break;
      }
    }
    if (source) {
      ptr = source->back();
      source->pop_back();
      stats.cached_bytes -= bin;
    } else {
      cudaError_t status = cudaMalloc(&ptr, bin);
      if (status == cudaErrorMemoryAllocation) {  // free the cache once and retry
        cudaGetLastError();
        release_locked();
        status = cudaMalloc(&ptr, bin);
      }
      if (status != cudaSuccess)
        fail("cudaMalloc of {} bytes on device {} failed: {} (allocator holds {} bytes in use)", bin,
             device, cudaGetErrorString(status), stats.current_bytes);
      ++stats.device_mallocs;
    }
    owner[ptr] = {stream, bin};
    stats.current_bytes += bin;
    if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
    return ptr;
  }

  void deallocate(void* ptr, int device) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = owner.find(ptr);
    if (it == owner.end()) return;  // not ours (cannot happen through Storage); never double-free
    const Owner o = it->second;
    owner.erase(it);
    free_blocks[{device, o.stream, o.bin}].push_back(ptr);
    stats.current_bytes -= o.bin;
    stats.cached_bytes += o.bin;
  }

  void release_locked() {
    for (auto& [key, list] : free_blocks) {
      for (void* ptr : list) cudaFree(ptr);
      stats.cached_bytes -= std::get<2>(key) * list.size();
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
void device_free(void* ptr, size_t /*nbytes: the allocator knows the block*/, int device) {
  allocator().deallocate(ptr, device);
}

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(allocator().mutex);
  AllocatorStats stats = allocator().stats;
  stats.pinned_bytes = g_pinned_bytes.load();
  return stats;
}

void allocator_release_cache() {
  std::lock_guard<std::mutex> lock(allocator().mutex);
  allocator().release_locked();
}

namespace {

// Pinned staging for uploads: a small ring per (thread, device) so that the batch's index, row and
// target uploads of one step (three or four copies) each find a free buffer without waiting.
constexpr size_t kStagingSlots = 4;
constexpr size_t kMaxStagedBytes = 64u << 20;
constexpr size_t kMinStagingBytes = 64u << 10;

struct StagingSlot {
  void* host = nullptr;  // pinned (cudaHostAlloc)
  size_t capacity = 0;
  cudaEvent_t done = nullptr;  // recorded after the last copy out of this slot
};
struct StagingRing {
  std::array<StagingSlot, kStagingSlots> slots;
  size_t next = 0;
};
thread_local std::array<StagingRing, kMaxDevices> tls_staging;

void upload(void* dst, const void* src, size_t nbytes) {
  const cudaStream_t stream = current_stream();
  if (nbytes > kMaxStagedBytes) {  // one-off bulk upload: not worth a pinned buffer of its size
    DISPA_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream));
    return;
  }
  StagingRing& ring = tls_staging[size_t(current_device())];
  StagingSlot& slot = ring.slots[ring.next];
  ring.next = (ring.next + 1) % kStagingSlots;
  if (slot.done) {
    DISPA_CUDA_CHECK(cudaEventSynchronize(slot.done));  // the slot's previous copy has landed
  } else {
    DISPA_CUDA_CHECK(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming));
  }
  if (slot.capacity < nbytes) {
    size_t capacity = kMinStagingBytes;
    while (capacity < nbytes) capacity *= 2;
    if (slot.host) DISPA_CUDA_CHECK(cudaFreeHost(slot.host));
    g_pinned_bytes -= slot.capacity;
    slot.host = nullptr;
    slot.capacity = 0;
    DISPA_CUDA_CHECK(cudaHostAlloc(&slot.host, capacity, cudaHostAllocDefault));
    slot.capacity = capacity;
    g_pinned_bytes += capacity;
  }
  std::memcpy(slot.host, src, nbytes);
  DISPA_CUDA_CHECK(cudaMemcpyAsync(dst, slot.host, nbytes, cudaMemcpyHostToDevice, stream));
  DISPA_CUDA_CHECK(cudaEventRecord(slot.done, stream));
}

}  // namespace

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) {
  if (dst_on_device && !src_on_device) {
    upload(dst, src, nbytes);  // returns before the transfer ends; src may be reused at once
    return;
  }
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
