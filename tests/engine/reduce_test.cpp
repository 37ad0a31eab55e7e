// Value tests for sum / mean over one axis and over everything: hand-checked numbers, keepdim
// shapes, edge shapes (1, primes, 33, 257), long sums, gradients and error messages.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/support/close.h"

using namespace dispa;
using dispa::test::Tolerance;

namespace {
// Naive double reference for x viewed as [outer, n, inner].
std::vector<double> reference_sum(const std::vector<double>& x, int64_t outer, int64_t n, int64_t inner,
                                  double scale) {
  std::vector<double> out(size_t(outer * inner), 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) out[o * inner + i] += x[(o * n + j) * inner + i];
  for (double& v : out) v *= scale;
  return out;
}
}  // namespace

TEST_CASE("reduce: sum and mean of a [2, 3, 4] arange over each axis, hand-checked") {
  Tensor x = Tensor::arange(24).reshape({2, 3, 4});  // x[a, b, c] = 12a + 4b + c
  // axis 0: 12 * 0 + 12 * 1 + 2 * (4b + c) -> 12 + 2 * (4b + c)
  Tensor s0 = sum(x, 0);
  CHECK(s0.shape() == Shape{3, 4});
  CHECK(s0.to_vector<float>() == std::vector<float>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  // axis 1 with keepdim: 3 * (12a + c) + 4 * (0 + 1 + 2)
  Tensor s1 = sum(x, 1, true);
  CHECK(s1.shape() == Shape{2, 1, 4});
  CHECK(s1.to_vector<float>() == std::vector<float>{12, 15, 18, 21, 48, 51, 54, 57});
  // last axis, negative index: 4 * (12a + 4b) + 6
  Tensor s2 = sum(x, -1);
  CHECK(s2.shape() == Shape{2, 3});
  CHECK(s2.to_vector<float>() == std::vector<float>{6, 22, 38, 54, 70, 86});
  Tensor m2 = mean(x, 2, true);
  CHECK(m2.shape() == Shape{2, 3, 1});
  CHECK(m2.to_vector<float>() == std::vector<float>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  Tensor all = sum_all(x);
  CHECK(all.shape() == Shape{});
  CHECK(all.item() == 276.0);  // 23 * 24 / 2
  CHECK(mean_all(x).item() == 11.5);
}

TEST_CASE("reduce: edge shapes (1, primes, 33, 257) match a double reference") {
  const std::vector<Shape> shapes = {{1}, {257}, {1, 1}, {33, 257}, {257, 33}, {7, 13, 5}, {2, 1, 3}, {3, 4097}};
  uint64_t seed = 10;
  for (const Shape& shape : shapes) {
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = Tensor::uniform(shape, -1.0, 1.0, seed++, 0, dt);
      const auto xv = x.to_f64_vector();
      const Tolerance tol = dt == DType::f32 ? Tolerance{1e-5, 1e-6} : Tolerance{1e-12, 1e-12};
      for (int axis = 0; axis < int(shape.size()); ++axis) {
        CAPTURE(shape_str(shape));
        CAPTURE(axis);
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < axis; ++d) outer *= shape[d];
        for (int d = axis + 1; d < int(shape.size()); ++d) inner *= shape[d];
        const int64_t n = shape[axis];
        CHECK_CLOSE_VALUES(sum(x, axis).to_f64_vector(), reference_sum(xv, outer, n, inner, 1.0), tol.abs, tol.rel);
        CHECK_CLOSE_VALUES(mean(x, axis, true).to_f64_vector(), reference_sum(xv, outer, n, inner, 1.0 / n), tol.abs,
                           tol.rel);
      }
      CHECK_CLOSE_VALUES(std::vector<double>{sum_all(x).item()}, reference_sum(xv, 1, x.numel(), 1, 1.0), tol.abs,
                         tol.rel);
    }
  }
}

TEST_CASE("reduce: a long f32 sum keeps f32 accuracy (double accumulation on the CPU)") {
  // 2^21 copies of 0.1f: a naive f32 running sum drifts by about 1e-2 relative; the exact sum of
  // the f32 value 0.1f (= 0.100000001490116...) times 2^21 is representable within one ulp.
  const int64_t n = int64_t(1) << 21;
  Tensor x = Tensor::full({n}, 0.1, DType::f32);
  const double exact = double(0.1f) * double(n);
  CHECK_CLOSE_VALUES(std::vector<double>{sum_all(x).item()}, std::vector<double>{exact}, 0.0, 1e-7);
  CHECK_CLOSE_VALUES(std::vector<double>{mean_all(x).item()}, std::vector<double>{double(0.1f)}, 0.0, 1e-7);
  Tensor rows = Tensor::full({2, n / 2}, 0.1, DType::f32);
  CHECK_CLOSE_VALUES(sum(rows, 1).to_f64_vector(), (std::vector<double>{exact / 2, exact / 2}), 0.0, 1e-7);
}

TEST_CASE("reduce: gradients broadcast dy back over the reduced axis") {
  Tensor x = Tensor::uniform({2, 3}, -1.0, 1.0, 3, 0, DType::f64);
  x.set_requires_grad();
  Tensor w = Tensor::from_vector(std::vector<double>{1, 2}, {2, 1});
  // loss = sum_all(sum(x, 1, keepdim) * w) -> dx[i, j] = w[i]
  sum_all(sum(x, 1, true) * w).backward();
  CHECK(x.grad().to_f64_vector() == std::vector<double>{1, 1, 1, 2, 2, 2});
  x.zero_grad();
  // loss = mean_all(mean(x, 0)) -> dx = 1 / 6 everywhere
  mean_all(mean(x, 0)).backward();
  CHECK_CLOSE_VALUES(x.grad().to_f64_vector(), std::vector<double>(6, 1.0 / 6.0), 1e-15, 0.0);
  CHECK(tape_size() == 0);
}

TEST_CASE("reduce: bad axis and dtype throw naming the op and the tensor") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, 2), doctest::Contains("sum: axis 2 out of range for x f32[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(mean(x, -3), doctest::Contains("mean: axis -3 out of range for x f32[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(sum(Tensor::scalar(1.0), 0), doctest::Contains("sum: axis 0 out of range"), Error);
  CHECK_THROWS_WITH_AS(sum_all(Tensor::zeros({4}, DType::i64)), doctest::Contains("sum_all: needs f32 or f64"), Error);
}

TEST_CASE("reduce: empty axes give 0 for sum and NaN for mean, as PyTorch") {
  Tensor x = Tensor::zeros({3, 0});
  CHECK(sum(x, 1).to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(std::isnan(mean(x, 1).to_vector<float>()[0]));
  CHECK(sum(x, 0).numel() == 0);
  CHECK(sum_all(x).item() == 0.0);
}
