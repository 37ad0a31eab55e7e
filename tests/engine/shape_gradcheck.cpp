// Finite-difference gradient checks (f64, CPU) for concat, slice, permute and transpose.
#include <doctest/doctest.h>

#include "engine/ops/shape.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed) { return test::gradcheck_input(shape, seed, -2.0, 2.0); }
}  // namespace

TEST_CASE("gradcheck: concat on axis 0, a middle axis and the last axis") {
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, 0); },
                  {input({2, 3}, 1), input({1, 3}, 2)});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return concat({in[0], in[1], in[2]}, 1); },
                  {input({2, 1, 3}, 3), input({2, 2, 3}, 4), input({2, 3, 3}, 5)});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, -1); },
                  {input({3, 2}, 6), input({3, 4}, 7)});
  // The same tensor twice, and a part without a gradient.
  Tensor frozen = Tensor::uniform({2, 2}, -1, 1, 8, 0, DType::f64);
  CHECK_GRADIENTS([frozen](const std::vector<Tensor>& in) { return concat({in[0], frozen, in[0]}, 0); },
                  {input({2, 2}, 9)});
}

TEST_CASE("gradcheck: slice along each axis") {
  for (int axis = 0; axis < 3; ++axis) {
    CAPTURE(axis);
    CHECK_GRADIENTS([axis](const std::vector<Tensor>& in) { return slice(in[0], axis, 1, 3); },
                    {input({3, 4, 5}, 10 + uint64_t(axis))});
  }
}

TEST_CASE("gradcheck: permute of a 4-d tensor and transpose") {
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 3, 1}); },
                  {input({2, 3, 4, 2}, 20)});  // 48 elements: checked one by one
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return permute(in[0], {3, 1, 2, 0}); },
                  {input({3, 5, 2, 4}, 21)});  // 120 elements: random directions
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); }, {input({3, 5}, 22)});
}

TEST_CASE("gradcheck: a chain of shape ops") {
  CHECK_GRADIENTS(
      [](const std::vector<Tensor>& in) {
        Tensor t = transpose(concat({in[0], in[1]}, 1), 0, 1);  // [5, 2]
        return concat({slice(t, 0, 0, 2), slice(t, 0, 1, 5)}, 0);
      },
      {input({2, 2}, 30), input({2, 3}, 31)});
}
