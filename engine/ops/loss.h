// Losses. mse_loss = mean((pred - target)²) over all elements, shape []. No gradient to target.
#pragma once
#include "engine/tensor.h"

namespace dispa {

Tensor mse_loss(const Tensor& prediction, const Tensor& target);

}  // namespace dispa
