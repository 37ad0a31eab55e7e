// concat, slice, permute, transpose: hand-checked values on every dtype, edge shapes (empty
// parts, size-1 axes, 8-d), error messages, and the backward placements (slices, zero padding,
// inverse permutation) checked against explicit upstream gradients.
#include <doctest/doctest.h>

#include <numeric>

#include "engine/autograd.h"
#include "engine/ops/shape.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;

namespace {
// Backward from `out` with upstream gradient g (loss = sum(out * g), recorded by hand so the
// test does not depend on reduction ops).
Tensor iota_f32(const Shape& shape, float start = 0.0f) {
  std::vector<float> v(size_t(shape_numel(shape)));
  std::iota(v.begin(), v.end(), start);
  return Tensor::from_vector(v, shape);
}
}  // namespace

TEST_CASE("concat: axis 0, a middle axis and the last axis") {
  Tensor a = iota_f32({2, 2});        // 0 1 / 2 3
  Tensor b = iota_f32({1, 2}, 10.f);  // 10 11
  CHECK(concat({a, b}, 0).shape() == Shape{3, 2});
  CHECK(concat({a, b}, 0).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 10, 11});
  Tensor c = iota_f32({2, 1}, 20.f);  // 20 / 21
  CHECK(concat({a, c, a}, 1).to_vector<float>() == std::vector<float>{0, 1, 20, 0, 1, 2, 3, 21, 2, 3});
  CHECK(concat({a, c}, -1).shape() == Shape{2, 3});

  // [2, 1, 2] and [2, 2, 2] along the middle axis.
  Tensor x = iota_f32({2, 1, 2});       // [[0 1]] [[2 3]]
  Tensor y = iota_f32({2, 2, 2}, 10.f); // [[10 11][12 13]] [[14 15][16 17]]
  Tensor z = concat({x, y}, 1);
  CHECK(z.shape() == Shape{2, 3, 2});
  CHECK(z.to_vector<float>() == std::vector<float>{0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
}

TEST_CASE("concat: one part, empty parts and integer tensors") {
  Tensor a = iota_f32({2, 3});
  Tensor one = concat({a}, 1);
  CHECK(!one.same(a));
  CHECK(one.to_vector<float>() == a.to_vector<float>());
  Tensor empty = Tensor::zeros({2, 0});
  CHECK(concat({empty, a, empty}, 1).to_vector<float>() == a.to_vector<float>());
  CHECK(concat({empty, empty}, 1).shape() == Shape{2, 0});
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, -1, 3}, {3});
  Tensor j = Tensor::from_vector(std::vector<int64_t>{7}, {1});
  CHECK(concat({i, j}, 0).to_vector<int64_t>() == std::vector<int64_t>{1, -1, 3, 7});
  Tensor k = Tensor::from_vector(std::vector<double>{0.5, 1.5}, {2, 1});
  CHECK(concat({k, k}, 0).to_vector<double>() == std::vector<double>{0.5, 1.5, 0.5, 1.5});
}

TEST_CASE("concat: mismatches throw naming the op, the parts and the shapes") {
  Tensor a = Tensor::zeros({3, 3});
  CHECK_THROWS_WITH_AS(concat({a, Tensor::zeros({2, 4})}, 0),
                       doctest::Contains("concat: part 1 has shape [2, 4] but part 0 has [3, 3]"), Error);
  CHECK_THROWS_WITH_AS(concat({a, Tensor::zeros({3, 3, 1})}, 0), doctest::Contains("concat: part 1 has shape [3, 3, 1]"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({a, Tensor::zeros({3, 3}, DType::f64)}, 0), doctest::Contains("concat: dtype mismatch"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({}, 0), doctest::Contains("concat: needs at least one tensor"), Error);
  CHECK_THROWS_WITH_AS(concat({a}, 2), doctest::Contains("concat: axis 2 out of range for a 2-d tensor"), Error);
  CHECK_THROWS_WITH_AS(concat({Tensor::scalar(1.0)}, 0), doctest::Contains("concat: cannot concatenate 0-d"), Error);
}

TEST_CASE("concat: backward hands each part its slice of the gradient") {
  Tensor a = Tensor::zeros({2, 1}, DType::f64).set_requires_grad();
  Tensor b = Tensor::zeros({2, 2}, DType::f64);  // no gradient wanted
  Tensor c = Tensor::zeros({2, 2}, DType::f64).set_requires_grad();
  Tensor out = concat({a, b, c}, 1);  // [2, 5]
  backward_with(out, Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 5}));
  CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 6});
  CHECK(!b.has_grad());
  CHECK(c.grad().to_vector<double>() == std::vector<double>{4, 5, 9, 10});
}

TEST_CASE("concat: a tensor used twice receives both slices") {
  Tensor a = Tensor::zeros({1, 2}, DType::f64).set_requires_grad();
  Tensor out = concat({a, a}, 0);
  backward_with(out, Tensor::from_vector(std::vector<double>{1, 2, 30, 40}, {2, 2}));
  CHECK(a.grad().to_vector<double>() == std::vector<double>{31, 42});
}

TEST_CASE("slice: ranges along each axis, full and empty ranges") {
  Tensor x = iota_f32({2, 3, 4});
  Tensor s0 = slice(x, 0, 1, 2);
  CHECK(s0.shape() == Shape{1, 3, 4});
  CHECK(s0.to_vector<float>()[0] == 12.0f);
  Tensor s1 = slice(x, 1, 1, 3);
  CHECK(s1.shape() == Shape{2, 2, 4});
  CHECK(s1.to_vector<float>() == std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23});
  Tensor s2 = slice(x, -1, 3, 4);
  CHECK(s2.to_vector<float>() == std::vector<float>{3, 7, 11, 15, 19, 23});
  CHECK(slice(x, 2, 0, 4).to_vector<float>() == x.to_vector<float>());
  CHECK(slice(x, 1, 2, 2).shape() == Shape{2, 0, 4});
  Tensor idx = Tensor::from_vector(std::vector<int32_t>{5, 6, 7, 8}, {4});
  CHECK(slice(idx, 0, 1, 3).to_vector<int32_t>() == std::vector<int32_t>{6, 7});
}

