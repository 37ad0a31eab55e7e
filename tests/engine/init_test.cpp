// Initialisers: PyTorch's bounds (torch/nn/init.py), statistics of the drawn values, and
// reproducibility from the Generator's (seed, offset).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/nn/init.h"

using namespace dispa;

namespace {

struct Stats {
  double min, max, mean, var;
};

Stats stats_of(const Tensor& t) {
  const std::vector<double> v = t.to_f64_vector();
  Stats s{v[0], v[0], 0, 0};
  for (double x : v) {
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    s.mean += x;
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.var += (x - s.mean) * (x - s.mean);
  s.var /= static_cast<double>(v.size());
  return s;
}

// Values of U(-b, b): inside the bound, reaching close to both ends, mean 0 and variance b²/3.
// The stream is generated in f32, so the bound itself may be rounded up by half an f32 ulp.
void check_uniform(const Tensor& t, double b) {
  const Stats s = stats_of(t);
  const double n = static_cast<double>(t.numel());
  const double slack = b * 1e-7;
  CHECK(s.min >= -b - slack);
  CHECK(s.max <= b + slack);
  CHECK(s.min < -0.98 * b);
  CHECK(s.max > 0.98 * b);
  const double sd = b / std::sqrt(3.0);
  CHECK(std::abs(s.mean) < 5 * sd / std::sqrt(n));
  CHECK(std::abs(s.var / (b * b / 3.0) - 1.0) < 0.05);
}

}  // namespace

TEST_CASE("init: linear_default_ draws U(+-1/sqrt(fan_in)) for weight and bias") {
  Generator gen(42);
  Tensor w = Tensor::empty({64, 100}), b = Tensor::empty({64});
  init::linear_default_(w, b, gen);
  check_uniform(w, 0.1);  // kaiming_uniform(a = sqrt 5): sqrt(1/3) * sqrt(3 / 100) = 1/10
  for (double x : b.to_f64_vector()) CHECK(std::abs(x) <= 0.1 * (1 + 1e-7));
  CHECK(stats_of(b).max - stats_of(b).min > 0.1);  // spread over the interval, not a constant
  // The weight took ceil(6400/4) Philox blocks and the bias ceil(64/4) after it.
  CHECK(gen.offset() == 1600 + 16);
}

TEST_CASE("init: kaiming_uniform_ fan_in includes the receptive field") {
  Generator gen(7);
  Tensor w = Tensor::empty({32, 4, 3, 3});  // fan_in = 4 * 9 = 36
  init::kaiming_uniform_(w, 0.0, gen);      // gain sqrt(2): bound sqrt(6 / 36)
  check_uniform(w, std::sqrt(6.0 / 36.0));
  Tensor v = Tensor::empty({1000, 50});
  init::kaiming_uniform_(v, std::sqrt(5.0), gen);
  check_uniform(v, 1.0 / std::sqrt(50.0));
}

TEST_CASE("init: xavier_uniform_ bound is gain * sqrt(6 / (fan_in + fan_out))") {
  Generator gen(3);
  Tensor w = Tensor::empty({200, 300}, DType::f64);
  init::xavier_uniform_(w, gen, 2.0);
  check_uniform(w, 2.0 * std::sqrt(6.0 / 500.0));
  Tensor bias = Tensor::empty({5});
  CHECK_THROWS_WITH_AS(init::xavier_uniform_(bias, gen), doctest::Contains("at least 2 dimensions"), Error);
  CHECK_THROWS_WITH_AS(init::kaiming_uniform_(bias, 0.0, gen), doctest::Contains("[5]"), Error);
}

TEST_CASE("init: normal_ and uniform_ have the requested moments") {
  Generator gen(11);
  Tensor n = Tensor::empty({200000});
  init::normal_(n, 1.5, 0.02, gen);
  const Stats sn = stats_of(n);
  CHECK(std::abs(sn.mean - 1.5) < 5 * 0.02 / std::sqrt(200000.0));
  CHECK(std::abs(std::sqrt(sn.var) / 0.02 - 1.0) < 0.01);

  Tensor u = Tensor::empty({100000});
  init::uniform_(u, -3.0, 1.0, gen);
  const Stats su = stats_of(u);
  CHECK(su.min >= -3.0);
  CHECK(su.max <= 1.0);
  CHECK(std::abs(su.mean + 1.0) < 5 * (4.0 / std::sqrt(12.0)) / std::sqrt(100000.0));
  CHECK_THROWS_AS(init::uniform_(u, 1.0, -1.0, gen), Error);

  Tensor z = Tensor::ones({3}), o = Tensor::zeros({2, 2}, DType::f64);
  init::zeros_(z);
  init::ones_(o);
  CHECK(z.to_f64_vector() == std::vector<double>{0, 0, 0});
  CHECK(o.to_f64_vector() == std::vector<double>{1, 1, 1, 1});
  Tensor idx = Tensor::zeros({2}, DType::i64);
  CHECK_THROWS_WITH_AS(init::normal_(idx, 0, 1, gen), doctest::Contains("f32 or f64"), Error);
}

TEST_CASE("init: a model's initialisation is a pure function of the seed") {
  auto draw = [](uint64_t seed) {
    Generator gen(seed);
    Tensor w1 = Tensor::empty({8, 5}), b1 = Tensor::empty({8});
    Tensor w2 = Tensor::empty({8, 5}), b2 = Tensor::empty({8});
    init::linear_default_(w1, b1, gen);
    init::linear_default_(w2, b2, gen);
    return std::vector<std::vector<double>>{w1.to_f64_vector(), b1.to_f64_vector(), w2.to_f64_vector()};
  };
  const auto a = draw(5), b = draw(5), c = draw(6);
  CHECK(a == b);
  CHECK(a[0] != c[0]);
  CHECK(a[0] != a[2]);  // consecutive draws use disjoint parts of the stream
  // f32 and f64 tensors drawn from the same stream hold the same numbers.
  Generator g32(9), g64(9);
  Tensor x32 = Tensor::empty({10}), x64 = Tensor::empty({10}, DType::f64);
  init::uniform_(x32, -1, 1, g32);
  init::uniform_(x64, -1, 1, g64);
  CHECK(x32.to_f64_vector() == x64.to_f64_vector());
}
