// mse_loss: hand-checked values, shape [] output, exact-shape rule and error messages, gradient
// 2 (p - t) / n to the prediction only, double accumulation, thread-count independence.
#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/loss.h"
#include "tests/support/close.h"

using namespace dispa;

TEST_CASE("mse_loss: mean of squared errors, shape []") {
  Tensor p = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  Tensor t = Tensor::from_vector(std::vector<float>{1, 0, 5}, {3});
  Tensor loss = mse_loss(p, t);
  CHECK(loss.shape() == Shape{});
  CHECK(loss.dtype() == DType::f32);
  CHECK(loss.item() == doctest::Approx(8.0 / 3.0).epsilon(1e-7));
  // 2-d, f64: (0.25 + 0 + 2.25 + 1) / 4
  Tensor p2 = Tensor::from_vector(std::vector<double>{0.5, 1, -1, 2}, {2, 2});
  Tensor t2 = Tensor::from_vector(std::vector<double>{0, 1, 0.5, 1}, {2, 2});
  CHECK(mse_loss(p2, t2).item() == 0.875);
  // One element, and scalars.
  CHECK(mse_loss(Tensor::scalar(3.0), Tensor::scalar(1.0)).item() == 4.0);
  CHECK(mse_loss(Tensor::full({1, 1}, 2.0), Tensor::full({1, 1}, 2.0)).item() == 0.0);
}

TEST_CASE("mse_loss: shapes must match exactly; errors name both shapes") {
  Tensor a = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(mse_loss(a, Tensor::zeros({3, 2})),
                       doctest::Contains("mse_loss: prediction shape [2, 3] and target shape [3, 2] differ"), Error);
  // Broadcastable shapes are still an error: [B, 1] vs [B] is the classic silent bug.
  CHECK_THROWS_WITH_AS(mse_loss(Tensor::zeros({4, 1}), Tensor::zeros({4})),
                       doctest::Contains("mse_loss: prediction shape [4, 1] and target shape [4] differ"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(a, Tensor::zeros({2, 3}, DType::f64)), doctest::Contains("mse_loss: dtype mismatch"),
                       Error);
  CHECK_THROWS_WITH_AS(mse_loss(Tensor::zeros({2}, DType::i32), Tensor::zeros({2}, DType::i32)),
                       doctest::Contains("mse_loss: needs f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(Tensor::zeros({0, 3}), Tensor::zeros({0, 3})),
                       doctest::Contains("mse_loss: empty prediction f32[0, 3]"), Error);
}

TEST_CASE("mse_loss: gradient 2 (p - t) / n reaches the prediction only") {
  Tensor p = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4}).set_requires_grad();
  Tensor t = Tensor::from_vector(std::vector<double>{0, 2, 5, 3}, {4}).set_requires_grad();
  Tensor loss = mse_loss(p, t);
  loss.backward();
  CHECK(p.grad().to_vector<double>() == std::vector<double>{0.5, 0, -1, 0.5});
  CHECK(!t.has_grad());
  // A target alone that requires a gradient records nothing.
  Tensor q = Tensor::from_vector(std::vector<double>{1, 2}, {2});
  Tensor u = Tensor::from_vector(std::vector<double>{1, 2}, {2}).set_requires_grad();
  CHECK(!mse_loss(q, u).requires_grad());
  CHECK(tape_size() == 0);
}

TEST_CASE("mse_loss: large f32 inputs accumulate in double and do not depend on threads") {
  const int64_t n = 1 << 20;
  Tensor p = Tensor::full({n}, 1.001);
  Tensor t = Tensor::ones({n});
  const double d = double(1.001f) - 1.0;
  CHECK(std::abs(mse_loss(p, t).item() - d * d) <= 1e-6 * d * d);

  Tensor a = Tensor::uniform({300001}, -3, 3, 1);
  Tensor b = Tensor::uniform({300001}, -3, 3, 2);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const float one = mse_loss(a, b).to_vector<float>()[0];
  omp_set_num_threads(3);
  const float three = mse_loss(a, b).to_vector<float>()[0];
  omp_set_num_threads(saved);
  CHECK(one == three);
  // E[(a - b)^2] for independent U(-3, 3) is 2 * 3 = 6.
  CHECK(std::abs(one - 6.0) < 0.05);
}

TEST_CASE("mse_loss: extreme values stay finite where the math is finite") {
  Tensor p = Tensor::from_vector(std::vector<float>{1e18f, -1e18f}, {2});
  Tensor t = Tensor::zeros({2});
  const double v = mse_loss(p, t).item();  // 1e36 fits in f32 (max 3.4e38)
  CHECK(std::isfinite(v));
  CHECK(v == doctest::Approx(1e36).epsilon(1e-6));
}
