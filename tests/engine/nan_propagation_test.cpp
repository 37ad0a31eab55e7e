// Non-finite values propagate through every op family as they do in PyTorch (docs/RELIABILITY.md,
// defect 2): a NaN input gives NaN where PyTorch gives NaN, and leaves alone what PyTorch leaves
// alone (other rows, masked keys, padding). ReLU used to map NaN to 0 and max-based reductions
// skipped NaN, so a NaN weight could end in a finite, wrong prediction.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/ops/softmax.h"

using namespace dispa;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> values(const Tensor& t) { return t.to(Device::cpu()).to_vector<float>(); }

// Which entries are NaN, as a 0/1 pattern (compared whole, so a message shows all of it).
std::vector<int> nan_pattern(const Tensor& t) {
  std::vector<int> out;
  for (float v : values(t)) out.push_back(std::isnan(v) ? 1 : 0);
  return out;
}

Tensor f32(std::vector<float> v, Shape shape) { return Tensor::from_vector(v, shape); }

}  // namespace

TEST_CASE("NaN propagation: unary ops keep NaN (relu and abs included), infinities as PyTorch") {
  const Tensor x = f32({kNaN, -1.f, 2.f}, {3});
  for (UnaryOp op : {UnaryOp::neg, UnaryOp::relu, UnaryOp::gelu, UnaryOp::exp, UnaryOp::log, UnaryOp::sqrt,
                     UnaryOp::square, UnaryOp::abs, UnaryOp::sigmoid, UnaryOp::tanh}) {
    const std::string name = unary_op_name(op);
    CAPTURE(name);
    CHECK(std::isnan(values(unary(op, x))[0]));
  }
  CHECK(values(relu(f32({kInf, -kInf}, {2}))) == std::vector<float>{kInf, 0.f});
  CHECK(values(relu(f32({-3.f, 0.f, 4.f}, {3}))) == std::vector<float>{0.f, 0.f, 4.f});
}

TEST_CASE("NaN propagation: relu backward passes the gradient at NaN (PyTorch's threshold_backward)") {
  Tensor x = f32({kNaN, -1.f, 2.f}, {3});
  x.set_requires_grad(true);
  Tensor y = sum_all(relu(x));
  y.backward();
  CHECK(values(x.grad()) == std::vector<float>{1.f, 0.f, 1.f});
  // A NaN gradient arriving from above is not turned into a number either.
  Tensor z = f32({1.f, -1.f}, {2});
  z.set_requires_grad(true);
  sum_all(relu(z) * f32({kNaN, kNaN}, {2})).backward();
  CHECK(nan_pattern(z.grad()) == std::vector<int>{1, 1});  // -1 gives 0 * NaN
}

TEST_CASE("NaN propagation: binary ops and scalar affine") {
  const Tensor a = f32({kNaN, 1.f}, {2}), b = f32({0.f, 0.f}, {2});
  CHECK(nan_pattern(a + b) == std::vector<int>{1, 0});
  CHECK(nan_pattern(a * b) == std::vector<int>{1, 0});  // NaN * 0 is NaN
  CHECK(nan_pattern(div(a, f32({1.f, 1.f}, {2}))) == std::vector<int>{1, 0});
  CHECK(nan_pattern(affine_scalar(a, 0.0, 1.0)) == std::vector<int>{1, 0});
}

TEST_CASE("NaN propagation: softmax rows with a NaN or +inf key become NaN; masked keys do not count") {
  // Row 0 has a NaN key, row 1 is clean, row 2 has +inf (exp(inf - inf) is NaN in PyTorch too).
  const Tensor x = f32({kNaN, 1.f, 2.f, 0.f, 1.f, 2.f, kInf, 1.f, 2.f}, {3, 3});
  CHECK(nan_pattern(softmax(x)) == std::vector<int>{1, 1, 1, 0, 0, 0, 1, 1, 1});
  // The NaN key masked out: the row is an ordinary softmax of the other two keys.
  const Tensor mask = f32({0.f, 1.f, 1.f}, {1, 3});
  const std::vector<float> y = values(masked_softmax(f32({kNaN, 0.f, 0.f}, {1, 3}), mask));
  CHECK(y == std::vector<float>{0.f, 0.5f, 0.5f});
  // NaN in a kept key of a masked row.
  CHECK(nan_pattern(masked_softmax(f32({0.f, kNaN, 0.f}, {1, 3}), mask)) == std::vector<int>{1, 1, 1});
  // A NaN key that is the first one seen and one that is the last: the row max must not skip it.
  CHECK(nan_pattern(softmax(f32({1.f, 2.f, kNaN}, {1, 3}))) == std::vector<int>{1, 1, 1});
  CHECK(nan_pattern(softmax(f32({kNaN, -kInf, -kInf}, {1, 3}))) == std::vector<int>{1, 1, 1});
}

TEST_CASE("NaN propagation: softmax backward with a NaN gradient") {
  Tensor x = f32({0.f, 1.f, 0.f, 1.f}, {2, 2});
  x.set_requires_grad(true);
  sum_all(softmax(x) * f32({kNaN, 1.f, 1.f, 1.f}, {2, 2})).backward();
  CHECK(nan_pattern(x.grad()) == std::vector<int>{1, 1, 0, 0});
}

