#include "engine/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace dispa {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    const size_t rounded = (nbytes + 63) / 64 * 64;  // aligned_alloc needs a multiple of the alignment
    data_ = std::aligned_alloc(64, rounded);
    if (!data_) fail("out of host memory allocating {} bytes", nbytes);
  } else {
    data_ = cuda::device_alloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (!data_) return;
  if (device_.is_cpu()) {
    std::free(data_);
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
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    try {
      return Device::cuda(std::stoi(text.substr(5)));
    } catch (const std::exception&) {
    }
  }
  fail("unknown device '{}': expected cpu, cuda or cuda:N", text);
}

}  // namespace dispa
