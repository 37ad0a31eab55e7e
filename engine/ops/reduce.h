// Reductions over one axis (keepdim as in PyTorch) and over all elements.
#pragma once
#include "engine/tensor.h"

namespace dispa {

Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
Tensor sum_all(const Tensor& x);   // shape []
Tensor mean_all(const Tensor& x);  // shape []

}  // namespace dispa
