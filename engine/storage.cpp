#include "engine/storage.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace dispa {
namespace {

// Host caching allocator for large buffers. Without it every big activation is a fresh mmap and
// its page faults, which made CPU ops several times slower than their loops (measured on the
// gather and differential-attention benchmarks). Blocks >= 256 KiB are rounded to size bins
// (64 KiB steps below 8 MiB, 1 MiB steps above) and kept in per-bin free lists up to a cap;
// smaller requests go straight to aligned_alloc, which malloc already serves from its arenas.
class HostCache {
 public:
  static constexpr size_t kMinCached = 256u << 10;
  static constexpr size_t kMaxCachedTotal = 2048ull << 20;

  void* allocate(size_t nbytes) {
    const size_t bin = bin_size(nbytes);
    if (bin >= kMinCached) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bin);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bin;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, bin);
    if (!p) fail("out of host memory allocating {} bytes", nbytes);
    return p;
  }

  void release(void* p, size_t nbytes) {
    const size_t bin = bin_size(nbytes);
    if (bin >= kMinCached) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + bin <= kMaxCachedTotal) {
        free_[bin].push_back(p);
        cached_ += bin;
        return;
      }
    }
    std::free(p);
  }

 private:
  static size_t bin_size(size_t nbytes) {
    const size_t step = nbytes < (8u << 20) ? (nbytes < kMinCached ? 64 : (64u << 10)) : (1u << 20);
    return (nbytes + step - 1) / step * step;  // also a multiple of 64, as aligned_alloc needs
  }
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

HostCache& host_cache() {
  static auto* cache = new HostCache();  // never destroyed: tensors in static objects may outlive it
  return *cache;
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    data_ = host_cache().allocate(nbytes);
  } else {
    data_ = cuda::device_alloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (!data_) return;
  if (device_.is_cpu()) {
    host_cache().release(data_, nbytes_);
  } else {
    cuda::device_free(data_, nbytes_, device_.index);
  }
}

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
