// Index math for the copying shape ops (concat, slice, permute), shared by the CPU loops in
// shape.cpp and the kernels in shape.cu, and their raw CUDA entry points. No Tensor, no fmt.
// These ops only move elements, so every dtype (f32, f64, i32, i64) is moved as raw 32- or 64-bit
// words: one kernel per word size serves all dtypes, and integer index tensors can be permuted,
// sliced and concatenated exactly like activations.
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

constexpr int kMaxPermuteDims = 8;

// A [rows, cols] block copy between two row-major matrices with different row strides and column
// offsets (all in elements):
//   dst[r * dst_stride + dst_col + c] = src[r * src_stride + src_col + c].
// concat, slice and both their backward passes are this copy: a tensor viewed as
// [outer, axis * inner] takes or gives the columns [start * inner, end * inner).
struct BlockCopy {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t src_stride = 0;
  int64_t src_col = 0;
  int64_t dst_stride = 0;
  int64_t dst_col = 0;

  DISPA_HD inline int64_t numel() const { return rows * cols; }
  // Source and destination offsets of element `linear` of the block (row-major in the block).
  DISPA_HD inline void offsets(int64_t linear, int64_t* src, int64_t* dst) const {
    const int64_t r = linear / cols, c = linear - r * cols;
    *src = r * src_stride + src_col + c;
    *dst = r * dst_stride + dst_col + c;
  }
};

// Maps a linear index of the permuted (contiguous) output to the input offset. in_stride[d] is
// the input stride of output axis d, i.e. the input stride of axis order[d]. The host merges
// output axes that stay adjacent in the input and drops size-1 axes first, so a permutation that
// moves whole blocks (e.g. [B, P, E] -> [P, B, E]) walks E-long contiguous runs.
struct PermuteIndexer {
  int ndim = 0;
  int64_t out_shape[kMaxPermuteDims] = {};
  int64_t in_stride[kMaxPermuteDims] = {};

  DISPA_HD inline int64_t source(int64_t linear) const {
    int64_t offset = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t coord = linear % out_shape[d];
      linear /= out_shape[d];
      offset += coord * in_stride[d];
    }
    return offset;
  }
};

namespace cuda {
// elem_size is 4 or 8 (bytes per element of any dtype).
void block_copy(const void* src, void* dst, const BlockCopy& copy, int elem_size);
// n output elements, index describing the (coalesced) permutation.
void permute_copy(const void* src, void* dst, int64_t n, const PermuteIndexer& index, int elem_size);
}  // namespace cuda

}  // namespace dispa
