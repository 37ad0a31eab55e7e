// Optimizers against PyTorch's documented update rules. Expected values were computed by hand
// (in double, Python) from the algorithm boxes of torch.optim.Adam / AdamW / SGD:
//   Adam:  g += wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²; p -= lr m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps)
//   AdamW: p -= lr*wd*p first, g unchanged
//   SGD:   d = g + wd*p; buf = d (t = 1) or mom*buf + d; p -= lr*buf
// with p0 = [1, -2, 0.5], g1 = [0.5, -1, 0], g2 = [0.2, 0.4, -3], lr 0.1, betas (0.9, 0.999), eps 1e-8.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/optim/optimizer.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {

const std::vector<double> kP0{1.0, -2.0, 0.5};
const std::vector<double> kG1{0.5, -1.0, 0.0};
const std::vector<double> kG2{0.2, 0.4, -3.0};

Tensor param(const std::vector<double>& v, DType dtype) {
  Tensor t = Tensor::from_vector(v, {static_cast<int64_t>(v.size())}).to(dtype);
  t.set_requires_grad();
  return t;
}

void set_grad(Tensor& p, const std::vector<double>& g) {
  p.zero_grad();
  p.accumulate_grad(Tensor::from_vector(g, p.shape()).to(p.dtype()));
}

// Runs two steps of `make(params)` on one parameter and returns the value after each.
template <typename Make>
std::vector<std::vector<double>> two_steps(Make make, DType dtype) {
  Tensor p = param(kP0, dtype);
  auto opt = make(NamedTensors{{"p", p}});
  std::vector<std::vector<double>> out;
  set_grad(p, kG1);
  opt->step();
  out.push_back(p.to_f64_vector());
  set_grad(p, kG2);
  opt->step();
  out.push_back(p.to_f64_vector());
  return out;
}

}  // namespace

TEST_CASE("Adam: two steps match PyTorch's update rule (no weight decay)") {
  for (DType dtype : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dtype));
    const test::Tolerance tol = dtype == DType::f64 ? test::Tolerance{1e-14, 1e-13} : test::Tolerance{1e-6, 1e-6};
    const auto got = two_steps([](NamedTensors p) { return std::make_unique<Adam>(p, 0.1); }, dtype);
    CHECK_CLOSE_VALUES(got[0], (std::vector<double>{0.900000002, -1.900000001, 0.5}), tol.abs, tol.rel);
    CHECK_CLOSE_VALUES(got[1], (std::vector<double>{0.8101424839029282, -1.865439416662626, 0.5744136820059964}),
                       tol.abs, tol.rel);
  }
}

TEST_CASE("Adam: L2 weight decay is added to the gradient before the moments") {
  for (DType dtype : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dtype));
    const test::Tolerance tol = dtype == DType::f64 ? test::Tolerance{1e-14, 1e-13} : test::Tolerance{1e-6, 1e-6};
    const auto got = two_steps(
        [](NamedTensors p) { return std::make_unique<Adam>(p, 0.1, 0.9, 0.999, 1e-8, /*weight_decay=*/0.1); }, dtype);
    // Element 2 has g1 = 0 but moves: its gradient is wd * p = 0.05.
    CHECK_CLOSE_VALUES(got[0], (std::vector<double>{0.9000000016666666, -1.9000000008333333, 0.400000019999996}),
                       tol.abs, tol.rel);
    CHECK_CLOSE_VALUES(got[1], (std::vector<double>{0.8072814605072346, -1.846831886458653, 0.47327197055063763}),
                       tol.abs, tol.rel);
  }
}

TEST_CASE("AdamW: decoupled weight decay shrinks the parameter before the Adam step") {
  const auto got = two_steps([](NamedTensors p) { return std::make_unique<AdamW>(p, 0.1, 0.9, 0.999, 1e-8, 0.1); },
                             DType::f64);
  CHECK_CLOSE_VALUES(got[0], (std::vector<double>{0.890000002, -1.880000001, 0.495}), 1e-14, 1e-13);
  CHECK_CLOSE_VALUES(got[1], (std::vector<double>{0.7912424838829282, -1.826639416652626, 0.5644636820059965}), 1e-14,
                     1e-13);
}

TEST_CASE("SGD: momentum and weight decay as torch.optim.SGD") {
  const auto got = two_steps([](NamedTensors p) { return std::make_unique<SGD>(p, 0.1, 0.9, 0.01); }, DType::f64);
  CHECK_CLOSE_VALUES(got[0], (std::vector<double>{0.949, -1.898, 0.4995}), 1e-15, 1e-14);
  CHECK_CLOSE_VALUES(got[1], (std::vector<double>{0.8821509999999999, -1.8443019999999999, 0.7985504999999999}), 1e-15,
                     1e-14);
  // Without momentum: plain p -= lr * g, and no state kept.
  Tensor p = param({1.0, 2.0}, DType::f32);
  SGD plain({{"p", p}}, 0.5);
  set_grad(p, {2.0, -4.0});
  plain.step();
  CHECK(p.to_f64_vector() == std::vector<double>{0.0, 4.0});
  CHECK(plain.state().size() == 1);  // only "step"
}

