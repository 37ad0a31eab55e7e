// Copy kernels for concat/slice (block copy) and permute: one thread per output element,
// grid-stride loops, elements moved as raw 32- or 64-bit words so one kernel serves every dtype.
// The index math is shape_math.h's, shared with the CPU loops. Writes are coalesced (consecutive
// threads write consecutive outputs); permute reads are strided when the innermost axis moves.
#include "engine/cuda/check.h"
#include "engine/ops/shape_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;

template <typename Word>
__global__ void block_copy_kernel(const Word* src, Word* dst, BlockCopy copy) {
  const int64_t n = copy.numel();
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t s, d;
    copy.offsets(i, &s, &d);
    dst[d] = src[s];
  }
}

template <typename Word>
__global__ void permute_copy_kernel(const Word* src, Word* dst, int64_t n, PermuteIndexer index) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = src[index.source(i)];
}
}  // namespace

void block_copy(const void* src, void* dst, const BlockCopy& copy, int elem_size) {
  const int64_t n = copy.numel();
  if (n == 0) return;
  const int grid = dispa_grid_for(n, kThreads);
  if (elem_size == 4) {
    block_copy_kernel<<<grid, kThreads, 0, current_stream()>>>(static_cast<const uint32_t*>(src),
                                                                static_cast<uint32_t*>(dst), copy);
  } else {
    block_copy_kernel<<<grid, kThreads, 0, current_stream()>>>(static_cast<const uint64_t*>(src),
                                                                static_cast<uint64_t*>(dst), copy);
  }
  DISPA_CUDA_CHECK_LAUNCH("block_copy_kernel");
}

void permute_copy(const void* src, void* dst, int64_t n, const PermuteIndexer& index, int elem_size) {
  if (n == 0) return;
  const int grid = dispa_grid_for(n, kThreads);
  if (elem_size == 4) {
    permute_copy_kernel<<<grid, kThreads, 0, current_stream()>>>(static_cast<const uint32_t*>(src),
                                                                  static_cast<uint32_t*>(dst), n, index);
  } else {
    permute_copy_kernel<<<grid, kThreads, 0, current_stream()>>>(static_cast<const uint64_t*>(src),
                                                                  static_cast<uint64_t*>(dst), n, index);
  }
  DISPA_CUDA_CHECK_LAUNCH("permute_copy_kernel");
}

}  // namespace dispa::cuda
