// Losses. mse_loss = mean((pred - target)²) over all elements, shape []. No gradient to target.
// Shapes must be equal exactly (no broadcasting: [B, 1] against [B] is an error naming both),
// same dtype (f32/f64) and device, at least one element. The sum is accumulated in double on
// both devices in a fixed order, so the loss does not depend on the thread count.
#pragma once
#include "engine/tensor.h"

namespace dispa {

Tensor mse_loss(const Tensor& prediction, const Tensor& target);

}  // namespace dispa
