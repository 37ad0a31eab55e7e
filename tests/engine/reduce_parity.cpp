// CPU<->CUDA parity of sum / mean / sum_all / mean_all, forward and backward (label gpu; skipped
// without a device). Tolerance: f32 sums of n values in [-1, 1] are compared with
// abs = 1e-6 * sqrt(n) + rel 1e-5 (tree sums err about eps * sqrt(n); 1e-6 is > 10x eps = 6e-8),
// divided by n for means; gradients of a sum are copies of dy, so they must match to 1e-6.
// The raw launchers are also run on sentinel-guarded outputs (every strategy: warp rows, chunked
// long rows, column tiles, backward) to catch out-of-bounds writes.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/reduce_math.h"
#include "tests/engine/parity_support.h"

using namespace dispa;
using dispa::test::Tolerance;

namespace {
const Device kGpu = Device::cuda();

Tolerance sum_tolerance(int64_t n, bool is_mean) {
  const double abs = 1e-6 * std::sqrt(double(n) + 1);
  return {is_mean ? abs / double(std::max<int64_t>(n, 1)) : abs, 1e-5};
}

// Forward and backward of one reduction on both devices; the loss weights w make dy non-uniform.
template <typename Op>
void check_reduction(const Shape& shape, int64_t n_reduced, bool is_mean, uint64_t seed, Op op) {
  Tensor x_cpu = Tensor::uniform(shape, -1.0, 1.0, seed);
  Tensor x_gpu = x_cpu.to(kGpu);
  x_cpu.set_requires_grad();
  x_gpu.set_requires_grad();
  Tensor y_cpu = op(x_cpu), y_gpu = op(x_gpu);
  CHECK_PARITY(y_gpu, y_cpu, sum_tolerance(n_reduced, is_mean));
  Tensor w_cpu = Tensor::uniform(y_cpu.shape(), -1.0, 1.0, seed + 1);
  sum_all(y_cpu * w_cpu).backward();
  sum_all(y_gpu * w_cpu.to(kGpu)).backward();
  CHECK_PARITY(x_gpu.grad(), x_cpu.grad(), 1e-6, 1e-6);
}
}  // namespace

TEST_CASE("reduce parity: sum and mean over every axis of edge and model shapes") {
  const std::vector<Shape> shapes = {{1}, {257}, {1, 1}, {33, 257}, {3, 4097}, {5, 7, 33}, {2, 100003}, {64, 94, 192}};
  uint64_t seed = 100;
  for (const Shape& shape : shapes) {
    for (int axis = 0; axis < int(shape.size()); ++axis) {
      CAPTURE(shape_str(shape));
      CAPTURE(axis);
      const int64_t n = shape[size_t(axis)];
      check_reduction(shape, n, false, seed++, [axis](const Tensor& x) { return sum(x, axis); });
      check_reduction(shape, n, true, seed++, [axis](const Tensor& x) { return mean(x, axis, true); });
    }
  }
}

TEST_CASE("reduce parity: sum_all and mean_all up to a few million elements (chunked two-pass path)") {
  uint64_t seed = 200;
  for (const Shape& shape : {Shape{1}, Shape{4095}, Shape{4096}, Shape{8193}, Shape{1 << 20}, Shape{3, 1000003}}) {
    CAPTURE(shape_str(shape));
    const int64_t n = shape_numel(shape);
    check_reduction(shape, n, false, seed++, [](const Tensor& x) { return sum_all(x); });
    check_reduction(shape, n, true, seed++, [](const Tensor& x) { return mean_all(x); });
  }
}

TEST_CASE("reduce parity: NaN in the input propagates (never silently dropped)") {
  std::vector<float> v(5000, 1.f);
  v[4321] = NAN;
  Tensor x = Tensor::from_vector(v, {5000}, kGpu);
  CHECK(std::isnan(sum_all(x).item()));
  CHECK(std::isnan(sum(x.reshape({50, 100}), 1).to_vector<float>()[43]));
}

#if DISPA_WITH_CUDA
TEST_CASE("reduce launchers: no writes outside the outputs and workspace") {
  struct Case {
    ReduceSplit split;
    const char* strategy;
  };
  const Case cases[] = {{{7, 33, 1}, "warp rows"},
                        {{3, 100003, 1}, "chunked rows"},
                        {{1, 1 << 20, 1}, "chunked sum_all"},
                        {{5, 17, 33}, "column tiles"},
                        {{1, 9, 257}, "column tiles"}};
  for (const Case& c : cases) {
    CAPTURE(c.strategy);
    const ReduceSplit& s = c.split;
    const int64_t numel = s.outer * s.n * s.inner, out_n = s.outer * s.inner;
    Tensor x = Tensor::uniform({numel}, -1.0, 1.0, 300);
    Tensor want = sum(x.reshape({s.outer, s.n, s.inner}), 1);
    Tensor xg = x.to(kGpu);
    test::GuardedBuffer out = test::guarded(out_n);
    test::GuardedBuffer ws = test::guarded(reduce_workspace_size(s));
    cuda::sum_axis_forward(xg.data<float>(), out.data(), s, 1.f, ws.n > 0 ? ws.data() : nullptr);
    CHECK_SENTINELS(out, "sum_axis_forward output");
    CHECK_SENTINELS(ws, "sum_axis_forward workspace");
    CHECK_CLOSE_VALUES(Tensor::from_vector(out.values(), {out_n}).to_f64_vector(), want.to_f64_vector(),
                       sum_tolerance(s.n, false).abs, 1e-5);
    Tensor dy = Tensor::uniform({out_n}, -1.0, 1.0, 301).to(kGpu);
    test::GuardedBuffer dx = test::guarded(numel);
    cuda::sum_axis_backward(dy.data<float>(), dx.data(), s, 0.5f);
    CHECK_SENTINELS(dx, "sum_axis_backward dx");
    CHECK(test::all_finite(dx.values()));
  }
}
#endif
