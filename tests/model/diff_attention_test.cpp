// Fused differential cross-attention (model/diff_attention.h) against the scalar double-precision
// reference in diff_attention_reference.h: forward values (output and map) over edge shapes and
// masks, extreme values, the backward against a stage-by-stage scalar backward, and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "model/diff_attention.h"
#include "tests/model/diff_attention_reference.h"
#include "tests/support/gradcheck.h"
#include "tests/support/close.h"

using namespace dispa;
using dispa::test::DiffAttentionCase;
using dispa::test::make_diff_attention_case;

using dispa::test::all_finite;

namespace {

struct ShapeCase {
  int64_t batch, lq, lk;
  int heads, head_dim;
  int mask_kind;
};

// Edge shapes: sizes of 1, primes, one past a warp (33), the model's L = 17 and D = 24.
const ShapeCase kShapes[] = {
    {1, 1, 1, 1, 1, 0},  {2, 1, 17, 4, 3, 1}, {2, 5, 17, 4, 6, 1}, {3, 7, 13, 1, 5, 0},
    {2, 3, 33, 2, 4, 3}, {2, 4, 1, 4, 2, 0},  {3, 2, 5, 2, 3, 2},  {2, 11, 17, 4, 24, 3},
};

template <typename T>
DiffAttentionResult run(const DiffAttentionCase<T>& c, bool requires_grad = false, const Shape& lambda_shape = {}) {
  auto t = test::to_tensors(c, Device::cpu(), requires_grad, lambda_shape);
  return diff_attention(t.q, t.k, t.v, t.mask, t.lambda, double(c.lambda_init), t.weight, c.heads, double(c.eps));
}


}  // namespace

TEST_CASE("diff_attention: f64 forward matches the scalar reference on edge shapes") {
  uint32_t seed = 1;
  for (const ShapeCase& s : kShapes) {
    CAPTURE(s.batch); CAPTURE(s.lq); CAPTURE(s.lk); CAPTURE(s.heads); CAPTURE(s.head_dim); CAPTURE(s.mask_kind);
    auto c = make_diff_attention_case<double>(s.batch, s.lq, s.lk, s.heads, s.head_dim, seed++, s.mask_kind);
    const auto want = test::reference_forward(c);
    const DiffAttentionResult got = run(c);
    CHECK(got.output.shape() == c.q_shape());
    CHECK(got.attention.shape() == c.map_shape());
    CHECK_CLOSE_VALUES(got.output.to_f64_vector(), want.y, 1e-12, 1e-10);
    CHECK_CLOSE_VALUES(got.attention.to_f64_vector(), want.attn, 1e-13, 1e-11);
  }
}

TEST_CASE("diff_attention: f32 forward matches the f64 reference within 2e-5 + 1e-4 rel") {
  uint32_t seed = 100;
  for (const ShapeCase& s : kShapes) {
    CAPTURE(s.lq); CAPTURE(s.lk); CAPTURE(s.heads); CAPTURE(s.head_dim);
    auto c = make_diff_attention_case<double>(s.batch, s.lq, s.lk, s.heads, s.head_dim, seed++, s.mask_kind);
    // Compare against the reference evaluated on the f32-rounded inputs.
    const auto cf = test::convert_case<float>(c);
    const auto rounded = test::convert_case<double>(cf);
    const auto want = test::reference_forward(rounded);
    const DiffAttentionResult got = run(cf);
    CHECK_CLOSE_VALUES(got.output.to_f64_vector(), want.y, 2e-5, 1e-4);
    CHECK_CLOSE_VALUES(got.attention.to_f64_vector(), want.attn, 1e-6, 1e-5);
  }
}

