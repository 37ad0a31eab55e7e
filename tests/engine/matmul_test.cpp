// Matrix products on the CPU: hand-computed values (transposes, batches, a 2-D b shared by a batch,
// linear with and without bias, their gradients), our GEMM against a naive f64 triple loop at edge
// sizes (1, primes, one past each level's tile, across its MC/KC/NC blocks), alpha/beta and leading
// dims, thread-count independence, and error messages. Every GEMM case runs at each CPU level this
// machine can run (portable, avx2, avx512: engine/cpu_features.h), and the levels agree.
#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/ops/gemm_cpu.h"
#include "engine/ops/matmul.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {

Tensor f32(const std::vector<float>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// sum of all elements, recorded by hand (reductions are another op family): d/dt = 1 everywhere.
Tensor sum_all(const Tensor& t) {
  double s = 0;
  for (double v : t.to_f64_vector()) s += v;
  Tensor loss = Tensor::scalar(s, t.dtype());
  record("test_sum_all", {t}, loss,
         [t](const Tensor& dy) { t.accumulate_grad(Tensor::full(t.shape(), dy.item(), t.dtype(), t.device())); });
  return loss;
}

// Naive row-major reference in f64: C = alpha op(A) op(B) + beta C.
void naive_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const std::vector<float>& a,
                int64_t lda, const std::vector<float>& b, int64_t ldb, double beta, std::vector<double>& c,
                int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      c[i * ldc + j] = alpha * s + (beta == 0 ? 0.0 : beta * c[i * ldc + j]);
    }
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  if (n == 0) return {};
  return Tensor::uniform({int64_t(n)}, -1.0, 1.0, seed).to_vector<float>();
}

// Runs cpu::sgemm on a C filled with `fill` and compares with the naive loop (f32 accumulation
// over k terms of size <= 1: tolerance grows with k).
std::string check_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t pad,
                        float fill = 0.5f) {
  const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const std::vector<float> a = random_floats(size_t((ta ? k : m) * lda), 11 + m);
  const std::vector<float> b = random_floats(size_t((tb ? n : k) * ldb), 23 + n);
  std::vector<float> c(size_t(m * ldc), fill);
  std::vector<double> want(c.begin(), c.end());
  naive_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
  cpu::sgemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  std::vector<double> got, expected;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const float v = c[size_t(i * ldc + j)];
      if (j < n) {
        got.push_back(v);
        expected.push_back(want[size_t(i * ldc + j)]);
      } else if (!(v == fill || (std::isnan(v) && std::isnan(fill)))) {  // padding is a sentinel
        return fmt::format("wrote into the padding of C at row {}, column {}", i, j);
      }
    }
  return test::compare_values(got, expected, {1e-6 * double(k + 1), 1e-5});
}

// Runs `body` once at every CPU level this machine can run, with that level in use.
template <typename Body>
void at_each_level(Body body) {
  for (CpuLevel level : runnable_cpu_levels()) {
    ScopedCpuLevel scope(level);
    const std::string name(cpu_level_name(level));
    CAPTURE(name);
    body(level);
  }
}

}  // namespace

TEST_CASE("matmul: hand-computed product, with every transpose flag") {
  // A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]]: A B = [[58, 64], [139, 154]].
  const Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor at = f32({1, 4, 2, 5, 3, 6}, {3, 2});
  const Tensor b = f32({7, 8, 9, 10, 11, 12}, {3, 2});
  const Tensor bt = f32({7, 9, 11, 8, 10, 12}, {2, 3});
  const std::vector<float> want{58, 64, 139, 154};
  CHECK(matmul(a, b).shape() == Shape{2, 2});
  CHECK(matmul(a, b).to_vector<float>() == want);
  CHECK(matmul(at, b, true, false).to_vector<float>() == want);
  CHECK(matmul(a, bt, false, true).to_vector<float>() == want);
  CHECK(matmul(at, bt, true, true).to_vector<float>() == want);
  // f64 takes the same path through the f64 GEMM.
  CHECK(matmul(a.to(DType::f64), b.to(DType::f64)).to_f64_vector() == std::vector<double>{58, 64, 139, 154});
}

