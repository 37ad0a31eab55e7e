// CPU<->CUDA parity with non-finite inputs (label gpu; skipped without a device): every op family
// gives NaN and inf on the same elements on both devices (the max and ReLU rules are shared
// DISPA_HD functions, engine/math_common.h), forward and, where the op has one, backward. NaN sits
// in lanes other than 0 and past the first warp or chunk, so warp and block reductions must carry
// it. CPU semantics (what PyTorch does): tests/engine/nan_propagation_test.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"
#include "tests/engine/parity_support.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;
using dispa::test::gpu_leaf;

namespace {

const Device kGpu = Device::cuda(0);
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Uniform values with NaN, +inf and -inf planted at the given flat positions (every 3rd one of
// each kind in turn).
Tensor planted(const Shape& shape, const std::vector<int64_t>& at, uint64_t seed, double lo = -3, double hi = 3) {
  std::vector<float> v = Tensor::uniform(shape, lo, hi, seed).to_vector<float>();
  for (size_t i = 0; i < at.size(); ++i) v[size_t(at[i])] = i % 3 == 0 ? kNaN : (i % 3 == 1 ? kInf : -kInf);
  return Tensor::from_vector(v, shape);
}

Tensor nan_at(const Shape& shape, const std::vector<int64_t>& at, uint64_t seed) {
  std::vector<float> v = Tensor::uniform(shape, -3, 3, seed).to_vector<float>();
  for (int64_t i : at) v[size_t(i)] = kNaN;
  return Tensor::from_vector(v, shape);
}

}  // namespace

TEST_CASE("NaN parity: unary ops forward and backward with NaN and infinities") {
  for (UnaryOp op : {UnaryOp::neg, UnaryOp::relu, UnaryOp::gelu, UnaryOp::exp, UnaryOp::log, UnaryOp::sqrt,
                     UnaryOp::square, UnaryOp::abs, UnaryOp::sigmoid, UnaryOp::tanh}) {
    const std::string name = unary_op_name(op);
    CAPTURE(name);
    Tensor xc = planted({1025}, {0, 1, 2, 31, 32, 33, 1000}, 70).set_requires_grad();
    Tensor xg = gpu_leaf(xc);
    Tensor yc = unary(op, xc), yg = unary(op, xg);
    CHECK_NONFINITE_PARITY(yg, yc, 1e-6, 1e-5);
    Tensor up = nan_at({1025}, {5, 700}, 71);  // NaN gradients from above too
    backward_with(yc, up);
    backward_with(yg, up.to(kGpu));
    CHECK_NONFINITE_PARITY(xg.grad(), xc.grad(), 1e-6, 1e-5);
  }
}

TEST_CASE("NaN parity: binary ops with broadcasting") {
  const Tensor a = planted({6, 4, 17}, {0, 40, 401}, 72), b = planted({6, 1, 17}, {3, 90}, 73);
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
    CHECK_NONFINITE_PARITY(binary(op, a.to(kGpu), b.to(kGpu)), binary(op, a, b), 1e-6, 1e-5);
  }
  CHECK_NONFINITE_PARITY(affine_scalar(a.to(kGpu), 0.0, 1.0), affine_scalar(a, 0.0, 1.0), 0, 0);
}

TEST_CASE("NaN parity: softmax and masked softmax (NaN past the first warp, in masked keys, +inf)") {
  for (const Shape& shape : {Shape{5, 17}, Shape{7, 257}, Shape{3, 4097}}) {
    CAPTURE(shape_str(shape));
    const int64_t K = shape.back();
    // Row 0: NaN in the last key; row 1: +inf in a middle key; row 2: -inf only.
    std::vector<float> v = Tensor::uniform(shape, -3, 3, 74).to_vector<float>();
    v[size_t(K - 1)] = kNaN;
    v[size_t(K + K / 2)] = kInf;
    v[size_t(2 * K + 1)] = -kInf;
    Tensor xc = Tensor::from_vector(v, shape).set_requires_grad();
    Tensor xg = gpu_leaf(xc);
    Tensor yc = softmax(xc), yg = softmax(xg);
    CHECK_NONFINITE_PARITY(yg, yc, 1e-6, 1e-5);
    const Tensor up = Tensor::uniform(shape, -1, 1, 75);
    backward_with(yc, up);
    backward_with(yg, up.to(kGpu));
    CHECK_NONFINITE_PARITY(xg.grad(), xc.grad(), 1e-6, 1e-4);
    // The NaN key masked out in row 0, kept elsewhere.
    std::vector<float> m(size_t(shape_numel(shape)), 1.f);
    m[size_t(K - 1)] = 0.f;
    const Tensor mask = Tensor::from_vector(m, shape);
    CHECK_NONFINITE_PARITY(masked_softmax(xc.detach().to(kGpu), mask.to(kGpu)), masked_softmax(xc.detach(), mask),
                           1e-6, 1e-5);
  }
}