TEST_CASE("diff_attention: f32 forward and backward at every CPU level match the f64 op") {
  uint32_t seed = 300;
  for (const ShapeCase& s : kShapes) {
    CAPTURE(s.lq); CAPTURE(s.lk); CAPTURE(s.heads); CAPTURE(s.head_dim); CAPTURE(s.mask_kind);
    const auto c = test::convert_case<double>(
        test::convert_case<float>(make_diff_attention_case<double>(s.batch, s.lq, s.lk, s.heads, s.head_dim, seed++,
                                                                   s.mask_kind)));
    const std::vector<double> dy = make_diff_attention_case<double>(s.batch, s.lq, 1, s.heads, s.head_dim, seed++).q;
    auto grads = [&](auto precision_tag) {
      using T = decltype(precision_tag);
      const auto cc = test::convert_case<T>(c);
      auto t = test::to_tensors(cc, Device::cpu(), true);
      const DiffAttentionResult r =
          diff_attention(t.q, t.k, t.v, t.mask, t.lambda, double(cc.lambda_init), t.weight, cc.heads, double(cc.eps));
      test::backward_with(r.output, Tensor::from_vector(std::vector<T>(dy.begin(), dy.end()), cc.q_shape()));
      return std::vector<Tensor>{r.output, r.attention, t.q.grad(), t.k.grad(), t.v.grad(), t.lambda.grad(),
                                 t.weight.grad()};
    };
    const std::vector<Tensor> want = grads(double{});
    for (CpuLevel level : runnable_cpu_levels()) {
      ScopedCpuLevel scoped(level);
      CAPTURE(std::string(cpu_level_name(level)));
      const std::vector<Tensor> got = grads(float{});
      const double atol[] = {2e-5, 1e-6, 1e-4, 1e-4, 1e-4, 1e-3, 1e-3};
      for (size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        CHECK_CLOSE_VALUES(got[i].to_f64_vector(), want[i].to_f64_vector(), atol[i], 1e-3);
      }
    }
  }
}

TEST_CASE("diff_attention: one valid key gives A = 1 − λ there and 0 elsewhere") {
  auto c = make_diff_attention_case<double>(3, 4, 7, 2, 3, 7, /*mask_kind=*/2);
  c.lambda = 0.35;
  const DiffAttentionResult got = run(c);
  const auto attn = got.attention.to_f64_vector();
  for (int64_t b = 0; b < c.batch; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int64_t i = 0; i < c.lq; ++i)
        for (int64_t j = 0; j < c.lk; ++j) {
          const double want = c.mask[size_t(b * c.lk + j)] != 0 ? 1.0 - c.lambda : 0.0;
          CHECK(attn[size_t(((b * c.heads + h) * c.lq + i) * c.lk + j)] == doctest::Approx(want).epsilon(1e-14));
        }
  CHECK_CLOSE_VALUES(got.output.to_f64_vector(), test::reference_forward(c).y, 1e-12, 1e-10);
}

template <typename T>
void check_fully_masked() {
  {
    auto c = make_diff_attention_case<T>(2, 3, 5, 2, 4, 11, /*mask_kind=*/3);  // batch item 1 fully masked
    auto t = test::to_tensors(c, Device::cpu(), true);
    DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, 0.2, t.weight, c.heads);
    const auto y = r.output.to_f64_vector();
    const auto attn = r.attention.to_f64_vector();
    const size_t half_out = y.size() / 2, half_map = attn.size() / 2;
    for (size_t e = half_out; e < y.size(); ++e) CHECK(y[e] == 0.0);
    for (size_t e = half_map; e < attn.size(); ++e) CHECK(attn[e] == 0.0);
    CHECK(all_finite(r.output));
    test::backward_with(r.output, Tensor::ones(r.output.shape(), r.output.dtype()));
    for (const Tensor* x : {&t.q, &t.k, &t.v, &t.lambda, &t.weight}) CHECK(all_finite(x->grad()));
    // Nothing reaches the masked item's q, k, v.
    for (const Tensor* x : {&t.q, &t.k, &t.v}) {
      const auto g = x->grad().to_f64_vector();
      for (size_t e = g.size() / 2; e < g.size(); ++e) CHECK(g[e] == 0.0);
    }
  }
}

TEST_CASE("diff_attention: a fully masked row gives zeros and zero, finite gradients") {
  check_fully_masked<double>();
  check_fully_masked<float>();
}