TEST_CASE("matmul: batched product and a 2-D b shared by the batch") {
  // Entry 0: A0 = [[1, 0], [0, 1]] (identity), entry 1: A1 = [[1, 2], [3, 4]].
  const Tensor a = f32({1, 0, 0, 1, 1, 2, 3, 4}, {2, 2, 2});
  // Batched b: B0 = [[5, 6], [7, 8]], B1 = [[1, 1], [0, 1]].
  const Tensor b = f32({5, 6, 7, 8, 1, 1, 0, 1}, {2, 2, 2});
  CHECK(matmul(a, b).to_vector<float>() == std::vector<float>{5, 6, 7, 8, 1, 3, 3, 7});
  // Shared b = B0: A1 B0 = [[19, 22], [43, 50]]; folded into one [4, 2] x [2, 2] GEMM.
  const Tensor b0 = f32({5, 6, 7, 8}, {2, 2});
  CHECK(matmul(a, b0).shape() == Shape{2, 2, 2});
  CHECK(matmul(a, b0).to_vector<float>() == std::vector<float>{5, 6, 7, 8, 19, 22, 43, 50});
  // transpose_a with shared b (the unfolded path): A1ᵀ B0 = [[1, 3], [2, 4]] B0 = [[26, 30], [38, 44]].
  CHECK(matmul(a, b0, true, false).to_vector<float>() == std::vector<float>{5, 6, 7, 8, 26, 30, 38, 44});
  // Leading batch dims are kept: [2, 1, 2, 2] x [2, 2] -> [2, 1, 2, 2].
  CHECK(matmul(a.reshape({2, 1, 2, 2}), b0).shape() == Shape{2, 1, 2, 2});
}

TEST_CASE("matmul: gradients of a sum are row and column sums") {
  // loss = sum(A B): dA[i][p] = sum_j B[p][j], dB[p][j] = sum_i A[i][p].
  Tensor a = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f32({7, 8, 9, 10, 11, 12}, {3, 2});
  a.set_requires_grad();
  b.set_requires_grad();
  sum_all(matmul(a, b)).backward();
  CHECK(a.grad().to_vector<float>() == std::vector<float>{15, 19, 23, 15, 19, 23});
  CHECK(b.grad().to_vector<float>() == std::vector<float>{5, 5, 7, 7, 9, 9});
  // Shared b over a batch: its gradient sums the entries (here twice the same A).
  Tensor a2 = f32({1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, {2, 2, 3});
  Tensor b2 = f32({7, 8, 9, 10, 11, 12}, {3, 2});
  b2.set_requires_grad();
  sum_all(matmul(a2, b2)).backward();
  CHECK(b2.grad().to_vector<float>() == std::vector<float>{10, 10, 14, 14, 18, 18});
  CHECK(tape_size() == 0);
}

TEST_CASE("linear: x Wᵀ + b over all leading dims, with and without bias") {
  // x rows [1, 2, 3] and [0, -1, 2]; W = [[1, 0, 1], [2, 1, 0]]; b = [10, 20].
  const Tensor x = f32({1, 2, 3, 0, -1, 2}, {2, 1, 3});
  const Tensor w = f32({1, 0, 1, 2, 1, 0}, {2, 3});
  const Tensor bias = f32({10, 20}, {2});
  const Tensor y = linear(x, w, bias);
  CHECK(y.shape() == Shape{2, 1, 2});
  CHECK(y.to_vector<float>() == std::vector<float>{14, 24, 12, 19});
  CHECK(linear(x, w, Tensor()).to_vector<float>() == std::vector<float>{4, 4, 2, -1});
  CHECK(linear(f32({1, 2, 3}, {3}), w, bias).to_vector<float>() == std::vector<float>{14, 24});  // 1-D x
}

TEST_CASE("linear: gradients; bias gradient is the column sums of dy") {
  Tensor x = f32({1, 2, 3, 0, -1, 2}, {2, 3});
  Tensor w = f32({1, 0, 1, 2, 1, 0}, {2, 3});
  Tensor bias = f32({10, 20}, {2});
  x.set_requires_grad();
  w.set_requires_grad();
  bias.set_requires_grad();
  sum_all(linear(x, w, bias)).backward();
  // dy = ones [2, 2]: dx = dy W (column sums of W per row), dW = dyᵀ x (column sums of x), db = [2, 2].
  CHECK(x.grad().to_vector<float>() == std::vector<float>{3, 1, 1, 3, 1, 1});
  CHECK(w.grad().to_vector<float>() == std::vector<float>{1, 1, 5, 1, 1, 5});
  CHECK(bias.grad().to_vector<float>() == std::vector<float>{2, 2});
}

TEST_CASE("gemm_cpu: edge sizes match a naive loop for every transpose combination, at every level") {
  at_each_level([](CpuLevel level) {
    const cpu::SgemmBlocking b = cpu::sgemm_blocking(level);
    // 1, primes, and one below, at and one past the tile's rows and columns
    const std::vector<int64_t> sizes = {1, 2, 5, b.mr - 1, b.mr, b.mr + 1, b.nr, b.nr + 1, 33, 257};
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      for (int64_t m : sizes)
        for (int64_t n : sizes)
          for (int64_t k : {int64_t(1), int64_t(7), int64_t(33), int64_t(257)}) {
            if (m * n * k > 257 * 257 * 33) continue;  // keeps the naive loop quick
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            const std::string msg = check_sgemm(ta, tb, m, n, k, 1.f, 0.f, 0);
            REQUIRE_MESSAGE(msg.empty(), msg);
          }
    }
  });
}

