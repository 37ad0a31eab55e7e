// Finite-difference gradients of the collective ops in f64 (one rank: the all-reduces are the
// identity, so this checks the composite's own backward: mean and variance paths included).
#include <doctest/doctest.h>

#include "engine/dist/collective_ops.h"
#include "engine/ops/elementwise.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

TEST_CASE("gradcheck: sync_batch_norm1d (x, weight, bias) in f64") {
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  const Tensor x = test::gradcheck_input({6, 4}, 1);
  const Tensor w = test::gradcheck_input({4}, 2, 0.5, 1.5), b = test::gradcheck_input({4}, 3);
  CHECK_GRADIENTS(
      [&](const std::vector<Tensor>& in) {
        return dist::sync_batch_norm1d(in[0], in[1], in[2], Tensor(), Tensor(), 0.1, 1e-5, *comm);
      },
      {x, w, b});
  // Without affine parameters, with running statistics (updated, but not differentiated).
  Tensor rm = Tensor::zeros({4}, DType::f64), rv = Tensor::ones({4}, DType::f64);
  CHECK_GRADIENTS(
      [&](const std::vector<Tensor>& in) {
        return dist::sync_batch_norm1d(in[0], Tensor(), Tensor(), rm, rv, 0.1, 1e-5, *comm);
      },
      {test::gradcheck_input({3, 4}, 4)});
}

TEST_CASE("gradcheck: all_reduce_sum in f64") {
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return mul(dist::all_reduce_sum(in[0], *comm), in[0]); },
                  {test::gradcheck_input({5}, 5)});
}