TEST_CASE("slice: bad ranges throw naming the range, axis and shape") {
  Tensor x = Tensor::zeros({2, 4});
  CHECK_THROWS_WITH_AS(slice(x, 1, 2, 5),
                       doctest::Contains("slice: range [2, 5) is not within axis 1 of size 4 (f32[2, 4] on cpu)"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 1, 3, 2), doctest::Contains("slice: range [3, 2)"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 0, -1, 1), doctest::Contains("slice: range [-1, 1)"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 3, 0, 1), doctest::Contains("slice: axis 3 out of range"), Error);
}

TEST_CASE("slice: backward places the gradient in the range and zeros elsewhere") {
  Tensor x = Tensor::zeros({2, 4}, DType::f64).set_requires_grad();
  Tensor out = slice(x, 1, 1, 3);
  backward_with(out, Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 2, 0, 0, 3, 4, 0});
  // Two slices of one tensor accumulate.
  x.zero_grad();
  Tensor left = slice(x, 1, 0, 2), right = slice(x, 1, 1, 4);
  backward_with(concat({left, right}, 1), Tensor::ones({2, 5}, DType::f64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2, 1, 1, 1, 2, 1, 1});
}

TEST_CASE("permute: a 3-d permutation matches explicit indexing") {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y = permute(x, {2, 0, 1});  // y[k, i, j] = x[i, j, k]
  CHECK(y.shape() == Shape{4, 2, 3});
  const auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) CHECK(yv[size_t((k * 2 + i) * 3 + j)] == xv[size_t((i * 3 + j) * 4 + k)]);
  // Block moves ([B, P, E] -> [P, B, E]) and the identity.
  Tensor z = permute(x, {1, 0, 2});
  CHECK(z.to_vector<float>()[4] == 12.0f);  // z[0, 1, 0] = x[1, 0, 0]
  CHECK(permute(x, {0, 1, 2}).to_vector<float>() == xv);
}

TEST_CASE("permute: size-1 axes, 8 dimensions and integer tensors") {
  Tensor x = iota_f32({1, 3, 1, 2});
  Tensor y = permute(x, {3, 2, 1, 0});
  CHECK(y.shape() == Shape{2, 1, 3, 1});
  CHECK(y.to_vector<float>() == std::vector<float>{0, 2, 4, 1, 3, 5});
  Tensor big = iota_f32({2, 1, 2, 1, 2, 1, 2, 3});
  Tensor rev = permute(big, {7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(rev.shape() == Shape{3, 2, 1, 2, 1, 2, 1, 2});
  CHECK(permute(rev, {7, 6, 5, 4, 3, 2, 1, 0}).to_vector<float>() == big.to_vector<float>());
  CHECK(rev.to_vector<float>()[1] == 24.0f);  // rev[0,0,0,0,0,0,0,1] = big[1,0,0,0,0,0,0,0]
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(transpose(i, 0, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 4, 2, 5, 3, 6});
  Tensor s = Tensor::scalar(4.0);
  CHECK(permute(s, {}).item() == 4.0);
  CHECK(permute(Tensor::zeros({0, 3}), {1, 0}).shape() == Shape{3, 0});
}

TEST_CASE("permute: bad orders and too many dimensions throw") {
  Tensor x = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(permute(x, {0, 0, 1}),
                       doctest::Contains("permute: order [0, 0, 1] is not a permutation of the 3 axes of f32[2, 3, 4]"),
                       Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1}), doctest::Contains("permute: order [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1, 3}), doctest::Contains("not a permutation"), Error);
  CHECK_THROWS_WITH_AS(permute(Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}), {0, 1, 2, 3, 4, 5, 6, 7, 8}),
                       doctest::Contains("permute: at most 8 dimensions"), Error);
  CHECK_THROWS_WITH_AS(transpose(x, 0, 3), doctest::Contains("transpose: axis 3 out of range"), Error);
}

TEST_CASE("transpose: swaps two axes; backward applies the inverse permutation") {
  Tensor m = iota_f32({2, 3});
  CHECK(transpose(m, 0, 1).to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(transpose(m, -1, 0).shape() == Shape{3, 2});

  Tensor x = Tensor::zeros({2, 3, 4}, DType::f64).set_requires_grad();
  Tensor y = permute(x, {2, 0, 1});  // [4, 2, 3]
  std::vector<double> g(24);
  std::iota(g.begin(), g.end(), 0.0);
  backward_with(y, Tensor::from_vector(g, {4, 2, 3}));
  // dx[i, j, k] = g[k, i, j]
  const auto dx = x.grad().to_vector<double>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) CHECK(dx[size_t((i * 3 + j) * 4 + k)] == g[size_t((k * 2 + i) * 3 + j)]);
}

TEST_CASE("shape ops: large inputs take the parallel paths and stay exact") {
  Tensor x = iota_f32({64, 33, 65});
  Tensor y = permute(x, {2, 0, 1});
  CHECK(permute(y, {1, 2, 0}).to_vector<float>() == x.to_vector<float>());
  Tensor parts = concat({slice(x, 1, 0, 10), slice(x, 1, 10, 33)}, 1);
  CHECK(parts.to_vector<float>() == x.to_vector<float>());
}
