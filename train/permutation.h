// One seeded shuffle for everything in train/ that needs one (epoch order in the trainer, the
// splits in splits.cpp), so a seed means the same thing everywhere.
//
// Fisher-Yates from the top: for i = n-1 .. 1, swap element i with element j = x mod (i + 1),
// where x is 64 bits from the Philox stream (seed, offset = stream * 2^40), words 2i and 2i+1
// (engine/philox.h). The modulo bias is at most (i+1) / 2^64. Unlike std::shuffle with
// std::uniform_int_distribution this is the same on every standard library and machine, so a
// seed gives the same split and the same batch order everywhere.
#pragma once
#include <cstdint>
#include <vector>

namespace dispa::train {

// A permutation of [0, n) determined by (seed, stream); different streams are independent.
std::vector<int64_t> philox_permutation(int64_t n, uint64_t seed, uint64_t stream);

}  // namespace dispa::train