TEST_CASE("optimizers: parameters without a gradient are skipped and keep their own step count") {
  Tensor a = param({1.0}, DType::f64), b = param({1.0}, DType::f64);
  Adam opt({{"a", a}, {"b", b}}, 0.1);
  set_grad(a, {1.0});
  opt.step();
  CHECK(b.item() == 1.0);
  set_grad(a, {1.0});
  set_grad(b, {2.0});
  opt.step();
  // b's first update uses t = 1 bias corrections: m̂ = g, v̂ = g², so p -= lr * g / (|g| + eps).
  CHECK(std::abs(b.item() - (1.0 - 0.1 * 2.0 / (2.0 + 1e-8))) < 1e-15);
  const auto state = opt.state();
  CHECK(state.at("step").item() == 2);
  CHECK(state.at("a.step").item() == 2);
  CHECK(state.at("b.step").item() == 1);
  // zero_grad drops gradients (PyTorch's set_to_none), so the next step changes nothing.
  opt.zero_grad();
  opt.step();
  CHECK(state.at("b.exp_avg").item() == opt.state().at("b.exp_avg").item());
}

TEST_CASE("optimizers: set_learning_rate takes effect at the next step") {
  Tensor p = param({1.0}, DType::f64);
  SGD opt({{"p", p}}, 0.1);
  opt.set_learning_rate(0.25);
  CHECK(opt.learning_rate() == 0.25);
  set_grad(p, {2.0});
  opt.step();
  CHECK(p.item() == 0.5);
}

TEST_CASE("optimizers: state round trip resumes bit for bit") {
  auto run = [](Optimizer& opt, Tensor& p, double g) {
    set_grad(p, {g, -g, 2 * g});
    opt.step();
  };
  for (int kind = 0; kind < 3; ++kind) {
    CAPTURE(kind);
    auto make = [&](Tensor& p) -> std::unique_ptr<Optimizer> {
      if (kind == 0) return std::make_unique<Adam>(NamedTensors{{"w", p}}, 0.01, 0.9, 0.999, 1e-8, 1e-2);
      if (kind == 1) return std::make_unique<AdamW>(NamedTensors{{"w", p}}, 0.01);
      return std::make_unique<SGD>(NamedTensors{{"w", p}}, 0.01, 0.9, 1e-3);
    };
    Tensor p1 = param(kP0, DType::f32);
    auto o1 = make(p1);
    run(*o1, p1, 0.3);
    run(*o1, p1, -0.7);
    const auto snapshot = o1->state();
    const Tensor p_snapshot = p1.clone();
    run(*o1, p1, 0.1);
    // state() is a copy: the step above did not change the snapshot.
    CHECK(o1->state().at("step").item() == 3);
    CHECK(snapshot.at("step").item() == 2);

    Tensor p2 = p_snapshot.clone().set_requires_grad();
    auto o2 = make(p2);
    o2->load_state(snapshot);
    run(*o2, p2, 0.1);
    CHECK(p2.to_vector<float>() == p1.to_vector<float>());
  }
}

TEST_CASE("optimizers: load_state rejects missing, unexpected and misshapen entries") {
  Tensor p = param(kP0, DType::f32);
  Adam opt({{"w", p}}, 0.01);
  auto state = opt.state();
  auto missing = state;
  missing.erase("w.exp_avg_sq");
  CHECK_THROWS_WITH_AS(opt.load_state(missing), doctest::Contains("missing key(s): w.exp_avg_sq"), Error);
  auto extra = state;
  extra["v.exp_avg"] = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(opt.load_state(extra), doctest::Contains("unexpected key(s): v.exp_avg"), Error);
  auto shape = state;
  shape["w.exp_avg"] = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(opt.load_state(shape), doctest::Contains("'w.exp_avg' is f32[4]"), Error);
  auto step = state;
  step["step"] = Tensor::scalar(1.5);
  CHECK_THROWS_WITH_AS(opt.load_state(step), doctest::Contains("'step' must be one non-negative integer"), Error);
}

TEST_CASE("optimizers: constructor arguments are checked") {
  Tensor p = param({1.0}, DType::f32);
  CHECK_THROWS_WITH_AS(Adam({{"p", p}}, 0.1, 1.0), doctest::Contains("beta1 must be in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(SGD({{"p", p}}, -1.0), doctest::Contains("learning rate"), Error);
  CHECK_THROWS_WITH_AS(SGD({{"p", p}, {"p", p}}, 0.1), doctest::Contains("'p' appears twice"), Error);
  Tensor q = param({1.0, 2.0}, DType::f32);
  q.impl().grad = Tensor::zeros({1}).impl_ptr();  // a corrupted gradient is caught, not read past
  SGD opt({{"q", q}}, 0.1);
  CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("does not match parameter 'q'"), Error);
}

TEST_CASE("clip_grad_norm: global L2 norm, scaled by max_norm / (norm + 1e-6)") {
  Tensor a = param({0, 0}, DType::f64), b = param({0}, DType::f32), c = param({5}, DType::f32);
  set_grad(a, {3.0, 4.0});
  set_grad(b, {12.0});  // c has no gradient and is ignored
  NamedTensors params{{"a", a}, {"b", b}, {"c", c}};
  CHECK(clip_grad_norm(params, 100.0) == 13.0);  // below the limit: unchanged
  CHECK(a.grad().to_f64_vector() == std::vector<double>{3, 4});
  const double norm = clip_grad_norm(params, 6.5);
  CHECK(norm == 13.0);
  const double coef = 6.5 / (13.0 + 1e-6);
  CHECK_CLOSE_VALUES(a.grad().to_f64_vector(), (std::vector<double>{3 * coef, 4 * coef}), 0, 1e-15);
  CHECK_CLOSE_VALUES(b.grad().to_f64_vector(), (std::vector<double>{12 * coef}), 0, 1e-6);
  CHECK(std::abs(clip_grad_norm(params, 1e9) - 6.5) < 1e-5);
  CHECK(clip_grad_norm({{"c", c}}, 1.0) == 0.0);
  // A NaN gradient gives a NaN norm, which the caller must check.
  set_grad(a, {std::nan(""), 1.0});
  CHECK(std::isnan(clip_grad_norm(params, 1.0)));
}
