// Value tests for softmax and masked_softmax: a published row, edge shapes (1, primes, 33, 257,
// 4097), extreme logits (+-1000), masks of every dtype broadcast over heads and queries, one-valid-
// key and no-valid-key rows (zeros, zero gradient, never NaN), gradients and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"
#include "tests/support/close.h"

using namespace dispa;

using dispa::test::all_finite;

namespace {
// Double reference: softmax of each row of [rows, K]; keep[k] == false masks key k; all-masked -> 0.
std::vector<double> reference_softmax(const std::vector<double>& x, int64_t rows, int64_t K,
                                      const std::vector<bool>& keep = {}) {
  std::vector<double> y(x.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    auto kept = [&](int64_t k) { return keep.empty() || keep[size_t(r * K + k)]; };
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (int64_t k = 0; k < K; ++k)
      if (kept(k)) m = std::max(m, x[r * K + k]);
    for (int64_t k = 0; k < K; ++k)
      if (kept(k)) s += std::exp(x[r * K + k] - m);
    for (int64_t k = 0; k < K; ++k) y[r * K + k] = kept(k) ? std::exp(x[r * K + k] - m) / s : 0.0;
  }
  return y;
}

}  // namespace

TEST_CASE("softmax: [1, 2, 3] gives the published row") {
  // softmax([1, 2, 3]) = e^k / (e + e^2 + e^3): 0.0900305731703805, 0.2447284710547976, 0.6652409557748218
  const std::vector<double> want = {0.09003057317038046, 0.24472847105479764, 0.6652409557748218};
  CHECK_CLOSE_VALUES(softmax(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3})).to_f64_vector(), want, 1e-16,
                     1e-15);
  CHECK_CLOSE_VALUES(softmax(Tensor::from_vector(std::vector<float>{1, 2, 3}, {1, 3})).to_f64_vector(), want, 0.0,
                     1e-6);
  // Shift invariance: adding 100 changes nothing.
  CHECK_CLOSE_VALUES(softmax(Tensor::from_vector(std::vector<double>{101, 102, 103}, {3})).to_f64_vector(), want,
                     1e-15, 1e-14);
}

TEST_CASE("softmax: edge shapes match a double reference and rows sum to 1") {
  uint64_t seed = 40;
  for (int64_t K : {1, 2, 17, 33, 257, 4097}) {
    for (int64_t rows : {1, 3, 33}) {
      CAPTURE(K);
      CAPTURE(rows);
      Tensor x = Tensor::uniform({rows, K}, -8.0, 8.0, seed++, 0, DType::f32);
      Tensor y = softmax(x);
      CHECK_CLOSE_VALUES(y.to_f64_vector(), reference_softmax(x.to_f64_vector(), rows, K), 1e-7, 1e-5);
      CHECK_CLOSE_VALUES(sum(y, 1).to_f64_vector(), std::vector<double>(size_t(rows), 1.0), 1e-5, 0.0);
    }
  }
  Tensor x3 = Tensor::uniform({2, 3, 5}, -1.0, 1.0, 41, 0, DType::f64);
  CHECK_CLOSE_VALUES(softmax(x3).to_f64_vector(), reference_softmax(x3.to_f64_vector(), 6, 5), 1e-15, 1e-13);
}

TEST_CASE("softmax: logits of +-1000 stay finite and exact") {
  Tensor x = Tensor::from_vector(std::vector<float>{1000, -1000, 1000, 1000, -1000, -1000, -1000, -1000, 0}, {3, 3});
  Tensor y = softmax(x);
  CHECK(all_finite(y));
  // Rows (1000, -1000, 1000) -> [0.5, 0, 0.5]; (1000, -1000, -1000) -> [1, 0, 0];
  // (-1000, -1000, 0) -> [0, 0, 1] (e^-1000 underflows to exactly 0 in f32 and f64).
  CHECK_CLOSE_VALUES(y.to_f64_vector(), (std::vector<double>{0.5, 0, 0.5, 1, 0, 0, 0, 0, 1}), 1e-7, 0.0);
  Tensor same = softmax(Tensor::full({1, 5}, -1000.0));
  CHECK_CLOSE_VALUES(same.to_f64_vector(), std::vector<double>(5, 0.2), 1e-7, 0.0);
}

TEST_CASE("masked_softmax: a [B, 1, 1, K] mask of any dtype broadcasts over heads and queries") {
  const int64_t B = 2, H = 3, Q = 4, K = 5;
  Tensor x = Tensor::uniform({B, H, Q, K}, -3.0, 3.0, 42, 0, DType::f64);
  const std::vector<double> keep_b = {1, 1, 0, 1, 0, /* batch 1: */ 0, 1, 1, 1, 1};
  std::vector<bool> keep(size_t(B * H * Q * K));
  for (int64_t i = 0; i < B * H * Q * K; ++i) keep[size_t(i)] = keep_b[size_t((i / (H * Q * K)) * K + i % K)] != 0;
  const std::vector<double> want = reference_softmax(x.to_f64_vector(), B * H * Q, K, keep);
  const Tensor masks[] = {Tensor::from_vector(keep_b, {B, 1, 1, K}),
                          Tensor::from_vector(keep_b, {B, 1, 1, K}).to(DType::f32),
                          Tensor::from_vector(keep_b, {B, 1, 1, K}).to(DType::i32),
                          Tensor::from_vector(keep_b, {B, 1, 1, K}).to(DType::i64)};
  for (const Tensor& mask : masks) {
    CAPTURE(mask.describe());
    Tensor y = masked_softmax(x, mask);
    CHECK_CLOSE_VALUES(y.to_f64_vector(), want, 1e-15, 1e-13);
  }
  // A mask with one value per row ([B, H, Q, 1]) and one equal to x's shape also broadcast.
  Tensor row_mask = Tensor::ones({B, H, Q, 1}, DType::i32);
  CHECK_CLOSE_VALUES(masked_softmax(x, row_mask).to_f64_vector(), softmax(x).to_f64_vector(), 0.0, 0.0);
  Tensor full_mask = Tensor::from_vector(std::vector<double>(keep.begin(), keep.end()), {B, H, Q, K});
  CHECK_CLOSE_VALUES(masked_softmax(x, full_mask).to_f64_vector(), want, 1e-15, 1e-13);
}

