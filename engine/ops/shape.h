// Shape ops that copy: concat, slice, permute/transpose. (reshape is a view: Tensor::reshape.)
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace dispa {

Tensor concat(const std::vector<Tensor>& parts, int axis);        // same shape except `axis`
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // [start, end) along axis
Tensor permute(const Tensor& x, const std::vector<int>& order);   // out.dim(i) = x.dim(order[i])
Tensor transpose(const Tensor& x, int axis_a, int axis_b);        // permute swapping two axes

}  // namespace dispa
