// Seeded Fisher-Yates permutation (see permutation.h).
#include "train/permutation.h"

#include <utility>

#include "engine/philox.h"

namespace dispa::train {

std::vector<int64_t> philox_permutation(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    // Two words give 64 bits, so the modulo bias is negligible for any realistic n.
    const uint64_t hi = philox_word(seed, stream << 40, 2 * uint64_t(i));
    const uint64_t lo = philox_word(seed, stream << 40, 2 * uint64_t(i) + 1);
    const int64_t j = static_cast<int64_t>(((hi << 32) | lo) % uint64_t(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace dispa::train
