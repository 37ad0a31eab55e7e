// Finite-difference gradient check in f64 (central differences). The function's output is
// reduced to a scalar with fixed random weights w (loss = sum(out * w)), so the check covers
// the whole vector-Jacobian product. Small inputs are checked element by element; large ones
// along a few random directions v: <grad, v> vs (f(x + h v) - f(x - h v)) / 2h.
// Keep test points away from kinks (ReLU at 0, ties in max) where differences are wrong.
#pragma once
#include <functional>
#include <string>
#include <vector>

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
