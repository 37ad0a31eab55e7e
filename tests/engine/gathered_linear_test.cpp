// gathered_linear on the CPU against the composite it replaces, linear(gather_columns(x, index)):
// forward and every gradient, f32 and f64, i32 and i64 indices, with padding at the end of a row,
// in its middle, a row with every slot padded, a slot padded in every row, C = 1, no bias; a value
// by hand; thread-count independence; the tape; and the error messages.
#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "engine/ops/gathered_linear.h"
#include "engine/ops/matmul.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;

namespace {

// A [P, S] index over G columns with every padding pattern: row 0 full, row 1 padded at the end,
// row 2 padded in the middle and at the start, row 3 entirely padded, later rows mixed with
// repeated columns; slot S - 1 is padded in every row (its weight column gets no gradient).
template <typename I>
Tensor mixed_index(int64_t P, int64_t S, int64_t G) {
  std::vector<I> v(size_t(P * S), I(-1));
  for (int64_t p = 0; p < P; ++p)
    for (int64_t s = 0; s + 1 < S; ++s) {
      const bool valid = p == 0                 ? true
                         : p == 1               ? s < S / 2
                         : p == 2               ? s % 3 == 1
                         : p == 3               ? false
                                                : (p * 7 + s * 3) % 5 != 0;
      if (valid) v[size_t(p * S + s)] = I((p * 13 + s * 5) % G);
    }
  if (P > 0 && S > 1) v[size_t(0 * S + 0)] = I(G - 1);  // the last column of x is used too
  return Tensor::from_vector(v, {P, S});
}

struct Grads {
  std::vector<double> y, dx, dw, db;
};

// Forward and backward with upstream gradient dy through `f`, on fresh leaves.
template <typename F>
Grads run(F f, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& dy) {
  Tensor x = x0.clone().set_requires_grad();
  Tensor w = w0.clone().set_requires_grad();
  Tensor b = b0.defined() ? b0.clone().set_requires_grad() : Tensor();
  Tensor y = f(x, w, b);
  backward_with(y, dy);
  return {y.to_f64_vector(), x.grad().to_f64_vector(), w.grad().to_f64_vector(),
          b.defined() ? b.grad().to_f64_vector() : std::vector<double>{}};
}

Tensor gathered(const Tensor& index, const Tensor& x, const Tensor& w, const Tensor& b) {
  return gathered_linear(x, index, w, b);
}
Tensor composite(const Tensor& index, const Tensor& x, const Tensor& w, const Tensor& b) {
  return linear(gather_columns(x, index), w, b);
}

void compare_with_composite(int64_t C, int64_t G, int64_t P, int64_t S, int64_t h, DType dtype, bool with_bias,
                            const Tensor& index, double tol, bool last_slot_padded = true) {
  const Tensor x = Tensor::uniform({C, G}, -2, 2, 1, 0, dtype);
  const Tensor w = Tensor::uniform({h, S}, -1, 1, 2, 0, dtype);
  const Tensor b = with_bias ? Tensor::uniform({h}, -1, 1, 3, 0, dtype) : Tensor();
  const Tensor dy = Tensor::uniform({C, P, h}, -1, 1, 4, 0, dtype);
  const Grads got = run([&](auto& xx, auto& ww, auto& bb) { return gathered(index, xx, ww, bb); }, x, w, b, dy);
  const Grads want = run([&](auto& xx, auto& ww, auto& bb) { return composite(index, xx, ww, bb); }, x, w, b, dy);
  CHECK_CLOSE_VALUES(got.y, want.y, tol, tol);
  CHECK_CLOSE_VALUES(got.dx, want.dx, tol, tol);
  CHECK_CLOSE_VALUES(got.dw, want.dw, tol, tol);
  CHECK_CLOSE_VALUES(got.db, want.db, tol, tol);
  // Slot S - 1 is padded in every row: its weight column gets exactly zero, as in the composite.
  if (last_slot_padded)
    for (int64_t j = 0; j < h; ++j) CHECK(got.dw[size_t(j * S + S - 1)] == 0.0);
}

}  // namespace

