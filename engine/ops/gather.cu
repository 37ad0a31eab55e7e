// Gather kernels: one thread per output element (forward) or per incoming gradient element
// (backward), grid-stride loops. Forward moves raw 32/64-bit words (any dtype) with coalesced
// writes; reads are random in the table (gather_rows reads whole rows, so they coalesce too).
// Backward scatters with atomicAdd: an index used twice sums both gradients, in no fixed order,
// so results match the (deterministic) CPU to rounding, not bit for bit.
// Index validity: find_invalid_index_kernel records the first bad position; the host checks it
// before launching a gather (gather.cpp). The gather kernels treat any out-of-range index as
// padding anyway (gather_math.h), so they never touch memory outside their tensors.
#include "engine/cuda/check.h"
#include "engine/ops/gather_math.h"

namespace dispa::cuda {
namespace {
constexpr int kThreads = 256;

#define DISPA_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename I>
__global__ void find_invalid_index_kernel(const I* index, int64_t n, int64_t bound, unsigned long long* first) {
  DISPA_GRID_STRIDE(p, n) {
    const I v = index[p];
    if (v != I(kPaddingIndex) && !index_in_range(v, bound)) atomicMin(first, static_cast<unsigned long long>(p));
  }
}

template <typename Word, typename I>
__global__ void gather_rows_forward_kernel(const Word* table, const I* index, Word* out, int64_t n_out,
                                           int64_t row_size, int64_t n_rows) {
  DISPA_GRID_STRIDE(k, n_out) {
    const int64_t i = k / row_size, c = k - i * row_size;
    const int64_t s = gather_rows_source(index[i], c, row_size, n_rows);
    out[k] = s == kPaddingIndex ? Word(0) : table[s];
  }
}

template <typename T, typename I>
__global__ void gather_rows_backward_kernel(const T* dy, const I* index, T* dtable, int64_t n_dy, int64_t row_size,
                                            int64_t n_rows) {
  DISPA_GRID_STRIDE(k, n_dy) {
    const int64_t i = k / row_size, c = k - i * row_size;
    const int64_t s = gather_rows_source(index[i], c, row_size, n_rows);
    if (s != kPaddingIndex) atomicAdd(dtable + s, dy[k]);
  }
}

template <typename Word, typename I>
__global__ void gather_columns_forward_kernel(const Word* x, const I* index, Word* out, int64_t n_out, int64_t n_cols,
                                              int64_t n_index) {
  DISPA_GRID_STRIDE(k, n_out) {
    const int64_t b = k / n_index, i = k - b * n_index;
    const int64_t s = gather_columns_source(index[i], b, n_cols);
    out[k] = s == kPaddingIndex ? Word(0) : x[s];
  }
}

template <typename T, typename I>
__global__ void gather_columns_backward_kernel(const T* dy, const I* index, T* dx, int64_t n_dy, int64_t n_cols,
                                               int64_t n_index) {
  DISPA_GRID_STRIDE(k, n_dy) {
    const int64_t b = k / n_index, i = k - b * n_index;
    const int64_t s = gather_columns_source(index[i], b, n_cols);
    if (s != kPaddingIndex) atomicAdd(dx + s, dy[k]);
  }
}
}  // namespace

template <typename I> void find_invalid_index(const I* index, int64_t n, int64_t bound, uint64_t* first_invalid) {
  if (n == 0) return;
  find_invalid_index_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(
      index, n, bound, reinterpret_cast<unsigned long long*>(first_invalid));
  DISPA_CUDA_CHECK_LAUNCH("find_invalid_index_kernel");
}

template <typename I>
void gather_rows_forward(const void* table, const I* index, void* out, int64_t n_index, int64_t row_size,
                         int64_t n_rows, int elem_size) {
  const int64_t n = n_index * row_size;
  if (n == 0) return;
  const int grid = dispa_grid_for(n, kThreads);
  if (elem_size == 4) {
    gather_rows_forward_kernel<<<grid, kThreads, 0, current_stream()>>>(
        static_cast<const uint32_t*>(table), index, static_cast<uint32_t*>(out), n, row_size, n_rows);
  } else {
    gather_rows_forward_kernel<<<grid, kThreads, 0, current_stream()>>>(
        static_cast<const uint64_t*>(table), index, static_cast<uint64_t*>(out), n, row_size, n_rows);
  }
  DISPA_CUDA_CHECK_LAUNCH("gather_rows_forward_kernel");
}

template <typename T, typename I>
void gather_rows_backward(const T* dy, const I* index, T* dtable, int64_t n_index, int64_t row_size, int64_t n_rows) {
  const int64_t n = n_index * row_size;
  if (n == 0) return;
  gather_rows_backward_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(dy, index, dtable, n,
                                                                                              row_size, n_rows);
  DISPA_CUDA_CHECK_LAUNCH("gather_rows_backward_kernel");
}

template <typename I>
void gather_columns_forward(const void* x, const I* index, void* out, int64_t batch, int64_t n_cols, int64_t n_index,
                            int elem_size) {
  const int64_t n = batch * n_index;
  if (n == 0) return;
  const int grid = dispa_grid_for(n, kThreads);
  if (elem_size == 4) {
    gather_columns_forward_kernel<<<grid, kThreads, 0, current_stream()>>>(
        static_cast<const uint32_t*>(x), index, static_cast<uint32_t*>(out), n, n_cols, n_index);
  } else {
    gather_columns_forward_kernel<<<grid, kThreads, 0, current_stream()>>>(
        static_cast<const uint64_t*>(x), index, static_cast<uint64_t*>(out), n, n_cols, n_index);
  }
  DISPA_CUDA_CHECK_LAUNCH("gather_columns_forward_kernel");
}

template <typename T, typename I>
void gather_columns_backward(const T* dy, const I* index, T* dx, int64_t batch, int64_t n_cols, int64_t n_index) {
  const int64_t n = batch * n_index;
  if (n == 0) return;
  gather_columns_backward_kernel<<<dispa_grid_for(n, kThreads), kThreads, 0, current_stream()>>>(dy, index, dx, n,
                                                                                                 n_cols, n_index);
  DISPA_CUDA_CHECK_LAUNCH("gather_columns_backward_kernel");
}

#define DISPA_INSTANTIATE_INDEX(I)                                                                             \
  template void find_invalid_index<I>(const I*, int64_t, int64_t, uint64_t*);                                  \
  template void gather_rows_forward<I>(const void*, const I*, void*, int64_t, int64_t, int64_t, int);          \
  template void gather_columns_forward<I>(const void*, const I*, void*, int64_t, int64_t, int64_t, int);
#define DISPA_INSTANTIATE_BACKWARD(T, I)                                                                       \
  template void gather_rows_backward<T, I>(const T*, const I*, T*, int64_t, int64_t, int64_t);                 \
  template void gather_columns_backward<T, I>(const T*, const I*, T*, int64_t, int64_t, int64_t);
DISPA_INSTANTIATE_INDEX(int32_t)
DISPA_INSTANTIATE_INDEX(int64_t)
DISPA_INSTANTIATE_BACKWARD(float, int32_t)
DISPA_INSTANTIATE_BACKWARD(float, int64_t)
DISPA_INSTANTIATE_BACKWARD(double, int32_t)
DISPA_INSTANTIATE_BACKWARD(double, int64_t)
#undef DISPA_INSTANTIATE_INDEX
#undef DISPA_INSTANTIATE_BACKWARD

}  // namespace dispa::cuda