TEST_CASE("gemm_cpu: sizes across the MC, KC and NC blocks, at every level") {
  at_each_level([](CpuLevel level) {
    const cpu::SgemmBlocking b = cpu::sgemm_blocking(level);
    struct Case { int64_t m, n, k; };
    const std::vector<Case> cases = {{b.mc + 5, 40, 2 * b.kc + 3},    // three depth blocks, two row blocks
                                     {13, b.nc + 17, b.kc + 1},       // two column blocks, two depth blocks
                                     {2 * b.mc + 1, 3 * b.nr + 1, 5}};
    for (const Case& c : cases)
      for (int t = 0; t < 4; ++t) {
        CAPTURE(c.m);
        CAPTURE(c.n);
        CAPTURE(c.k);
        CAPTURE(t);
        const std::string msg = check_sgemm(t & 1, t & 2, c.m, c.n, c.k, 1.f, 0.f, 0);
        CHECK_MESSAGE(msg.empty(), msg);
      }
  });
}

TEST_CASE("gemm_cpu: alpha, beta and padded leading dims; beta = 0 never reads C; at every level") {
  at_each_level([](CpuLevel) {
    for (int t = 0; t < 4; ++t) {
      CAPTURE(t);
      std::string msg = check_sgemm(t & 1, t & 2, 37, 29, 41, 0.5f, 2.f, 3);
      CHECK_MESSAGE(msg.empty(), msg);
      msg = check_sgemm(t & 1, t & 2, 37, 29, 41, -1.f, 1.f, 0);
      CHECK_MESSAGE(msg.empty(), msg);
      // C full of NaN with beta = 0: the result must be finite.
      msg = check_sgemm(t & 1, t & 2, 19, 35, 23, 1.f, 0.f, 1, std::numeric_limits<float>::quiet_NaN());
      CHECK_MESSAGE(msg.empty(), msg);
    }
    // k = 0 scales C by beta: zeros for beta = 0 even over NaN.
    std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
    cpu::sgemm(false, false, 2, 3, 0, 1.f, nullptr, 1, nullptr, 3, 0.f, c.data(), 3);
    CHECK(c == std::vector<float>(6, 0.f));
  });
}

TEST_CASE("gemm_cpu: batched with a shared operand, threads over entries, f64; at every level") {
  const int64_t batch = 16, m = 9, n = 11, k = 13;
  const std::vector<float> a = random_floats(size_t(batch * m * k), 5);
  const std::vector<float> b = random_floats(size_t(k * n), 6);
  at_each_level([&](CpuLevel) {
    std::vector<float> c(size_t(batch * m * n));
    cpu::sgemm_batched(false, false, m, n, k, 1.f, a.data(), k, m * k, b.data(), n, 0, 0.f, c.data(), n, m * n,
                       batch);
    std::vector<double> da(a.begin(), a.end()), db(b.begin(), b.end());
    std::vector<double> dc(size_t(batch * m * n));
    cpu::dgemm_batched(false, false, m, n, k, 1.0, da.data(), k, m * k, db.data(), n, 0, 0.0, dc.data(), n, m * n,
                       batch);
    for (int64_t i = 0; i < batch; ++i) {
      std::vector<float> ai(a.begin() + i * m * k, a.begin() + (i + 1) * m * k);
      std::vector<double> want(size_t(m * n));
      naive_gemm(false, false, m, n, k, 1.0, ai, k, b, n, 0.0, want, n);
      CHECK_CLOSE_VALUES(std::vector<double>(c.begin() + i * m * n, c.begin() + (i + 1) * m * n), want, 1e-5, 1e-5);
      CHECK_CLOSE_VALUES(std::vector<double>(dc.begin() + i * m * n, dc.begin() + (i + 1) * m * n), want, 1e-12,
                         1e-12);
    }
  });
}

TEST_CASE("gemm_cpu: the result does not depend on the thread count, at every level") {
  const int saved = omp_get_max_threads();
  const int64_t m = 301, n = 97, k = 530;
  const std::vector<float> a = random_floats(size_t(m * k), 7), b = random_floats(size_t(k * n), 8);
  at_each_level([&](CpuLevel) {
    std::vector<float> c1(size_t(m * n)), c2(size_t(m * n));
    omp_set_num_threads(1);
    cpu::sgemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c1.data(), n);
    omp_set_num_threads(2);
    cpu::sgemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c2.data(), n);
    omp_set_num_threads(saved);
    CHECK(c1 == c2);  // each element is the same sequence of FMAs whichever thread computes it
  });
}

