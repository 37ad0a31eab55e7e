// Shape ops that copy: concat, slice, permute/transpose. (reshape is a view: Tensor::reshape.)
// Every dtype works on both devices (elements are moved as raw words, so i32/i64 index tensors
// can be reshuffled too); gradients flow for f32/f64. Backward: concat hands each part its slice
// of the gradient, slice places the gradient in a zero tensor, permute applies the inverse order.
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace dispa {

// Parts share dtype, device and rank, and every size except along `axis` (negative counts from
// the end); parts of size 0 along the axis are allowed. Always a new tensor, even for one part.
Tensor concat(const std::vector<Tensor>& parts, int axis);        // same shape except `axis`
// Needs 0 <= start <= end <= x.dim(axis) (no negative or clamped bounds); start == end gives an
// empty axis.
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // [start, end) along axis
// Up to 8 dimensions; order must name every axis once.
Tensor permute(const Tensor& x, const std::vector<int>& order);   // out.dim(i) = x.dim(order[i])
Tensor transpose(const Tensor& x, int axis_a, int axis_b);        // permute swapping two axes

}  // namespace dispa
