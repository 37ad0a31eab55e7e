// Finite-difference gradient check (f64, CPU) for dropout: with (seed, offset) fixed the mask is
// fixed, so the op is linear and finite differences are exact up to rounding.
#include <doctest/doctest.h>

#include "engine/ops/dropout.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

TEST_CASE("gradcheck: dropout with a fixed seed and offset") {
  for (double p : {0.1, 0.5}) {
    CAPTURE(p);
    Tensor small = Tensor::uniform({4, 5}, -2, 2, 1, 0, DType::f64).set_requires_grad();
    CHECK_GRADIENTS([p](const std::vector<Tensor>& in) { return dropout(in[0], p, true, 17, 3); }, {small});
    Tensor large = Tensor::uniform({9, 31}, -2, 2, 2, 0, DType::f64).set_requires_grad();
    CHECK_GRADIENTS([p](const std::vector<Tensor>& in) { return dropout(in[0], p, true, 18, 0); }, {large});
  }
}