TEST_CASE("diff_attention: extreme scores, a large λ and tiny-variance rows stay finite") {
  SUBCASE("scores of order 1e4 (f32) match the reference") {
    auto c = make_diff_attention_case<double>(2, 5, 17, 4, 6, 21, 1, /*spread=*/200.0);
    const auto cf = test::convert_case<float>(c);
    const DiffAttentionResult got = run(cf);
    CHECK(all_finite(got.output));
    CHECK(all_finite(got.attention));
    // Sharp softmaxes: f32 scores carry absolute errors of order 1e4·1e-7 = 1e-3, so compare loosely.
    const auto want = test::reference_forward(test::convert_case<double>(cf));
    CHECK_CLOSE_VALUES(got.attention.to_f64_vector(), want.attn, 2e-2, 0);
  }
  SUBCASE("λ = 1e3 and λ = −50") {
    for (double lambda : {1e3, -50.0}) {
      auto c = make_diff_attention_case<double>(2, 3, 9, 2, 5, 22, 1);
      c.lambda = lambda;
      CHECK_CLOSE_VALUES(run(c).output.to_f64_vector(), test::reference_forward(c).y, 1e-12, 1e-9);
      auto t = test::to_tensors(test::convert_case<float>(c), Device::cpu(), true);
      DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, 0.2, t.weight, c.heads);
      CHECK(all_finite(r.output));
      test::backward_with(r.output, Tensor::ones(r.output.shape(), DType::f32));
      for (const Tensor* x : {&t.q, &t.k, &t.v, &t.lambda, &t.weight}) CHECK(all_finite(x->grad()));
    }
  }
  SUBCASE("V of order 1e-30: RMSNorm of a near-zero row") {
    auto c = make_diff_attention_case<double>(2, 3, 6, 2, 4, 23, 0);
    for (double& x : c.v) x *= 1e-30;
    const auto got = run(c);
    CHECK(all_finite(got.output));
    CHECK_CLOSE_VALUES(got.output.to_f64_vector(), test::reference_forward(c).y, 1e-12, 1e-9);
    for (double& x : c.v) x = 0.0;  // exactly zero: o = 0, y = 0
    for (double x : run(c).output.to_f64_vector()) CHECK(x == 0.0);
    auto cf = test::convert_case<float>(c);
    cf.v.assign(c.v.size(), 1e-30f);
    auto t = test::to_tensors(cf, Device::cpu(), true);
    DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, 0.2, t.weight, cf.heads);
    CHECK(all_finite(r.output));
    test::backward_with(r.output, Tensor::ones(r.output.shape(), DType::f32));
    for (const Tensor* x : {&t.q, &t.k, &t.v, &t.lambda, &t.weight}) CHECK(all_finite(x->grad()));
  }
}

TEST_CASE("diff_attention: f64 backward matches the stage-by-stage scalar backward") {
  uint32_t seed = 200;
  for (const ShapeCase& s : kShapes) {
    CAPTURE(s.batch); CAPTURE(s.lq); CAPTURE(s.lk); CAPTURE(s.heads); CAPTURE(s.head_dim); CAPTURE(s.mask_kind);
    auto c = make_diff_attention_case<double>(s.batch, s.lq, s.lk, s.heads, s.head_dim, seed++, s.mask_kind);
    auto dy = make_diff_attention_case<double>(s.batch, s.lq, 1, s.heads, s.head_dim, seed++).q;  // [B, Lq, W]
    const auto f = test::reference_forward(c);
    const auto want = test::reference_backward(c, f, dy);
    for (const Shape& lambda_shape : {Shape{}, Shape{1}}) {
      auto t = test::to_tensors(c, Device::cpu(), true, lambda_shape);
      DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, c.lambda_init, t.weight, c.heads);
      test::backward_with(r.output, Tensor::from_vector(dy, c.q_shape()));
      CHECK(t.lambda.grad().shape() == lambda_shape);
      CHECK_CLOSE_VALUES(t.q.grad().to_f64_vector(), want.dq, 1e-12, 1e-9);
      CHECK_CLOSE_VALUES(t.k.grad().to_f64_vector(), want.dk, 1e-12, 1e-9);
      CHECK_CLOSE_VALUES(t.v.grad().to_f64_vector(), want.dv, 1e-12, 1e-9);
      CHECK_CLOSE_VALUES(t.weight.grad().to_f64_vector(), want.dweight, 1e-12, 1e-9);
      CHECK_CLOSE_VALUES(t.lambda.grad().to_f64_vector(), std::vector<double>{want.dlambda}, 1e-12, 1e-9);
    }
  }
}

