// Counter-based Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3").
// Element i of a stream (seed, offset) comes from block (offset + i/4), word i%4, on every device,
// so dropout masks and initialisations are identical on CPU and GPU and do not depend on threads.
#pragma once
#include <cstdint>

#include "engine/math_common.h"

namespace dispa {

struct PhiloxBlock {
  uint32_t w[4];
};

DISPA_HD inline uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// One 128-bit block for a 64-bit counter and a 64-bit key (the seed).
DISPA_HD inline PhiloxBlock philox4x32_10(uint64_t counter, uint64_t seed) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(kM0, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(kM1, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in (0, 1]: 24 random bits, never exactly 0 (safe for log in Box-Muller).
DISPA_HD inline float philox_to_unit(uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 1.0f) * (1.0f / 16777216.0f);
}

DISPA_HD inline uint32_t philox_word(uint64_t seed, uint64_t offset, uint64_t i) {
  const PhiloxBlock b = philox4x32_10(offset + i / 4, seed);
  return b.w[i % 4];
}

// Uniform in [lo, hi) from one Philox word (loops that consume whole blocks call this directly).
DISPA_HD inline float philox_uniform_from_word(uint32_t bits, float lo, float hi) {
  const float u = philox_to_unit(bits);  // (0, 1]
  return lo + (hi - lo) * (1.0f - u);    // [lo, hi)
}

// Uniform in [lo, hi) for element i of the stream (seed, offset).
DISPA_HD inline float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i, float lo, float hi) {
  return philox_uniform_from_word(philox_word(seed, offset, i), lo, hi);
}

// Standard normal for element i: Box-Muller on the word pair (0,1) or (2,3) of its block.
DISPA_HD inline float philox_normal(uint64_t seed, uint64_t offset, uint64_t i) {
  const PhiloxBlock b = philox4x32_10(offset + i / 4, seed);
  const int pair = static_cast<int>(i % 4) / 2;
  const float u1 = philox_to_unit(b.w[2 * pair]);
  const float u2 = philox_to_unit(b.w[2 * pair + 1]);
  const float radius = sqrtf(-2.0f * logf(u1));
  const float angle = 6.283185307179586f * u2;
  return (i % 2 == 0) ? radius * cosf(angle) : radius * sinf(angle);
}

}  // namespace dispa
