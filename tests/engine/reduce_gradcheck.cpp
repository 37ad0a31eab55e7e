// f64 finite-difference checks of sum / mean (every axis, keepdim or not) and sum_all / mean_all.
#include <doctest/doctest.h>

#include "engine/ops/reduce.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed) { return test::gradcheck_input(shape, seed, -2.0, 2.0); }
}  // namespace

TEST_CASE("gradcheck: sum and mean over each axis, with and without keepdim") {
  Tensor x = input({3, 4, 5}, 21);
  for (int axis : {0, 1, 2, -1}) {
    for (bool keepdim : {false, true}) {
      CAPTURE(axis);
      CAPTURE(keepdim);
      CHECK_GRADIENTS([axis, keepdim](const std::vector<Tensor>& in) { return sum(in[0], axis, keepdim); }, {x});
      CHECK_GRADIENTS([axis, keepdim](const std::vector<Tensor>& in) { return mean(in[0], axis, keepdim); }, {x});
    }
  }
}

TEST_CASE("gradcheck: sum_all and mean_all, small and large (random directions)") {
  for (const Shape& shape : {Shape{7}, Shape{2, 3}, Shape{33, 9}}) {
    CAPTURE(shape_str(shape));
    Tensor x = input(shape, 22);
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return sum_all(in[0]); }, {x});
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return mean_all(in[0]); }, {x});
  }
}

TEST_CASE("gradcheck: chained reductions (mean of a sum)") {
  Tensor x = input({4, 6}, 23);
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return mean(sum(in[0], 1, true), 0); }, {x});
}
