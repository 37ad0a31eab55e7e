// f64 finite-difference checks of layer_norm (k = 1 and k = 2, with and without affine), rms_norm
// (with and without weight) and batch_norm1d (training with batch statistics, and eval), for the
// input and the parameters.
#include <doctest/doctest.h>

#include "engine/ops/norm.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor input(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Tensor t = Tensor::uniform(shape, lo, hi, seed, 0, DType::f64);
  t.set_requires_grad();
  return t;
}
}  // namespace

TEST_CASE("gradcheck: layer_norm over the last axis (k = 1), affine and plain") {
  Tensor x = input({3, 5}, 61), w = input({5}, 62, 0.5, 1.5), b = input({5}, 63);
  w.set_name("weight");
  b.set_name("bias");
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return layer_norm(in[0], 1, in[1], in[2]); }, {x, w, b});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return layer_norm(in[0], 1, Tensor(), Tensor()); }, {x});
  // Wider rows, checked along random directions.
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return layer_norm(in[0], 1, in[1], in[2]); },
                  {input({4, 33}, 64), input({33}, 65, 0.5, 1.5), input({33}, 66)});
}

TEST_CASE("gradcheck: layer_norm over the last two axes (k = 2) with affine") {
  Tensor x = input({2, 3, 4}, 67), w = input({3, 4}, 68, 0.5, 1.5), b = input({3, 4}, 69);
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return layer_norm(in[0], 2, in[1], in[2]); }, {x, w, b});
}

TEST_CASE("gradcheck: rms_norm with and without weight") {
  Tensor x = input({4, 6}, 70), w = input({6}, 71, 0.5, 1.5);
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1]); }, {x, w});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return rms_norm(in[0], Tensor()); }, {x});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-3); },
                  {input({2, 3, 24}, 72), input({24}, 73, 0.5, 1.5)});
}

TEST_CASE("gradcheck: batch_norm1d in training mode (batch statistics) with affine") {
  Tensor x = input({6, 4}, 74), w = input({4}, 75, 0.5, 1.5), b = input({4}, 76);
  // Running statistics are updated on every evaluation; training-mode outputs never read them.
  Tensor rm = Tensor::zeros({4}, DType::f64), rv = Tensor::ones({4}, DType::f64);
  CHECK_GRADIENTS([rm, rv](const std::vector<Tensor>& in) { return batch_norm1d(in[0], in[1], in[2], rm, rv, true); },
                  {x, w, b});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) {
    return batch_norm1d(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
  }, {input({5, 3}, 77)});
}

TEST_CASE("gradcheck: batch_norm1d in eval mode (running statistics are constants)") {
  Tensor rm = Tensor::from_vector(std::vector<double>{0.1, -0.2, 0.3}, {3});
  Tensor rv = Tensor::from_vector(std::vector<double>{0.5, 1.5, 2.0}, {3});
  CHECK_GRADIENTS([rm, rv](const std::vector<Tensor>& in) { return batch_norm1d(in[0], in[1], in[2], rm, rv, false); },
                  {input({4, 3}, 78), input({3}, 79, 0.5, 1.5), input({3}, 80)});
}
