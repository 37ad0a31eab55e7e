// dropout: the mask is exactly philox_uniform(seed, offset, i) >= p; keep-rate statistics;
// identity in eval and for p == 0; p checked; same (seed, offset) -> same mask, another seed or a
// non-overlapping offset -> another mask; f32 and f64 share the mask; backward reuses it.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/generator.h"
#include "engine/ops/dropout.h"
#include "engine/ops/dropout_math.h"
#include "engine/philox.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;

namespace {
// The mask as 0/1, read from dropout of ones (kept elements are exactly 1/(1-p) != 0).
std::vector<int> mask_of(int64_t n, double p, uint64_t seed, uint64_t offset, DType dtype = DType::f32) {
  const auto y = dropout(Tensor::ones({n}, dtype), p, true, seed, offset).to_f64_vector();
  std::vector<int> m(y.size());
  for (size_t i = 0; i < y.size(); ++i) m[i] = y[i] != 0.0;
  return m;
}
}  // namespace

TEST_CASE("dropout: kept elements are scaled by 1/(1-p), the rest are zero, as the Philox rule says") {
  const double p = 0.25;
  Tensor x = Tensor::uniform({1000}, 0.5, 1.5, 3);
  const auto xv = x.to_vector<float>();
  const auto yv = dropout(x, p, true, 42, 7).to_vector<float>();
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool keep = philox_uniform(42, 7, i, 0.0f, 1.0f) >= 0.25f;
    CHECK(yv[i] == (keep ? xv[i] * scale : 0.0f));
  }
}

TEST_CASE("dropout: keep rate and mean follow p") {
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.9}) {
    CAPTURE(p);
    const auto m = mask_of(n, p, 1234, 0);
    double kept = 0;
    for (int k : m) kept += k;
    // Binomial standard deviation sqrt(p(1-p)/n) <= 0.0012; allow about 6 of them.
    CHECK(std::abs(kept / double(n) - (1.0 - p)) < 0.007);
    // Inverted dropout keeps the expectation: mean(dropout(ones)) ~ 1.
    const auto y = dropout(Tensor::ones({n}), p, true, 99, 0).to_vector<float>();
    double mean = 0;
    for (float v : y) mean += v;
    mean /= double(n);
    CHECK(std::abs(mean - 1.0) < 6.0 * std::sqrt(p / (1.0 - p) / double(n)));
  }
}

TEST_CASE("dropout: same seed and offset give the same mask; other seeds and offsets do not") {
  const int64_t n = 4096;
  Generator gen(77);
  const uint64_t off_a = gen.reserve(n), off_b = gen.reserve(n);
  const auto a = mask_of(n, 0.5, 77, off_a);
  CHECK(a == mask_of(n, 0.5, 77, off_a));
  const auto b = mask_of(n, 0.5, 77, off_b);
  const auto c = mask_of(n, 0.5, 78, off_a);
  int diff_b = 0, diff_c = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff_b += a[size_t(i)] != b[size_t(i)];
    diff_c += a[size_t(i)] != c[size_t(i)];
  }
  // Independent masks at p = 0.5 differ in about half the elements.
  CHECK(diff_b > n / 3);
  CHECK(diff_c > n / 3);
  // Offsets count Philox blocks of 4 elements: offset + 1 is the same stream shifted by 4.
  const auto shifted = mask_of(n, 0.5, 77, off_a + 1);
  for (int64_t i = 0; i + 4 < n; ++i) CHECK(shifted[size_t(i)] == a[size_t(i + 4)]);
  // f64 tensors get the same mask as f32 (the draw is in f32 on every device).
  CHECK(mask_of(n, 0.5, 77, off_a, DType::f64) == a);
}

TEST_CASE("dropout: identity in eval mode and for p == 0") {
  Tensor x = Tensor::uniform({3, 4}, -1, 1, 5).set_requires_grad();
  Tensor eval = dropout(x, 0.5, false, 1, 0);
  CHECK(eval.same(x));
  CHECK(dropout(x, 0.0, true, 1, 0).same(x));
  CHECK(tape_size() == 0);
}