TEST_CASE("gathered_linear: a value by hand, padding in the middle") {
  // x [1, 3] = [1, 2, 3]; index [[2, -1, 0]]; weight [2, 3]; bias [0.5, -1]
  // y[0, 0, :] = bias + x[2] * w[:, 0] + x[0] * w[:, 2] = [0.5 + 3*1 + 1*3, -1 + 3*4 + 1*6]
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {1, 3});
  Tensor index = Tensor::from_vector(std::vector<int32_t>{2, -1, 0}, {1, 3});
  Tensor w = Tensor::from_vector(std::vector<double>{1, 100, 3, 4, 100, 6}, {2, 3});
  Tensor b = Tensor::from_vector(std::vector<double>{0.5, -1}, {2});
  Tensor y = gathered_linear(x, index, w, b);
  CHECK(y.shape() == Shape{1, 1, 2});
  CHECK(y.to_vector<double>() == std::vector<double>{6.5, 17});
}

TEST_CASE("gathered_linear: forward and gradients equal the composite linear(gather_columns(x, index))") {
  const int64_t G = 23, P = 7, S = 9, h = 13;
  for (DType dtype : {DType::f32, DType::f64}) {
    const double tol = dtype == DType::f32 ? 2e-5 : 1e-12;
    for (bool with_bias : {true, false}) {
      for (int64_t C : {1, 5, 40}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(with_bias);
        CAPTURE(C);
        compare_with_composite(C, G, P, S, h, dtype, with_bias, mixed_index<int32_t>(P, S, G), tol);
        compare_with_composite(C, G, P, S, h, dtype, with_bias, mixed_index<int64_t>(P, S, G), tol);
      }
    }
  }
}

TEST_CASE("gathered_linear: the model's shape (S = 114, h = 512, 112 pathways) equals the composite") {
  const int64_t C = 3, G = 706, P = 112, S = 114, h = 512;
  std::vector<int32_t> v(size_t(P * S), -1);
  for (int64_t p = 0; p < P; ++p)  // GDSC2-like: 5 to 114 genes per pathway, padding at the end
    for (int64_t s = 0; s < 5 + (p * 37) % 110; ++s) v[size_t(p * S + s)] = int32_t((p * 131 + s * 17) % G);
  compare_with_composite(C, G, P, S, h, DType::f32, true, Tensor::from_vector(v, {P, S}), 2e-5, false);
}

TEST_CASE("gathered_linear: a row of index with every slot padded gives the bias (or zeros)") {
  Tensor x = Tensor::uniform({4, 6}, -1, 1, 5);
  Tensor index = Tensor::from_vector(std::vector<int64_t>{-1, -1, -1, 1, -1, 5}, {2, 3});
  Tensor w = Tensor::uniform({3, 3}, -1, 1, 6), b = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  const std::vector<float> with_bias = gathered_linear(x, index, w, b).to_vector<float>();
  const std::vector<float> without = gathered_linear(x, index, w, Tensor()).to_vector<float>();
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t j = 0; j < 3; ++j) {
      CHECK(with_bias[size_t((c * 2 + 0) * 3 + j)] == float(j + 1));
      CHECK(without[size_t((c * 2 + 0) * 3 + j)] == 0.f);
    }
  // Empty sizes: no rows of x, or an index without slots.
  CHECK(gathered_linear(Tensor::zeros({0, 6}), index, w, b).shape() == Shape{0, 2, 3});
  Tensor no_slots = Tensor::zeros({2, 0}, DType::i32);
  CHECK(gathered_linear(x, no_slots, Tensor::zeros({3, 0}), b).to_vector<float>() ==
        std::vector<float>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});
}

TEST_CASE("gathered_linear: forward and backward do not depend on the thread count") {
  // f32 sums round, so any change of summation order with the threads would show.
  const int64_t C = 60, G = 97, P = 37, S = 41, h = 33;
  const Tensor index = mixed_index<int32_t>(P, S, G);
  const Tensor x = Tensor::uniform({C, G}, -2, 2, 7), w = Tensor::uniform({h, S}, -1, 1, 8);
  const Tensor b = Tensor::uniform({h}, -1, 1, 9), dy = Tensor::uniform({C, P, h}, -1, 1, 10);
  auto at = [&](int threads) {
    omp_set_num_threads(threads);
    return run([&](auto& xx, auto& ww, auto& bb) { return gathered(index, xx, ww, bb); }, x, w, b, dy);
  };
  const int saved = omp_get_max_threads();
  const Grads one = at(1), three = at(3), many = at(64);  // 64 > P: each GEMM then uses the threads
  omp_set_num_threads(saved);
  CHECK(one.y == three.y);
  CHECK(one.dx == three.dx);
  CHECK(one.dw == three.dw);
  CHECK(one.db == three.db);
  CHECK(one.y == many.y);
  CHECK(one.dx == many.dx);
  CHECK(one.dw == many.dw);
  CHECK(one.db == many.db);
}