TEST_CASE("NaN parity: layer, RMS and batch norms, forward and backward") {
  Tensor xc = nan_at({64, 192}, {5, 64 * 3 + 191}, 76).set_requires_grad();
  Tensor xg = gpu_leaf(xc);
  const Tensor w = Tensor::uniform({192}, 0.5, 1.5, 77), b = Tensor::uniform({192}, -1, 1, 78);
  Tensor yc = layer_norm(xc, 1, w, b), yg = layer_norm(xg, 1, w.to(kGpu), b.to(kGpu));
  CHECK_NONFINITE_PARITY(yg, yc, 1e-5, 1e-4);
  const Tensor up = Tensor::uniform({64, 192}, -1, 1, 79);
  backward_with(yc, up);
  backward_with(yg, up.to(kGpu));
  CHECK_NONFINITE_PARITY(xg.grad(), xc.grad(), 1e-5, 1e-3);
  CHECK_NONFINITE_PARITY(rms_norm(xg.detach(), w.to(kGpu)), rms_norm(xc.detach(), w), 1e-5, 1e-4);
  for (bool training : {true, false}) {
    CAPTURE(training);
    Tensor rm = Tensor::zeros({192}), rv = Tensor::ones({192});
    Tensor rmg = rm.to(kGpu), rvg = rv.to(kGpu);
    CHECK_NONFINITE_PARITY(batch_norm1d(xg.detach(), w.to(kGpu), b.to(kGpu), rmg, rvg, training),
                           batch_norm1d(xc.detach(), w, b, rm, rv, training), 1e-5, 1e-4);
    CHECK_NONFINITE_PARITY(rmg, rm, 1e-6, 1e-5);
    CHECK_NONFINITE_PARITY(rvg, rv, 1e-6, 1e-5);
  }
}

TEST_CASE("NaN parity: reductions on the warp and the chunked paths, and the MSE loss") {
  for (const Shape& shape : {Shape{50, 100}, Shape{2, 20000}, Shape{20001}}) {
    CAPTURE(shape_str(shape));
    const Tensor x = planted(shape, {shape_numel(shape) - 1, 7}, 80);
    const int last = int(shape.size()) - 1;
    CHECK_NONFINITE_PARITY(sum(x.to(kGpu), last), sum(x, last), 1e-3, 1e-4);
    CHECK_NONFINITE_PARITY(mean(x.to(kGpu), 0), mean(x, 0), 1e-5, 1e-4);
    CHECK_NONFINITE_PARITY(sum_all(x.to(kGpu)), sum_all(x), 1e-2, 1e-4);
  }
  const Tensor p = nan_at({1000}, {999}, 81), t = Tensor::uniform({1000}, -1, 1, 82);
  CHECK_NONFINITE_PARITY(mse_loss(p.to(kGpu), t.to(kGpu)), mse_loss(p, t), 1e-6, 1e-5);
}

TEST_CASE("NaN parity: dropout keeps NaN in dropped positions on both devices") {
  const Tensor x = planted({4099}, {0, 1, 2, 4098}, 83);
  CHECK_NONFINITE_PARITY(dropout(x.to(kGpu), 0.5, true, 99, 7), dropout(x, 0.5, true, 99, 7), 1e-6, 1e-6);
}

TEST_CASE("NaN parity: gathers, matmul and linear") {
  const Tensor table = planted({10, 33}, {0, 34, 329}, 84);
  const Tensor rows = Tensor::from_vector(std::vector<int32_t>{9, -1, 0, 1}, {4});
  CHECK_NONFINITE_PARITY(gather_rows(table.to(kGpu), rows.to(kGpu)), gather_rows(table, rows), 0, 0);
  const Tensor cols = Tensor::from_vector(std::vector<int32_t>{32, -1, 1, 0}, {2, 2});
  CHECK_NONFINITE_PARITY(gather_columns(table.to(kGpu), cols.to(kGpu)), gather_columns(table, cols), 0, 0);
  const Tensor a = nan_at({65, 130}, {0, 130 * 40 + 7}, 85), bm = Tensor::uniform({130, 33}, -1, 1, 86);
  CHECK_NONFINITE_PARITY(matmul(a.to(kGpu), bm.to(kGpu)), matmul(a, bm), 1e-4, 1e-4);
  const Tensor wt = nan_at({33, 130}, {130 * 5}, 87), bias = Tensor::uniform({33}, -1, 1, 88);
  CHECK_NONFINITE_PARITY(linear(a.to(kGpu), wt.to(kGpu), bias.to(kGpu)), linear(a, wt, bias), 1e-4, 1e-4);
}
