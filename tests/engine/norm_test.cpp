// Value tests for layer_norm, rms_norm and batch_norm1d: hand-computed rows (reference numbers from
// the formulas in norm_math.h evaluated in double), a BatchNorm1d training step and the running
// statistics after two steps by PyTorch's documented rule, edge shapes, tiny variance, gradients of
// the parameters and error messages.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

using dispa::test::all_finite;
using dispa::test::backward_with;

namespace {
Tensor vec(std::vector<double> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// Double reference LayerNorm of each row of [rows, D], no affine.
std::vector<double> reference_layer_norm(const std::vector<double>& x, int64_t rows, int64_t D, double eps) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t d = 0; d < D; ++d) m += x[r * D + d];
    m /= D;
    for (int64_t d = 0; d < D; ++d) v += (x[r * D + d] - m) * (x[r * D + d] - m);
    v /= D;
    for (int64_t d = 0; d < D; ++d) y[r * D + d] = (x[r * D + d] - m) / std::sqrt(v + eps);
  }
  return y;
}

}  // namespace

TEST_CASE("layer_norm: the row [1, 2, 3, 4] by hand, with and without affine") {
  // mean 2.5, biased var 1.25, y = (x - 2.5) / sqrt(1.25 + 1e-5)
  const std::vector<double> want = {-1.3416354199689269, -0.447211806656309, 0.447211806656309, 1.3416354199689269};
  Tensor x = vec({1, 2, 3, 4}, {1, 4});
  CHECK_CLOSE_VALUES(layer_norm(x, 1, Tensor(), Tensor()).to_f64_vector(), want, 1e-15, 1e-14);
  CHECK_CLOSE_VALUES(layer_norm(x.to(DType::f32), 1, Tensor(), Tensor()).to_f64_vector(), want, 1e-6, 1e-6);
  Tensor w = vec({0.5, 1, 1.5, 2}, {4}), b = vec({0.1, 0.2, 0.3, 0.4}, {4});
  CHECK_CLOSE_VALUES(layer_norm(x, 1, w, b).to_f64_vector(),
                     (std::vector<double>{-0.5708177099844635, -0.24721180665630899, 0.9708177099844635,
                                          3.0832708399378537}),
                     1e-15, 1e-14);
}

TEST_CASE("layer_norm: k = 2 normalises over the last two axes together") {
  Tensor x = Tensor::uniform({3, 4, 5}, -2.0, 2.0, 50, 0, DType::f64);
  Tensor w = Tensor::uniform({4, 5}, 0.5, 1.5, 51, 0, DType::f64), b = Tensor::uniform({4, 5}, -1, 1, 52, 0, DType::f64);
  Tensor flat = layer_norm(x.reshape({3, 20}), 1, w.reshape({20}), b.reshape({20}));
  Tensor slab = layer_norm(x, 2, w, b);
  CHECK(slab.shape() == Shape{3, 4, 5});
  CHECK_CLOSE_VALUES(slab.to_f64_vector(), flat.to_f64_vector(), 0.0, 0.0);
  CHECK_CLOSE_VALUES(layer_norm(x, 1, Tensor(), Tensor()).to_f64_vector(),
                     reference_layer_norm(x.to_f64_vector(), 12, 5, 1e-5), 1e-14, 1e-13);
}

TEST_CASE("layer_norm: edge widths (1, primes, 33, 257, wide slab) match a double reference") {
  uint64_t seed = 53;
  for (int64_t D : {1, 2, 7, 33, 257, 1031, 4099}) {
    for (int64_t rows : {1, 3, 17}) {
      CAPTURE(D);
      CAPTURE(rows);
      Tensor x = Tensor::uniform({rows, D}, -3.0, 5.0, seed++, 0, DType::f32);
      CHECK_CLOSE_VALUES(layer_norm(x, 1, Tensor(), Tensor()).to_f64_vector(),
                         reference_layer_norm(x.to_f64_vector(), rows, D, 1e-5), 2e-6, 2e-6);
    }
  }
}