TEST_CASE("NaN propagation: layer, RMS and batch norms") {
  const Tensor x = f32({kNaN, 1.f, 2.f, 3.f, 4.f, 6.f}, {2, 3});
  CHECK(nan_pattern(layer_norm(x, 1, Tensor(), Tensor())) == std::vector<int>{1, 1, 1, 0, 0, 0});
  CHECK(nan_pattern(rms_norm(x, Tensor())) == std::vector<int>{1, 1, 1, 0, 0, 0});
  // Training: the NaN column's batch statistics are NaN, so the whole column is.
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  CHECK(nan_pattern(batch_norm1d(x, Tensor(), Tensor(), rm, rv, true)) == std::vector<int>{1, 0, 0, 1, 0, 0});
  CHECK(std::isnan(values(rm)[0]));  // and the running statistics take the NaN, as in PyTorch
  // Eval: running statistics; only the NaN element itself.
  Tensor em = Tensor::zeros({3}), ev = Tensor::ones({3});
  CHECK(nan_pattern(batch_norm1d(x, Tensor(), Tensor(), em, ev, false)) == std::vector<int>{1, 0, 0, 0, 0, 0});
  // NaN weights.
  CHECK(nan_pattern(layer_norm(f32({1.f, 2.f}, {1, 2}), 1, f32({kNaN, 1.f}, {2}), Tensor())) ==
        std::vector<int>{1, 0});
}

TEST_CASE("NaN propagation: reductions and the MSE loss") {
  const Tensor x = f32({kNaN, 1.f, 2.f, 3.f}, {2, 2});
  CHECK(nan_pattern(sum(x, 1)) == std::vector<int>{1, 0});
  CHECK(nan_pattern(mean(x, 0)) == std::vector<int>{1, 0});
  CHECK(std::isnan(values(sum_all(x))[0]));
  CHECK(std::isnan(values(mse_loss(f32({kNaN, 1.f}, {2}), f32({0.f, 1.f}, {2})))[0]));
  CHECK(std::isnan(values(mse_loss(f32({0.f, 1.f}, {2}), f32({kNaN, 1.f}, {2})))[0]));
}

TEST_CASE("NaN propagation: dropout keeps NaN in dropped positions (x * mask * scale, as PyTorch)") {
  const Tensor x = Tensor::full({64}, kNaN);
  const std::vector<int> pattern = nan_pattern(dropout(x, 0.5, true, 1234, 0));
  CHECK(pattern == std::vector<int>(64, 1));
  // Finite inputs are unchanged by the rule: dropped are exactly 0, kept scaled.
  const std::vector<float> y = values(dropout(Tensor::ones({64}), 0.5, true, 1234, 0));
  int dropped = 0;
  for (float v : y) {
    CHECK((v == 0.f || v == 2.f));
    dropped += v == 0.f;
  }
  CHECK(dropped > 0);
}

TEST_CASE("NaN propagation: gathers copy NaN; padding stays 0") {
  const Tensor table = f32({kNaN, 1.f, 2.f, 3.f}, {2, 2});
  CHECK(nan_pattern(gather_rows(table, Tensor::from_vector(std::vector<int32_t>{1, 0, -1}, {3}))) ==
        std::vector<int>{0, 0, 1, 0, 0, 0});
  CHECK(nan_pattern(gather_columns(table, Tensor::from_vector(std::vector<int32_t>{0, -1}, {2}))) ==
        std::vector<int>{1, 0, 0, 0});
}

TEST_CASE("NaN propagation: matmul and linear (fresh outputs, beta = 0) spread NaN along the row") {
  const Tensor a = f32({kNaN, 1.f, 2.f, 3.f}, {2, 2}), b = f32({1.f, 0.f, 0.f, 1.f}, {2, 2});
  CHECK(nan_pattern(matmul(a, b)) == std::vector<int>{1, 1, 0, 0});
  CHECK(nan_pattern(linear(a, b, f32({0.f, 0.f}, {2}))) == std::vector<int>{1, 1, 0, 0});
  CHECK(nan_pattern(linear(f32({1.f, 1.f}, {1, 2}), b, f32({0.f, kNaN}, {2}))) == std::vector<int>{0, 1});
  // A zero matrix times NaN is NaN (no skipped zero blocks).
  CHECK(nan_pattern(matmul(Tensor::zeros({2, 2}), a)) == std::vector<int>{1, 0, 1, 0});
}

TEST_CASE("NaN propagation: shape ops copy NaN where it lands") {
  const Tensor a = f32({kNaN, 1.f}, {1, 2});
  CHECK(nan_pattern(concat({a, a}, 0)) == std::vector<int>{1, 0, 1, 0});
  CHECK(nan_pattern(transpose(a, 0, 1)) == std::vector<int>{1, 0});
  CHECK(nan_pattern(slice(a, 1, 0, 1)) == std::vector<int>{1});
}
