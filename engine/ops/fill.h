// Fills and casts (no autograd): constant, Philox uniform/normal streams, dtype conversion.
#pragma once
#include <cstdint>

#include "engine/ops/fill_math.h"
#include "engine/tensor.h"

namespace dispa {

void fill_uniform_(Tensor& t, double lo, double hi, uint64_t seed, uint64_t offset);
void fill_normal_(Tensor& t, double mean, double stddev, uint64_t seed, uint64_t offset);
Tensor cast(const Tensor& x, DType dtype);  // any dtype to any dtype, same device


}  // namespace dispa