TEST_CASE("layer_norm: constant rows and tiny variance stay finite (eps inside the sqrt)") {
  // A constant row has var 0: xhat = 0 exactly (the mean is the row's value), so y = bias.
  Tensor c = Tensor::full({2, 6}, 0.1, DType::f32);
  Tensor b = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {6});
  CHECK(layer_norm(c, 1, Tensor::ones({6}), b).to_vector<float>() ==
        std::vector<float>{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6});
  // var = 1e-12 << eps: y = (x - mean) / sqrt(1e-12 + 1e-5), about +-3.16e-4 for deviations +-1e-6.
  Tensor x = vec({1 + 1e-6, 1 - 1e-6, 1 + 1e-6, 1 - 1e-6}, {1, 4});
  const double s = 1e-6 / std::sqrt(1e-12 + 1e-5);
  CHECK_CLOSE_VALUES(layer_norm(x, 1, Tensor(), Tensor()).to_f64_vector(), (std::vector<double>{s, -s, s, -s}), 1e-12,
                     1e-6);
  // In f32 at an offset of 1000 the input itself only resolves ~6e-5; the result must stay finite and small.
  Tensor big = Tensor::from_vector(std::vector<float>{1000.f, 1000.0001f, 999.9999f, 1000.f}, {1, 4});
  Tensor yb = layer_norm(big, 1, Tensor(), Tensor());
  CHECK(all_finite(yb));
  for (float v : yb.to_vector<float>()) CHECK(std::abs(v) < 0.1f);
  // A grad through a constant row is finite too.
  Tensor cg = Tensor::full({1, 5}, 3.0, DType::f64);
  cg.set_requires_grad();
  sum_all(layer_norm(cg, 1, Tensor(), Tensor()) * vec({1, 2, 3, 4, 5}, {5})).backward();
  CHECK(all_finite(cg.grad()));
}

TEST_CASE("rms_norm: the row [1, 2, 3, 4] by hand, with weight") {
  // mean(x^2) = 7.5, y = x / sqrt(7.5 + 1e-5) * w
  Tensor x = vec({1, 2, 3, 4}, {1, 4});
  Tensor w = vec({1, 0.5, 2, -1}, {4});
  CHECK_CLOSE_VALUES(rms_norm(x, w).to_f64_vector(),
                     (std::vector<double>{0.3651481282381064, 0.3651481282381064, 2.1908887694286383,
                                          -1.4605925129524255}),
                     1e-15, 1e-14);
  const double r = 1 / std::sqrt(7.5 + 1e-5);
  CHECK_CLOSE_VALUES(rms_norm(x.to(DType::f32), Tensor()).to_f64_vector(),
                     (std::vector<double>{r, 2 * r, 3 * r, 4 * r}), 1e-6, 1e-6);
  // All zeros: 0 / sqrt(eps) = 0, not NaN.
  CHECK(rms_norm(Tensor::zeros({2, 24}), Tensor()).to_vector<float>() == std::vector<float>(48, 0.f));
}