TEST_CASE("gemm_cpu: every CPU level gives the portable product to rounding") {
  // A model-like product (gene FFN: rows x S -> h) through every level against the portable one;
  // the levels differ only in summation grouping and FMA rounding, so the gap is a few ulps of
  // sum |a||b| (about 1e-5 relative here), nowhere near a wrong tile or a missed block.
  const int64_t m = 250, n = 70, k = 600;
  const std::vector<float> a = random_floats(size_t(m * k), 31), b = random_floats(size_t(n * k), 32);
  std::vector<float> reference(size_t(m * n));
  {
    ScopedCpuLevel portable(CpuLevel::portable);
    cpu::sgemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, reference.data(), n);
  }
  const std::vector<double> want(reference.begin(), reference.end());
  at_each_level([&](CpuLevel) {
    std::vector<float> c(size_t(m * n));
    cpu::sgemm(false, true, m, n, k, 1.f, a.data(), k, b.data(), k, 0.f, c.data(), n);
    CHECK_CLOSE_VALUES(std::vector<double>(c.begin(), c.end()), want, 1e-4, 1e-5);
  });
}

TEST_CASE("matmul/linear: edge shapes through the ops match the naive loop") {
  for (int64_t m : {1, 7, 33}) {
    for (int64_t k : {1, 17, 257}) {
      const int64_t n = 5;
      const Tensor a = Tensor::uniform({3, m, k}, -1, 1, 1);
      const Tensor b = Tensor::uniform({n, k}, -1, 1, 2);
      std::vector<double> want(size_t(3 * m * n));
      const auto av = a.to_vector<float>(), bv = b.to_vector<float>();
      naive_gemm(false, true, 3 * m, n, k, 1.0, av, k, bv, k, 0.0, want, n);
      CHECK_CLOSE_VALUES(matmul(a, b, false, true).to_f64_vector(), want, 1e-6 * double(k), 1e-5);
      CHECK_CLOSE_VALUES(linear(a, b, Tensor()).to_f64_vector(), want, 1e-6 * double(k), 1e-5);
    }
  }
  // Empty dims: K = 0 gives zeros, M = 0 gives an empty result.
  CHECK(matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3})).to_vector<float>() == std::vector<float>(6, 0.f));
  CHECK(matmul(Tensor::zeros({0, 4}), Tensor::zeros({4, 3})).shape() == Shape{0, 3});
}

TEST_CASE("matmul/linear: mismatches throw naming the op and both shapes") {
  const Tensor a = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({4, 5})),
                       doctest::Contains("matmul: inner dimensions differ: a [2, 3] gives K = 3, b [4, 5] gives K = 4"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({3, 5}), true, false),
                       doctest::Contains("a [2, 3] (transposed) gives K = 2, b [3, 5] gives K = 3"), Error);
  CHECK_NOTHROW(matmul(a, Tensor::zeros({2, 5}), true, false));
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})),
                       doctest::Contains("matmul: batch dims differ: a [2, 2, 3] and b [3, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({3}), Tensor::zeros({3, 4})),
                       doctest::Contains("matmul: inputs need at least 2 dims, got a [3] and b [3, 4]"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({3, 4}, DType::f64)),
                       doctest::Contains("matmul: dtype mismatch: f32[2, 3] on cpu vs f64[3, 4] on cpu"), Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 3}, DType::i32), Tensor::zeros({3, 4}, DType::i32)),
                       doctest::Contains("matmul: needs f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(linear(Tensor::zeros({4, 3}), Tensor::zeros({5, 2}), Tensor()),
                       doctest::Contains("linear: x [4, 3] has 3 input features but weight [5, 2] expects 2"), Error);
  CHECK_THROWS_WITH_AS(linear(Tensor::zeros({4, 3}), Tensor::zeros({5, 3}), Tensor::zeros({4})),
                       doctest::Contains("linear: bias [4] does not match weight [5, 3]"), Error);
  CHECK_THROWS_WITH_AS(linear(Tensor::zeros({4, 3}), Tensor::zeros({3}), Tensor()),
                       doctest::Contains("linear: weight must be [out, in], got [3] (x is [4, 3])"), Error);
  CHECK_THROWS_WITH_AS(linear(Tensor::zeros({4, 3}), Tensor::zeros({5, 3}), Tensor::zeros({5}, DType::f64)),
                       doctest::Contains("linear: dtype mismatch"), Error);
}

TEST_CASE("matmul: TF32 switch is a flag that round-trips") {
  CHECK_FALSE(cuda_tf32());
  set_cuda_tf32(true);
  CHECK(cuda_tf32());
  set_cuda_tf32(false);
  CHECK_FALSE(cuda_tf32());
}
