// Inverted dropout with a Philox mask: element i is kept iff philox_uniform(seed, offset, i) >= p,
// and kept values are scaled by 1/(1-p). The same (seed, offset) gives the same mask on CPU and
// GPU. Identity when !training or p == 0 (x itself is returned and nothing is recorded).
// p must be in [0, 1) (checked; NaN rejected); p is compared in f32 on every device, and an f64
// input gets the same mask as an f32 one. Backward recomputes the mask from (seed, offset), so
// nothing is stored. Offsets count Philox blocks of 4 elements: take them from
// Generator::reserve(numel) so consecutive dropouts use disjoint streams (offset + 1 is the same
// stream shifted by four elements, not an independent mask).
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace dispa {

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t offset);

}  // namespace dispa