TEST_CASE("diff_attention: the map carries no gradient and NoGrad records nothing") {
  auto c = make_diff_attention_case<double>(2, 3, 4, 2, 2, 31, 1);
  auto t = test::to_tensors(c, Device::cpu(), true);
  const size_t before = tape_size();
  {
    NoGrad no_grad;
    DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, 0.2, t.weight, c.heads);
    CHECK(!r.output.requires_grad());
  }
  CHECK(tape_size() == before);
  DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, 0.2, t.weight, c.heads);
  CHECK(r.output.requires_grad());
  CHECK(!r.attention.requires_grad());
  CHECK(tape_size() == before + 1);
  clear_tape();
}

TEST_CASE("diff_attention: wrong shapes, dtypes and arguments throw naming the op and shapes") {
  auto c = make_diff_attention_case<float>(2, 3, 5, 2, 4, 41, 1);  // width 16
  auto t = test::to_tensors(c, Device::cpu(), false);
  auto call = [&](const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, const Tensor& lambda,
                  const Tensor& w, int heads) { return diff_attention(q, k, v, mask, lambda, 0.2, w, heads); };
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(call(t.q.reshape({6, 16}), t.k, t.v, t.mask, t.lambda, t.weight, 2),
                       Contains("diff_attention: q must be [B, Lq, H·2D], got f32[6, 16]"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, Tensor::zeros({2, 4, 16}), t.mask, t.lambda, t.weight, 2),
                       Contains("diff_attention: v must have k's shape: k is f32[2, 5, 16] on cpu, v is f32[2, 4, 16]"),
                       Error);
  CHECK_THROWS_WITH_AS(call(t.q, Tensor::zeros({3, 5, 16}), Tensor::zeros({3, 5, 16}), t.mask, t.lambda, t.weight, 2),
                       Contains("diff_attention: batch sizes differ"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, Tensor::zeros({2, 5, 8}), Tensor::zeros({2, 5, 8}), t.mask, t.lambda, t.weight, 2),
                       Contains("diff_attention: query and key widths differ: q is f32[2, 3, 16]"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, t.v, t.mask, t.lambda, t.weight, 3),
                       Contains("diff_attention: width 16 of q f32[2, 3, 16] on cpu is not divisible by 2·heads = 6"),
                       Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, t.v, t.mask, t.lambda, t.weight, 0), Contains("heads must be >= 1, got 0"),
                       Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, t.v, t.mask, t.lambda, Tensor::ones({16}), 2),
                       Contains("diff_attention: subln_weight must be [2D] = [8], got f32[16]"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, t.v, t.mask, Tensor::zeros({2}), t.weight, 2),
                       Contains("diff_attention: lambda must have shape [] or [1], got f32[2]"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, t.v, Tensor::ones({2, 4}), t.lambda, t.weight, 2),
                       Contains("diff_attention: key_mask must be [B, Lk] = [2, 5], got f32[2, 4]"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k.to(DType::f64), t.v, t.mask, t.lambda, t.weight, 2),
                       Contains("diff_attention: dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(call(t.q, t.k, t.v, t.mask, Tensor(), t.weight, 2), Contains("diff_attention: lambda must be defined"),
                       Error);
  CHECK_THROWS_WITH_AS(call(Tensor::zeros({2, 0, 16}), t.k, t.v, t.mask, t.lambda, t.weight, 2),
                       Contains("diff_attention: empty input"), Error);
  // An integer mask is accepted (nonzero = valid) and gives the same result as the float one.
  Tensor imask = t.mask.to(DType::i32);
  CHECK(call(t.q, t.k, t.v, imask, t.lambda, t.weight, 2).output.to_vector<float>() ==
        call(t.q, t.k, t.v, t.mask, t.lambda, t.weight, 2).output.to_vector<float>());
}
