// CPU-only build: every CUDA entry point reports that the backend is not compiled in.
#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace dispa::cuda {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail("{}: this dispa was built without CUDA (configure with -DDISPA_CUDA=ON)", what);
}
}  // namespace

bool available() { return false; }
int device_count() { return 0; }
void* device_alloc(size_t, int) { no_cuda("device_alloc"); }
void device_free(void*, size_t, int) {}
void copy(void*, bool, const void*, bool, size_t) { no_cuda("copy to/from device"); }
void memset_zero(void*, size_t) { no_cuda("memset_zero"); }
void synchronize() {}
AllocatorStats allocator_stats() { return {}; }
DeviceInfo device_info(int) { no_cuda("device_info"); }
void allocator_release_cache() {}
}  // namespace dispa::cuda

namespace dispa {
bool cuda_available() { return false; }
}  // namespace dispa
