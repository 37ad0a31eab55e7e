// Finite-difference gradient checks (f64, CPU) for gathered_linear in x, weight and bias, with
// padding at the end of a row, in its middle, a fully padded row and a column of x read by several
// rows (its gradient sums them).
#include <doctest/doctest.h>

#include "engine/ops/gathered_linear.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed) { return test::gradcheck_input(shape, seed, -2.0, 2.0); }
}  // namespace

TEST_CASE("gradcheck: gathered_linear in x, weight and bias, element by element") {
  // P = 3 rows of S = 4 slots over G = 5 columns: padding at the end, in the middle, everywhere.
  Tensor index = Tensor::from_vector(std::vector<int32_t>{4, 0, -1, -1, 2, -1, 0, 3, -1, -1, -1, -1}, {3, 4});
  CHECK_GRADIENTS([index](const std::vector<Tensor>& in) { return gathered_linear(in[0], index, in[1], in[2]); },
                  {input({2, 5}, 1), input({3, 4}, 2), input({3}, 3)});
  CHECK_GRADIENTS([index](const std::vector<Tensor>& in) { return gathered_linear(in[0], index, in[1], Tensor()); },
                  {input({1, 5}, 4), input({2, 4}, 5)});
}

TEST_CASE("gradcheck: gathered_linear at a larger size, along random directions") {
  std::vector<int64_t> iv(9 * 11);
  for (size_t k = 0; k < iv.size(); ++k) iv[k] = (k % 4 == 1 || k / 11 == 5) ? -1 : int64_t((k * 7) % 13);
  Tensor index = Tensor::from_vector(iv, {9, 11});
  CHECK_GRADIENTS([index](const std::vector<Tensor>& in) { return gathered_linear(in[0], index, in[1], in[2]); },
                  {input({6, 13}, 6), input({8, 11}, 7), input({8}, 8)});
}
