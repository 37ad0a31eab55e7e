// The CUDA caching allocator's size policy (engine/cuda/allocator_policy.h), checked on the CPU:
// 512-byte bins up to 1 MiB, geometric bins (1/8 octave) above, and the reuse rule.
#include <doctest/doctest.h>

#include <cstddef>
#include <initializer_list>

#include "engine/cuda/allocator_policy.h"

using namespace dispa::cuda;

TEST_CASE("allocator policy: bins and the reuse rule") {
  CHECK(policy::bin_size(1) == 512);
  CHECK(policy::bin_size(513) == 1024);
  CHECK(policy::bin_size(size_t(1) << 20) == size_t(1) << 20);
  CHECK(policy::bin_size((size_t(1) << 20) + 1) == (size_t(1) << 20) + (size_t(1) << 17));  // 1/8 octave steps
  CHECK(policy::bin_size(100u << 20) == 104u << 20);                                        // 64 MiB octave: 8 MiB steps
  for (size_t n : {size_t(3) << 20, size_t(100) << 20, size_t(1) << 30}) {
    const size_t bin = policy::bin_size(n);
    CHECK(bin >= n);
    CHECK(double(bin) <= 1.125 * double(n) + 1);
    CHECK(policy::can_serve(bin, bin));
    CHECK(policy::can_serve(policy::bin_size(bin + 1), bin));  // the next bin up may serve it
  }
  CHECK_FALSE(policy::can_serve(1024, 2048));
  CHECK_FALSE(policy::can_serve(4096, 2048));
}