TEST_CASE("dropout: p outside [0, 1) and non-floating inputs throw") {
  Tensor x = Tensor::ones({4});
  CHECK_THROWS_WITH_AS(dropout(x, 1.0, true, 0, 0), doctest::Contains("dropout: p must be in [0, 1), got 1"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, true, 0, 0), doctest::Contains("dropout: p must be in [0, 1), got -0.1"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, std::numeric_limits<double>::quiet_NaN(), false, 0, 0),
                       doctest::Contains("dropout: p must be in [0, 1), got nan"), Error);
  CHECK_THROWS_WITH_AS(dropout(Tensor::ones({4}, DType::i32), 0.5, true, 0, 0),
                       doctest::Contains("dropout: needs f32 or f64"), Error);
}

TEST_CASE("dropout: edge shapes and p close to 1") {
  CHECK(dropout(Tensor::zeros({0, 3}), 0.5, true, 1, 0).shape() == Shape{0, 3});
  Tensor s = dropout(Tensor::scalar(2.0), 0.5, true, 1, 0);
  CHECK(s.shape() == Shape{});
  CHECK((s.item() == 0.0 || s.item() == 4.0));
  const auto y = dropout(Tensor::ones({10000}), 0.99, true, 3, 0).to_vector<float>();
  int kept = 0;
  for (float v : y) {
    CHECK(std::isfinite(v));
    kept += v != 0.0f;
  }
  CHECK(kept > 50);
  CHECK(kept < 160);
}

TEST_CASE("dropout: backward uses the forward mask") {
  Tensor x = Tensor::uniform({257}, 1, 2, 9, 0, DType::f64).set_requires_grad();
  Tensor y = dropout(x, 0.3, true, 11, 5);
  Tensor g = Tensor::uniform({257}, -1, 1, 10, 0, DType::f64);
  backward_with(y, g);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>(), gv = g.to_vector<double>();
  const auto dx = x.grad().to_vector<double>();
  const double scale = 1.0 / (1.0 - 0.3);  // as dropout computes it
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool kept = yv[i] != 0.0;
    CHECK(dx[i] == (kept ? gv[i] * scale : 0.0));
  }
}

TEST_CASE("dropout: the SIMD CPU loop gives the scalar Philox rule's mask at every CPU level") {
  // Sizes around the 64-element groups and the 4096-element thread tasks, above the OpenMP
  // threshold, and offsets whose block counters carry into the high 32-bit word inside a group.
  for (CpuLevel level : runnable_cpu_levels()) {
    ScopedCpuLevel scoped(level);
    for (int64_t n : {1, 3, 63, 64, 65, 257, 4095, 4097, 70001}) {
      for (uint64_t offset : {uint64_t(0), uint64_t(5), (uint64_t(1) << 32) - 7, ~uint64_t(0) - 40}) {
        CAPTURE(cpu_level_name(level));
        CAPTURE(n);
        CAPTURE(offset);
        for (DType dtype : {DType::f32, DType::f64}) {
          const Tensor x = Tensor::uniform({n}, -2, 2, 17, 0, dtype);
          const std::vector<double> xv = x.to_f64_vector(), yv = dropout(x, 0.4, true, 99, offset).to_f64_vector();
          const double scale = dtype == DType::f32 ? double(float(1.0 / 0.6)) : 1.0 / 0.6;
          int64_t wrong = 0;
          for (int64_t i = 0; i < n; ++i) {
            const bool keep = dropout_keep(99, offset, uint64_t(i), 0.4f);
            const double want = dtype == DType::f32 ? double(float(xv[size_t(i)]) * (keep ? float(scale) : 0.f))
                                                    : xv[size_t(i)] * (keep ? scale : 0.0);
            wrong += yv[size_t(i)] != want;
          }
          CHECK(wrong == 0);
        }
      }
    }
  }
}

TEST_CASE("dropout: a NaN or inf input stays non-finite in the SIMD loop (x * 0, as PyTorch)") {
  for (CpuLevel level : runnable_cpu_levels()) {
    ScopedCpuLevel scoped(level);
    std::vector<float> v(256, 1.0f);
    v[3] = std::numeric_limits<float>::quiet_NaN();
    v[200] = std::numeric_limits<float>::infinity();
    const auto y = dropout(Tensor::from_vector(v, {256}), 0.5, true, 1, 0).to_vector<float>();
    CHECK(std::isnan(y[3]));
    CHECK(!std::isfinite(y[200]));
  }
}