TEST_CASE("masked_softmax: one valid key gives a one-hot row and zero gradient") {
  Tensor x = Tensor::from_vector(std::vector<double>{0.3, -2.0, 5.0, 1.0}, {1, 4});
  x.set_requires_grad();
  Tensor mask = Tensor::from_vector(std::vector<int32_t>{0, 1, 0, 0}, {4});
  Tensor y = masked_softmax(x, mask);
  CHECK(y.to_f64_vector() == std::vector<double>{0, 1, 0, 0});
  // dx = y (dy - y.dy) = 0 for any dy: the output is constant in x.
  Tensor w = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4});
  sum_all(y * w).backward();
  CHECK(x.grad().to_f64_vector() == std::vector<double>{0, 0, 0, 0});
}

TEST_CASE("masked_softmax: a row with no valid key gives zeros and zero gradient, never NaN") {
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dt));
    // Row 0 fully masked (with extreme logits), row 1 partially masked.
    Tensor x = Tensor::from_vector(std::vector<double>{1000, -1000, 3, 1, 2, 3}, {2, 3}).to(dt);
    x.set_requires_grad();
    Tensor mask = Tensor::from_vector(std::vector<int64_t>{0, 0, 0, 1, 0, 1}, {2, 3});
    Tensor y = masked_softmax(x, mask);
    CHECK(all_finite(y));
    const double e = std::exp(2.0);  // row 1: keys 0 and 2 -> [1, 0, e^2] / (1 + e^2)
    CHECK_CLOSE_VALUES(y.to_f64_vector(), (std::vector<double>{0, 0, 0, 1 / (1 + e), 0, e / (1 + e)}), 1e-7, 1e-6);
    Tensor w = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}).to(dt);
    sum_all(y * w).backward();
    const auto g = x.grad().to_f64_vector();
    CHECK(all_finite(x.grad()));
    CHECK(g[0] == 0.0);
    CHECK(g[1] == 0.0);
    CHECK(g[2] == 0.0);
    CHECK(g[4] == 0.0);  // masked key in a live row
    // Live keys: dx_k = y_k (w_k - sum_j y_j w_j).
    const double y0 = 1 / (1 + e), y2 = e / (1 + e), dot = 4 * y0 + 6 * y2;
    CHECK_CLOSE_VALUES((std::vector<double>{g[3], g[5]}), (std::vector<double>{y0 * (4 - dot), y2 * (6 - dot)}), 1e-6,
                       1e-5);
  }
}

TEST_CASE("softmax: the backward is the softmax Jacobian-vector product") {
  Tensor x = Tensor::from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3});
  x.set_requires_grad();
  Tensor y = softmax(x);
  Tensor w = Tensor::from_vector(std::vector<double>{1, -2, 0.5}, {3});
  sum_all(y * w).backward();
  const auto yv = y.to_f64_vector();
  const double dot = yv[0] * 1 - yv[1] * 2 + yv[2] * 0.5;
  CHECK_CLOSE_VALUES(x.grad().to_f64_vector(),
                     (std::vector<double>{yv[0] * (1 - dot), yv[1] * (-2 - dot), yv[2] * (0.5 - dot)}), 1e-15, 1e-13);
}

TEST_CASE("softmax: errors name the op and the shapes") {
  Tensor x = Tensor::zeros({2, 4});
  CHECK_THROWS_WITH_AS(masked_softmax(x, Tensor::ones({3, 5})),
                       doctest::Contains("masked_softmax: mask [3, 5] does not broadcast to x [2, 4]"), Error);
  CHECK_THROWS_WITH_AS(masked_softmax(x, Tensor::ones({1, 2, 4})),
                       doctest::Contains("masked_softmax: mask [1, 2, 4] does not broadcast to x [2, 4]"), Error);
  CHECK_THROWS_WITH_AS(masked_softmax(x, Tensor()), doctest::Contains("masked_softmax: the mask is undefined"), Error);
  CHECK_THROWS_WITH_AS(softmax(Tensor::scalar(1.0)), doctest::Contains("softmax: needs at least one axis"), Error);
  CHECK_THROWS_WITH_AS(softmax(Tensor::zeros({3}, DType::i32)), doctest::Contains("softmax: needs f32 or f64"), Error);
}

TEST_CASE("softmax: empty tensors pass through") {
  CHECK(softmax(Tensor::zeros({0, 4})).shape() == Shape{0, 4});
  CHECK(softmax(Tensor::zeros({3, 0})).shape() == Shape{3, 0});
  CHECK(masked_softmax(Tensor::zeros({0, 4}), Tensor::ones({4})).numel() == 0);
}