TEST_CASE("batch_norm1d: one training step and the running statistics after two, by PyTorch's rule") {
  // Step 1: x [4, 2]; column 0 = 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3),
  //                   column 1 = 0, 0, 6, 6 (mean 3, biased var 9, unbiased 12).
  Tensor x1 = vec({1, 0, 2, 0, 3, 6, 4, 6}, {4, 2});
  Tensor rm = Tensor::zeros({2}, DType::f64), rv = Tensor::ones({2}, DType::f64);
  Tensor y1 = batch_norm1d(x1, Tensor(), Tensor(), rm, rv, true);
  const double a = 1.3416354199689269, b = 0.447211806656309, c = 0.9999994444449074;  // 3 / sqrt(9 + 1e-5)
  CHECK_CLOSE_VALUES(y1.to_f64_vector(), (std::vector<double>{-a, -c, -b, -c, b, c, a, c}), 1e-15, 1e-14);
  // running = 0.9 * running + 0.1 * batch: mean [0.25, 0.3], var 0.9 + 0.1 * [5/3, 12] = [1.0666..., 2.1]
  CHECK_CLOSE_VALUES(rm.to_f64_vector(), (std::vector<double>{0.25, 0.3}), 1e-15, 1e-14);
  CHECK_CLOSE_VALUES(rv.to_f64_vector(), (std::vector<double>{0.9 + 0.1 * 5.0 / 3.0, 2.1}), 1e-15, 1e-14);
  // Step 2: column 0 = 2, 4, 6, 8 (mean 5, unbiased var 20/3); column 1 = 1, 1, 1, 5 (mean 2, unbiased 4).
  Tensor x2 = vec({2, 1, 4, 1, 6, 1, 8, 5}, {4, 2});
  batch_norm1d(x2, Tensor(), Tensor(), rm, rv, true);
  // mean: 0.9 * [0.25, 0.3] + 0.1 * [5, 2] = [0.725, 0.47]; var: 0.9 * [1.0666.., 2.1] + 0.1 * [6.666.., 4]
  CHECK_CLOSE_VALUES(rm.to_f64_vector(), (std::vector<double>{0.725, 0.47}), 1e-15, 1e-14);
  CHECK_CLOSE_VALUES(rv.to_f64_vector(), (std::vector<double>{1.6266666666666667, 2.29}), 1e-15, 1e-14);
  // Eval uses the running statistics: y = (1 - 0.725) / sqrt(1.62666.. + eps), (1 - 0.47) / sqrt(2.29 + eps).
  const std::vector<double> rm_before = rm.to_f64_vector();
  Tensor w = vec({2, -1}, {2}), bias = vec({0.5, 0.25}, {2});
  Tensor ye = batch_norm1d(vec({1, 1}, {1, 2}), w, bias, rm, rv, false);
  CHECK_CLOSE_VALUES(ye.to_f64_vector(), (std::vector<double>{2 * 0.21561654130959954 + 0.5, -0.3502330935409548 + 0.25}),
                     1e-15, 1e-14);
  CHECK(rm.to_f64_vector() == rm_before);  // eval leaves the running statistics alone
  // The same two steps in f32.
  Tensor rm32 = Tensor::zeros({2}), rv32 = Tensor::ones({2});
  batch_norm1d(x1.to(DType::f32), Tensor(), Tensor(), rm32, rv32, true);
  batch_norm1d(x2.to(DType::f32), Tensor(), Tensor(), rm32, rv32, true);
  CHECK_CLOSE_VALUES(rm32.to_f64_vector(), (std::vector<double>{0.725, 0.47}), 1e-6, 1e-6);
  CHECK_CLOSE_VALUES(rv32.to_f64_vector(), (std::vector<double>{1.6266666666666667, 2.29}), 1e-6, 1e-6);
}

