// f64 finite-difference checks of softmax and masked_softmax, including partial masks broadcast
// over heads and a fully masked row (whose gradient must be, and is numerically, zero).
#include <doctest/doctest.h>

#include "engine/ops/softmax.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed) { return test::gradcheck_input(shape, seed, -3.0, 3.0); }
}  // namespace

TEST_CASE("gradcheck: softmax over the last axis") {
  for (const Shape& shape : {Shape{5}, Shape{3, 5}, Shape{2, 3, 7}, Shape{4, 33}}) {
    CAPTURE(shape_str(shape));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return softmax(in[0]); }, {input(shape, 31)});
  }
}

TEST_CASE("gradcheck: masked_softmax with partial masks broadcast over heads") {
  // x [B=2, H=3, K=5]; mask [B, 1, K]: batch 0 keeps 3 keys, batch 1 keeps 1 key.
  Tensor mask = Tensor::from_vector(std::vector<int32_t>{1, 0, 1, 1, 0, 0, 0, 0, 1, 0}, {2, 1, 5});
  CHECK_GRADIENTS([mask](const std::vector<Tensor>& in) { return masked_softmax(in[0], mask); },
                  {input({2, 3, 5}, 32)});
  // A per-element f32 mask with a fully masked row in the middle.
  Tensor mask2 = Tensor::from_vector(std::vector<float>{1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1}, {3, 4});
  CHECK_GRADIENTS([mask2](const std::vector<Tensor>& in) { return masked_softmax(in[0], mask2); },
                  {input({3, 4}, 33)});
}

TEST_CASE("gradcheck: softmax feeding softmax (the tape chains two backward passes)") {
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return softmax(softmax(in[0])); }, {input({3, 6}, 34)});
}
