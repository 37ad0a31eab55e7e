// Per-element index math for gather_rows / gather_columns, shared by the CPU loops in gather.cpp
// and the kernels in gather.cu, and their raw CUDA entry points. No Tensor, no fmt.
// Index convention: -1 is padding (output 0, no gradient); any other index must lie in
// [0, bound). The host validates indices before any gather reads them (gather.cpp); the helpers
// below still treat every out-of-range value as padding, so a kernel can never read or write
// outside its tensors even if an index changed after validation.
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

constexpr int64_t kPaddingIndex = -1;

template <typename I>
DISPA_HD inline bool index_in_range(I idx, int64_t bound) {
  return idx >= 0 && static_cast<int64_t>(idx) < bound;
}

// gather_rows: output element (i, c) of [I, R] reads table element idx * R + c, or -1 (zero).
template <typename I>
DISPA_HD inline int64_t gather_rows_source(I idx, int64_t c, int64_t row_size, int64_t n_rows) {
  return index_in_range(idx, n_rows) ? static_cast<int64_t>(idx) * row_size + c : kPaddingIndex;
}

// gather_columns: output element (b, i) of [B, I] reads x element b * G + idx, or -1 (zero).
template <typename I>
DISPA_HD inline int64_t gather_columns_source(I idx, int64_t b, int64_t n_cols) {
  return index_in_range(idx, n_cols) ? b * n_cols + static_cast<int64_t>(idx) : kPaddingIndex;
}

namespace cuda {
// Smallest position p with index[p] neither -1 nor in [0, bound), written through atomicMin into
// *first_invalid, which the caller sets to all ones (no invalid index) before the launch.
template <typename I> void find_invalid_index(const I* index, int64_t n, int64_t bound, uint64_t* first_invalid);

// out [n_index, row_size] from table [n_rows, row_size]; elem_size 4 or 8 (any dtype).
template <typename I>
void gather_rows_forward(const void* table, const I* index, void* out, int64_t n_index, int64_t row_size,
                         int64_t n_rows, int elem_size);
// dtable [n_rows, row_size] (zeroed by the caller) += dy [n_index, row_size] scattered by index.
template <typename T, typename I>
void gather_rows_backward(const T* dy, const I* index, T* dtable, int64_t n_index, int64_t row_size, int64_t n_rows);

// out [batch, n_index] from x [batch, n_cols]; elem_size 4 or 8 (any dtype).
template <typename I>
void gather_columns_forward(const void* x, const I* index, void* out, int64_t batch, int64_t n_cols, int64_t n_index,
                            int elem_size);
// dx [batch, n_cols] (zeroed by the caller) += dy [batch, n_index] scattered by index.
template <typename T, typename I>
void gather_columns_backward(const T* dy, const I* index, T* dx, int64_t batch, int64_t n_cols, int64_t n_index);
}  // namespace cuda

}  // namespace dispa
