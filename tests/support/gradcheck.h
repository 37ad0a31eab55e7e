// Finite-difference gradient check in f64 (central differences). The function's output is
// reduced to a scalar with fixed random weights w (loss = sum(out * w)), so the check covers
// the whole vector-Jacobian product. Small inputs are checked element by element; large ones
// along a few random directions v: <grad, v> vs (f(x + h v) - f(x - h v)) / 2h.
// Keep test points away from kinks (ReLU at 0, ties in max) where differences are wrong.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace dispa::test {

struct GradcheckOptions {
  double step = 1e-6;
  double abs_tol = 1e-6;
  double rel_tol = 1e-5;
  int64_t elementwise_limit = 64;  // inputs larger than this use random directions
  int directions = 4;
  uint64_t seed = 1234;
};

using GradFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// An f64 CPU leaf with Philox-uniform values in [lo, hi) that requires a gradient.
inline Tensor gradcheck_input(const Shape& shape, uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Tensor t = Tensor::uniform(shape, lo, hi, seed, 0, DType::f64);
  t.set_requires_grad();
  return t;
}

// Runs backward from `out` with the upstream gradient `upstream` (same shape), by recording a
// scalar root whose backward hands `upstream` to `out`: a VJP without a reduction op in the way.
inline void backward_with(const Tensor& out, const Tensor& upstream) {
  Tensor root = Tensor::scalar(0.0, out.dtype(), out.device());
  record("test_upstream", {out}, root, [out, upstream](const Tensor&) { out.accumulate_grad(upstream); });
  root.backward();
}

// Inputs must be f64 CPU tensors; those with requires_grad are checked. Returns "" on success,
// otherwise a description naming the input, element/direction and both values.
std::string gradcheck(const GradFunction& f, const std::vector<Tensor>& inputs,
                      GradcheckOptions options = {});

}  // namespace dispa::test

// CHECK_GRADIENTS(function, {inputs...} [, options]): variadic so braces and lambdas pass through.
#define CHECK_GRADIENTS(...)                                                      \
  do {                                                                            \
    const std::string dispa_msg_ = ::dispa::test::gradcheck(__VA_ARGS__);         \
    CHECK_MESSAGE(dispa_msg_.empty(), dispa_msg_);                                \
  } while (0)
