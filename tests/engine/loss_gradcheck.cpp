// Finite-difference gradient check (f64, CPU) for mse_loss (gradient to the prediction only).
#include <doctest/doctest.h>

#include "engine/ops/loss.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

TEST_CASE("gradcheck: mse_loss") {
  Tensor target = Tensor::uniform({3, 4}, -1, 1, 2, 0, DType::f64);
  Tensor prediction = Tensor::uniform({3, 4}, -1, 1, 1, 0, DType::f64).set_requires_grad();
  CHECK_GRADIENTS([target](const std::vector<Tensor>& in) { return mse_loss(in[0], target); }, {prediction});
  Tensor big_target = Tensor::uniform({257}, -1, 1, 4, 0, DType::f64);
  Tensor big = Tensor::uniform({257}, -1, 1, 3, 0, DType::f64).set_requires_grad();
  CHECK_GRADIENTS([big_target](const std::vector<Tensor>& in) { return mse_loss(in[0], big_target); }, {big});
  Tensor one = Tensor::scalar(0.3, DType::f64).set_requires_grad();
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return mse_loss(in[0], Tensor::scalar(-0.2, DType::f64)); },
                  {one});
}