TEST_CASE("gathered_linear: records only when a gradient is wanted; no input gradient work for a constant x") {
  Tensor x = Tensor::uniform({3, 6}, -1, 1, 11);
  Tensor index = mixed_index<int32_t>(5, 4, 6);
  Tensor w = Tensor::uniform({2, 4}, -1, 1, 12), b = Tensor::uniform({2}, -1, 1, 13);
  {
    NoGrad no_grad;
    w.set_requires_grad();
    gathered_linear(x, index, w, b);
    CHECK(tape_size() == 0);
  }
  Tensor y = gathered_linear(x, index, w, b);  // x is constant, as the expression is in DiSPA
  CHECK(tape_size() == 1);
  backward_with(y, Tensor::ones(y.shape()));
  CHECK(!x.grad().defined());
  CHECK(w.grad().defined());
  CHECK(!b.grad().defined());
  CHECK(tape_size() == 0);
}

TEST_CASE("gathered_linear: an inf weight in a padded slot does not reach the output") {
  Tensor x = Tensor::uniform({2, 4}, -1, 1, 14);
  Tensor index = Tensor::from_vector(std::vector<int32_t>{0, -1, 3, 1, 2, -1}, {2, 3});
  std::vector<float> wv = {1, 2, 3, 4, 5, 6};
  wv[1] = std::numeric_limits<float>::infinity();  // slot 1 of output row 0: padded in pathway 0 only
  Tensor w = Tensor::from_vector(wv, {2, 3});
  const std::vector<float> y = gathered_linear(x, index, w, Tensor()).to_vector<float>();  // [2, 2, 2]
  CHECK(std::isfinite(y[0]));   // cell 0, pathway 0: slot 1 padded
  CHECK(std::isinf(y[2]));      // cell 0, pathway 1: slot 1 reads x[:, 2]
}

TEST_CASE("gathered_linear: errors name the op, the tensors and a bad index's value and position") {
  Tensor x = Tensor::zeros({2, 5});
  Tensor w = Tensor::zeros({4, 3}), b = Tensor::zeros({4});
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, -1, 4, 2, 5, -1}, {2, 3});
  CHECK_THROWS_WITH_AS(gathered_linear(x, bad, w, b),
                       doctest::Contains("gathered_linear: index 5 at position [1, 1] of index i64[2, 3] on cpu is out "
                                         "of range for the 5 columns of x f32[2, 5] on cpu (valid: 0..4, or -1 for "
                                         "padding)"),
                       Error);
  Tensor negative = Tensor::from_vector(std::vector<int32_t>{0, -2, 1}, {1, 3});
  CHECK_THROWS_WITH_AS(gathered_linear(x, negative, w, b),
                       doctest::Contains("gathered_linear: index -2 at position [0, 1]"), Error);
  Tensor index = Tensor::from_vector(std::vector<int32_t>{0, -1, 4}, {1, 3});
  CHECK_THROWS_WITH_AS(gathered_linear(x, index, Tensor::zeros({4, 2}), b),
                       doctest::Contains("gathered_linear: weight must be [h, S] with S = 3 (the slots of index "
                                         "i32[1, 3] on cpu), got f32[4, 2] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(gathered_linear(x, index, w, Tensor::zeros({3})),
                       doctest::Contains("gathered_linear: bias f32[3] on cpu does not match weight f32[4, 3] on cpu "
                                         "(want [4])"),
                       Error);
  CHECK_THROWS_WITH_AS(gathered_linear(x, index, Tensor::zeros({4, 3}, DType::f64), b),
                       doctest::Contains("gathered_linear: dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(gathered_linear(Tensor::zeros({2, 5, 1}), index, w, b),
                       doctest::Contains("gathered_linear: x must be [C, G], got f32[2, 5, 1]"), Error);
  CHECK_THROWS_WITH_AS(gathered_linear(x, Tensor::zeros({1, 3}), w, b),
                       doctest::Contains("gathered_linear: index must be i32 or i64, got f32[1, 3]"), Error);
  CHECK_THROWS_WITH_AS(gathered_linear(x, Tensor::zeros({3}, DType::i32), w, b),
                       doctest::Contains("gathered_linear: index must be [P, S], got i32[3]"), Error);
}
