// A Philox stream handle: (seed, offset). Each draw reserves ceil(n/4) blocks and advances the
// offset, so consecutive draws never overlap and a run is reproducible from (seed, offset) alone
// (saved in checkpoints to resume bit-for-bit on the CPU).
#pragma once
#include <cstdint>

namespace dispa {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  // Returns the offset to use for n elements and advances past them.
  uint64_t reserve(int64_t n) {
    const uint64_t start = offset_;
    offset_ += static_cast<uint64_t>((n + 3) / 4);
    return start;
  }

 private:
  uint64_t seed_;
  uint64_t offset_;
};

}  // namespace dispa
