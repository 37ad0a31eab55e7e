#include "engine/storage.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <map>

#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace dispa {
namespace {

// Host caching allocator for large buffers. Without it every big activation is a fresh mmap and
// its page faults, which made CPU ops several times slower than their loops (measured on the
// gather and differential-attention benchmarks). Blocks >= 256 KiB are rounded to size bins
// (64 KiB steps below 8 MiB, 1 MiB steps above) and kept in one best-fit free list up to a cap;
// a request reuses the smallest cached block that is at least its bin and at most 1.25x it, so
// de-duplicated training batches, whose activations vary by a few percent from step to step,
// still hit the cache (with exact bins they missed it: 10% of a CPU training step was page
// faults in the kernel). Smaller requests go straight to aligned_alloc (malloc's arenas).
class HostCache {
 public:
  static constexpr size_t kMinCached = 256u << 10;

  // Cap on cached (free) bytes: a quarter of physical memory, at most 8 GiB, or
  // DISPA_HOST_CACHE_MB. A paper-configuration CPU training step keeps ~2.3 GB live, so a
  // smaller cap made every step give back and re-fault part of its working set.
  HostCache() {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    const size_t physical = pages > 0 && page_size > 0 ? size_t(pages) * size_t(page_size) : (8ull << 30);
    max_cached_ = std::min<size_t>(8ull << 30, physical / 4);
    if (const char* mb = std::getenv("DISPA_HOST_CACHE_MB"); mb && *mb) max_cached_ = size_t(std::atoll(mb)) << 20;
  }

  // Returns the block and sets `capacity` to its real size (pass it back to release).
  void* allocate(size_t nbytes, size_t& capacity) {
    const size_t bin = bin_size(nbytes);
    if (bin >= kMinCached) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(bin);
      if (it != free_.end() && it->first <= bin + bin / 4) {
        void* p = it->second;
        capacity = it->first;
        cached_ -= it->first;
        free_.erase(it);
        return p;
      }
      ++system_allocations_;
    }
    void* p = std::aligned_alloc(64, bin);
    if (!p) fail("out of host memory allocating {} bytes", nbytes);
    capacity = bin;
    return p;
  }

  void release(void* p, size_t capacity) {
    if (capacity >= kMinCached) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + capacity <= max_cached_) {
        free_.emplace(capacity, p);
        cached_ += capacity;
        return;
      }
    }
    std::free(p);
  }

  size_t system_allocations() {
    std::lock_guard<std::mutex> lock(mutex_);
    return system_allocations_;
  }

 private:
  static size_t bin_size(size_t nbytes) {
    const size_t step = nbytes < (8u << 20) ? (nbytes < kMinCached ? 64 : (64u << 10)) : (1u << 20);
    return (nbytes + step - 1) / step * step;  // also a multiple of 64, as aligned_alloc needs
  }
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // capacity -> block
  size_t cached_ = 0, max_cached_ = 0;
  size_t system_allocations_ = 0;      // cacheable requests that missed the cache
};

// Live and peak host storage bytes (requested sizes, not cached blocks).
std::atomic<size_t> g_host_live{0}, g_host_peak{0};

void count_host_bytes(size_t nbytes) {
  const size_t live = g_host_live.fetch_add(nbytes, std::memory_order_relaxed) + nbytes;
  size_t peak = g_host_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_host_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}

HostCache& host_cache() {
  static auto* cache = new HostCache();  // never destroyed: tensors in static objects may outlive it
  return *cache;
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    data_ = host_cache().allocate(nbytes, capacity_);
    count_host_bytes(nbytes);
  } else {
    data_ = cuda::device_alloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (!data_) return;
  if (device_.is_cpu()) {
    host_cache().release(data_, capacity_);
    g_host_live.fetch_sub(nbytes_, std::memory_order_relaxed);
  } else {
    cuda::device_free(data_, nbytes_, device_.index);
  }
}

size_t host_cache_system_allocations() { return host_cache().system_allocations(); }
size_t host_live_bytes() { return g_host_live.load(std::memory_order_relaxed); }
size_t host_peak_bytes() { return g_host_peak.load(std::memory_order_relaxed); }
void reset_host_peak_bytes() { g_host_peak.store(g_host_live.load(std::memory_order_relaxed), std::memory_order_relaxed); }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
  } else {
    cuda::copy(dst, dst_device.is_cuda(), src, src_device.is_cuda(), nbytes);
  }
}

void zero_bytes(void* dst, Device device, size_t nbytes) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    std::memset(dst, 0, nbytes);
  } else {
    cuda::memset_zero(dst, nbytes);
  }
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  int index = -1;
  if (text == "cuda") {
    index = 0;
  } else if (text.rfind("cuda:", 0) == 0) {
    try {
      size_t used = 0;
      index = std::stoi(text.substr(5), &used);
      if (used != text.size() - 5) index = -1;
    } catch (const std::exception&) {
    }
  }
  if (index < 0) fail("unknown device '{}': expected cpu, cuda or cuda:N", text);
  // Say it here, in words, rather than as the driver's first failing call deep inside a run.
  if (!DISPA_WITH_CUDA) fail("device '{}': this dispa was built without CUDA (configure with -DDISPA_CUDA=ON)", text);
  const int count = cuda::device_count();
  if (index >= count)
    fail("device '{}': {} CUDA device(s) visible{}", text, count,
         count == 0 ? " (no GPU, or the driver is missing or older than the CUDA runtime)" : "");
  return Device::cuda(index);
}

}  // namespace dispa
