#include <doctest/doctest.h>

#include "engine/ops/elementwise.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::gradcheck;

namespace {
// Values away from 0 so relu/abs kinks are not crossed by the finite-difference step.
Tensor input(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Tensor t = Tensor::uniform(shape, lo, hi, seed, 0, DType::f64);
  auto v = t.to_vector<double>();
  for (double& e : v)
    if (std::abs(e) < 0.05) e += 0.1;
  Tensor out = Tensor::from_vector(v, shape);
  out.set_requires_grad();
  return out;
}
}  // namespace

TEST_CASE("gradcheck: unary ops") {
  for (UnaryOp op : {UnaryOp::neg, UnaryOp::relu, UnaryOp::gelu, UnaryOp::exp, UnaryOp::square, UnaryOp::abs,
                     UnaryOp::sigmoid, UnaryOp::tanh}) {
    CAPTURE(static_cast<int>(op));
    CHECK_GRADIENTS([op](const std::vector<Tensor>& in) { return unary(op, in[0]); }, {input({3, 5}, 1)});
  }
  for (UnaryOp op : {UnaryOp::log, UnaryOp::sqrt}) {
    CAPTURE(static_cast<int>(op));
    CHECK_GRADIENTS([op](const std::vector<Tensor>& in) { return unary(op, in[0]); }, {input({7}, 2, 0.5, 3.0)});
  }
}

TEST_CASE("gradcheck: broadcasting binary ops and scalar ops") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3}, {2, 3}}, {{2, 3, 4}, {4}}, {{2, 3, 4}, {3, 1}}, {{1, 3}, {2, 1}}, {{5}, {}}};
  for (const auto& [sa, sb] : shapes) {
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
      CAPTURE(static_cast<int>(op));
      Tensor a = input(sa, 3);
      Tensor b = op == BinaryOp::div ? input(sb, 4, 0.5, 2.0) : input(sb, 4);
      CHECK_GRADIENTS([op](const std::vector<Tensor>& in) { return binary(op, in[0], in[1]); }, {a, b});
    }
  }
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return affine_scalar(in[0], -1.5, 0.25); }, {input({4}, 5)});
}

TEST_CASE("gradcheck: a two-layer composite with reuse") {
  Tensor x = input({4, 3}, 6);
  Tensor w1 = input({3}, 7);
  Tensor w2 = input({4, 1}, 8);
  CHECK_GRADIENTS(
      [](const std::vector<Tensor>& in) {
        Tensor h = gelu(in[0] * in[1]);
        return tanh(h * in[2] + h);
      },
      {x, w1, w2});
}