TEST_CASE("batch_norm1d: constant channels and odd widths stay finite") {
  Tensor x = Tensor::uniform({5, 33}, -1.0, 1.0, 54, 0, DType::f32);
  Tensor constant = Tensor::full({5, 1}, 7.0, DType::f32);
  Tensor y = batch_norm1d(constant, Tensor(), Tensor(), Tensor(), Tensor(), true);
  CHECK(y.to_vector<float>() == std::vector<float>(5, 0.f));
  Tensor yx = batch_norm1d(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  CHECK(all_finite(yx));
  // Each channel of the output has mean 0 and biased variance var / (var + eps) ~ 1.
  for (double m : mean(yx, 0).to_f64_vector()) CHECK(std::abs(m) < 1e-6);
}

TEST_CASE("norms: parameter gradients are the column sums dy * xhat and dy") {
  Tensor x = Tensor::uniform({3, 4}, -1.0, 1.0, 55, 0, DType::f64);
  Tensor w = Tensor::ones({4}, DType::f64), b = Tensor::zeros({4}, DType::f64);
  w.set_requires_grad();
  b.set_requires_grad();
  Tensor dy = Tensor::uniform({3, 4}, -1.0, 1.0, 56, 0, DType::f64);
  Tensor xhat = layer_norm(x, 1, Tensor(), Tensor());
  sum_all(layer_norm(x, 1, w, b) * dy).backward();
  CHECK_CLOSE_VALUES(w.grad().to_f64_vector(), sum(xhat * dy, 0).to_f64_vector(), 1e-14, 1e-13);
  CHECK_CLOSE_VALUES(b.grad().to_f64_vector(), sum(dy, 0).to_f64_vector(), 1e-14, 1e-13);
  w.zero_grad();
  b.zero_grad();
  Tensor bn_hat = batch_norm1d(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  sum_all(batch_norm1d(x, w, b, Tensor(), Tensor(), true) * dy).backward();
  CHECK_CLOSE_VALUES(w.grad().to_f64_vector(), sum(bn_hat * dy, 0).to_f64_vector(), 1e-14, 1e-13);
  CHECK_CLOSE_VALUES(b.grad().to_f64_vector(), sum(dy, 0).to_f64_vector(), 1e-14, 1e-13);
  CHECK(tape_size() == 0);
}

TEST_CASE("row norms: every affine form, f32, matches f64 and does not depend on the thread count") {
  // Past the OpenMP thresholds, with a width that is not a multiple of the summation lanes; f32
  // sums round, so any change of summation order between thread counts would show.
  const int64_t rows = 300, D = 515;
  const Tensor x64 = Tensor::uniform({rows, D}, -2.0, 3.0, 60, 0, DType::f64);
  const Tensor w64 = Tensor::uniform({D}, 0.5, 1.5, 61, 0, DType::f64), b64 = Tensor::uniform({D}, -1, 1, 62, 0, DType::f64);
  const Tensor dy64 = Tensor::uniform({rows, D}, -1, 1, 63, 0, DType::f64);
  struct Result {
    std::vector<double> y, dx, dw, db;
  };
  auto run = [&](DType dtype, int kind, bool with_w, bool with_b, int threads) {
    omp_set_num_threads(threads);
    auto leaf = [&](const Tensor& t) { return t.to(dtype).clone().set_requires_grad(); };  // a fresh gradient
    Tensor x = leaf(x64);
    Tensor w = with_w ? leaf(w64) : Tensor();
    Tensor b = with_b ? leaf(b64) : Tensor();
    Tensor y = kind == 0 ? layer_norm(x, 1, w, b) : rms_norm(x, w);
    backward_with(y, dy64.to(dtype));
    return Result{y.to_f64_vector(), x.grad().to_f64_vector(), with_w ? w.grad().to_f64_vector() : std::vector<double>{},
                  with_b ? b.grad().to_f64_vector() : std::vector<double>{}};
  };
  const int saved = omp_get_max_threads();
  for (int kind : {0, 1}) {
    for (bool with_w : {false, true}) {
      for (bool with_b : {false, true}) {
        if (kind == 1 && with_b) continue;  // RMSNorm has no bias
        CAPTURE(kind);
        CAPTURE(with_w);
        CAPTURE(with_b);
        const Result one = run(DType::f32, kind, with_w, with_b, 1), three = run(DType::f32, kind, with_w, with_b, 3);
        const Result ref = run(DType::f64, kind, with_w, with_b, 2);
        CHECK(one.y == three.y);
        CHECK(one.dx == three.dx);
        CHECK(one.dw == three.dw);
        CHECK(one.db == three.db);
        CHECK_CLOSE_VALUES(one.y, ref.y, 1e-5, 1e-5);
        CHECK_CLOSE_VALUES(one.dx, ref.dx, 1e-5, 1e-4);
        CHECK_CLOSE_VALUES(one.dw, ref.dw, 1e-4, 1e-5);
        CHECK_CLOSE_VALUES(one.db, ref.db, 1e-4, 1e-5);
      }
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("layer_norm_relu: the fused prediction pass equals relu(layer_norm), and trains as the two ops") {
  for (const Shape& shape : {Shape{7, 33}, Shape{3, 4, 5}, Shape{1, 512}}) {
    CAPTURE(shape_str(shape));
    const int64_t D = shape.back();
    Tensor x = Tensor::normal(shape, 0.3, 1.0, 5);
    std::vector<float> xs = x.to_vector<float>();
    xs[3] = NAN;  // row 0 becomes NaN, relu keeps NaN
    x = Tensor::from_vector(xs, shape);
    Tensor w = Tensor::normal({D}, 1.0, 0.2, 6), b = Tensor::normal({D}, 0.0, 0.2, 7);
    for (bool affine : {true, false}) {
      CAPTURE(affine);
      const Tensor wa = affine ? w : Tensor(), ba = affine ? b : Tensor();
      NoGrad no_grad;
      const std::vector<float> got = layer_norm_relu(x, 1, wa, ba, 1e-5).to_vector<float>();
      const std::vector<float> want = relu(layer_norm(x, 1, wa, ba, 1e-5)).to_vector<float>();
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
        else CHECK(got[i] == want[i]);
      }
    }
  }
  // With a gradient wanted it is the composite: same values and gradients.
  Tensor x = Tensor::normal({6, 9}, 0.1, 1.0, 8), w = Tensor::normal({9}, 1.0, 0.2, 9);
  x.set_requires_grad();
  w.set_requires_grad();
  const Tensor up = Tensor::normal({6, 9}, 0, 1, 10);
  sum_all(layer_norm_relu(x, 1, w, Tensor(), 1e-5) * up).backward();
  const Tensor gx = x.grad().clone(), gw = w.grad().clone();
  x.zero_grad();
  w.zero_grad();
  sum_all(relu(layer_norm(x, 1, w, Tensor(), 1e-5)) * up).backward();
  CHECK_CLOSE_TENSOR(gx, x.grad(), 0.0, 0.0);
  CHECK_CLOSE_TENSOR(gw, w.grad(), 0.0, 0.0);
}

TEST_CASE("norms: errors name the op and the shapes") {
  Tensor x = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(layer_norm(x, 1, Tensor::ones({3}), Tensor()),
                       doctest::Contains("layer_norm: weight has shape [3], expected [4] for x f32[2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, 2, Tensor(), Tensor::zeros({4})),
                       doctest::Contains("layer_norm: bias has shape [4], expected [3, 4]"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, 4, Tensor(), Tensor()),
                       doctest::Contains("layer_norm: normalized_ndim 4 must be in [1, 3] for x f32[2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, 1, Tensor::ones({4}, DType::f64), Tensor()),
                       doctest::Contains("layer_norm: weight is f64[4] on cpu but x is f32[2, 3, 4] on cpu"), Error);
  CHECK_THROWS_WITH_AS(rms_norm(x, Tensor::ones({3})),
                       doctest::Contains("rms_norm: weight has shape [3], expected [4]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm1d(x, Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm1d: x must be [N, C], got f32[2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm1d(Tensor::zeros({1, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm1d: training needs more than one row per channel, got x f32[1, 4]"),
                       Error);
  CHECK_THROWS_WITH_AS(batch_norm1d(Tensor::zeros({2, 4}), Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("batch_norm1d: eval mode needs running statistics"), Error);
  CHECK_THROWS_WITH_AS(batch_norm1d(Tensor::zeros({2, 4}), Tensor(), Tensor(), Tensor::zeros({5}), Tensor::ones({5}), true),
                       doctest::Contains("batch_norm1d: running_mean has shape [5], expected [4]"), Error);
}
