// Inverted dropout with a Philox mask: element i is kept iff philox_uniform(seed, offset, i) >= p,
// and kept values are scaled by 1/(1-p). The same (seed, offset) gives the same mask on CPU and
// GPU. Identity when !training or p == 0.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace dispa {

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t offset);

}  // namespace dispa
