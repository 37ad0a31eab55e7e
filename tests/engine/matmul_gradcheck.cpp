// f64 finite-difference checks of matmul (every transpose combination, batched b, a 2-D b shared
// by a batch with and without transpose_a, which take different backward paths) and linear (with
// and without bias, 1-D to 3-D x). Products are smooth, so no kinks to avoid.
#include <doctest/doctest.h>

#include "engine/ops/matmul.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed) { return test::gradcheck_input(shape, seed, -1.5, 1.5); }
// Stored shape of an M x K operand ([K, M] when transposed) with leading batch dims.
Shape stored(Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.push_back(transposed ? cols : rows);
  batch.push_back(transposed ? rows : cols);
  return batch;
}
}  // namespace

TEST_CASE("gradcheck: matmul, every transpose combination") {
  const int64_t m = 3, k = 4, n = 5;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    CAPTURE(ta);
    CAPTURE(tb);
    CHECK_GRADIENTS([ta, tb](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); },
                    {input(stored({}, m, k, ta), 1), input(stored({}, k, n, tb), 2)});
  }
}

TEST_CASE("gradcheck: batched matmul, batched and shared b") {
  const int64_t m = 2, k = 3, n = 4;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    CAPTURE(ta);
    CAPTURE(tb);
    auto f = [ta, tb](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); };
    // b batched like a: [2, 3] batch dims (random directions check the larger inputs too).
    CHECK_GRADIENTS(f, {input(stored({2, 3}, m, k, ta), 3), input(stored({2, 3}, k, n, tb), 4)});
    // b 2-D, shared: folded into one GEMM when !ta, accumulated entry by entry when ta.
    CHECK_GRADIENTS(f, {input(stored({3}, m, k, ta), 5), input(stored({}, k, n, tb), 6)});
  }
}

TEST_CASE("gradcheck: linear with and without bias") {
  auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  auto without_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); };
  for (const Shape& xs : {Shape{4}, Shape{3, 4}, Shape{2, 3, 4}}) {
    CAPTURE(shape_str(xs));
    CHECK_GRADIENTS(with_bias, {input(xs, 7), input({5, 4}, 8), input({5}, 9)});
    CHECK_GRADIENTS(without_bias, {input(xs, 10), input({5, 4}, 11)});
  }
  // Only the weight requires a gradient: x and bias are constants.
  Tensor x = Tensor::uniform({3, 4}, -1, 1, 12, 0, DType::f64);
  Tensor bias = Tensor::uniform({5}, -1, 1, 13, 0, DType::f64);
  CHECK_GRADIENTS(with_bias, {x, input({5, 4}, 14), bias});
}
