// Finite-difference gradient checks (f64, CPU) for gather_rows and gather_columns, with repeated
// indices (gradients must sum) and -1 padding (no gradient).
#include <doctest/doctest.h>

#include "engine/ops/gather.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed) { return test::gradcheck_input(shape, seed, -2.0, 2.0); }
}  // namespace

TEST_CASE("gradcheck: gather_rows with repeated indices and padding") {
  Tensor index = Tensor::from_vector(std::vector<int64_t>{3, 0, -1, 3, 3, 1}, {2, 3});
  CHECK_GRADIENTS([index](const std::vector<Tensor>& in) { return gather_rows(in[0], index); }, {input({5, 2}, 1)});
  Tensor index32 = Tensor::from_vector(std::vector<int32_t>{1, 1, -1, 0}, {4});
  CHECK_GRADIENTS([index32](const std::vector<Tensor>& in) { return gather_rows(in[0], index32); },
                  {input({2, 2, 3}, 2)});
  CHECK_GRADIENTS([index32](const std::vector<Tensor>& in) { return gather_rows(in[0], index32); }, {input({3}, 3)});
}

TEST_CASE("gradcheck: gather_columns with repeated indices and padding") {
  Tensor index = Tensor::from_vector(std::vector<int32_t>{4, 0, -1, 2, 2, 4, -1, -1}, {2, 4});
  CHECK_GRADIENTS([index](const std::vector<Tensor>& in) { return gather_columns(in[0], index); },
                  {input({3, 6}, 4)});
  // Larger than the element-wise limit: checked along random directions.
  std::vector<int64_t> iv(60);
  for (size_t k = 0; k < iv.size(); ++k) iv[k] = k % 9 == 0 ? -1 : int64_t((k * 7) % 13);
  Tensor big = Tensor::from_vector(iv, {6, 10});
  CHECK_GRADIENTS([big](const std::vector<Tensor>& in) { return gather_columns(in[0], big); }, {input({7, 13}, 5)});
}
