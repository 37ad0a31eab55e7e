// Storage: one owned buffer on one device. Tensors share storage (reshape is a view).
// CPU buffers are 64-byte aligned; CUDA buffers come from the caching allocator (cuda/allocator.h).
#pragma once
#include <cstddef>
#include <memory>

#include "engine/dtype.h"

namespace dispa {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;  // CPU: the cached block's real size (>= nbytes_), given back on release
  Device device_;
};

// Large host buffers (>= 256 KiB) that the host cache could not serve from its free list since
// the start of the process: a benchmark reads it before and after its timed steps (want 0).
size_t host_cache_system_allocations();

// Bytes of host tensor storage alive now, and the most alive at once since the last
// reset_host_peak_bytes() (or the start): tests state memory bounds with them (a streamed screen
// must not grow with its number of pairs), not with timings.
size_t host_live_bytes();
size_t host_peak_bytes();
void reset_host_peak_bytes();  // peak := live

// Copies nbytes between any two devices (host<->device copies go through cudaMemcpy).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);
// Sets nbytes to zero on the given device.
void zero_bytes(void* dst, Device device, size_t nbytes);

}  // namespace dispa
