// CPU <-> CUDA parity for mse_loss (label gpu; skipped without a device): both accumulate in
// double, so the f32 loss agrees to rounding; the gradient (read from dy on the device) agrees
// to rounding too. Sizes 1, primes, one past a block, and larger than the fixed grid; sentinels
// after the raw launchers' outputs and scratch. NaN in a GPU result fails (close.h).
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/loss_math.h"
#include "tests/engine/parity_support.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {
const Device kGpu = Device::cuda(0);
constexpr int64_t kPad = 67;
constexpr double kSentinel = 12345.0;

void check_close(const Tensor& gpu, const Tensor& cpu, double rel) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, 0.0, rel);
}

// Elements past n of a buffer filled with kSentinel must be untouched.
[[maybe_unused]] void check_sentinel(const Tensor& buffer, int64_t n) { test::check_sentinel_tail(buffer, n, kSentinel); }
}  // namespace

TEST_CASE("loss parity: mse_loss forward and backward") {
  for (int64_t n : {int64_t(1), int64_t(33), int64_t(257), int64_t(65537), int64_t(1000003)}) {
    CAPTURE(n);
    Tensor pc = Tensor::uniform({n}, -3, 3, 1).set_requires_grad();
    Tensor t = Tensor::uniform({n}, -3, 3, 2);
    Tensor pg = pc.to(kGpu);
    pg.set_requires_grad();
    Tensor lc = mse_loss(pc, t), lg = mse_loss(pg, t.to(kGpu));
    check_close(lg, lc, 1e-6);
    // A non-unit upstream gradient, read on the device.
    mul_scalar(lc, 3.0).backward();
    mul_scalar(lg, 3.0).backward();
    check_close(pg.grad(), pc.grad(), 1e-6);
  }
}

TEST_CASE("loss parity: a NaN from the GPU fails the comparison") {
  // The comparison used above must put NaN on the failing side.
  Tensor want = Tensor::from_vector(std::vector<float>{1.0f}, {1});
  Tensor nan = Tensor::full({1}, std::nan(""), DType::f32, kGpu);
  CHECK(!dispa::test::compare_tensors(nan.to(Device::cpu()), want, {0.0, 0.0}).empty());
}

TEST_CASE("loss parity: raw launchers write only their outputs and scratch") {
#if DISPA_WITH_CUDA
  const int64_t n = 4099;
  Tensor p = Tensor::uniform({n}, -1, 1, 5, 0, DType::f32, kGpu);
  Tensor t = Tensor::uniform({n}, -1, 1, 6, 0, DType::f32, kGpu);
  Tensor partials = Tensor::full({kMseBlocks + kPad}, kSentinel, DType::f64, kGpu);
  Tensor out = Tensor::full({1 + kPad}, kSentinel, DType::f32, kGpu);
  cuda::mse_forward<float>(p.data<float>(), t.data<float>(), n, partials.data<double>(), out.data<float>());
  check_sentinel(partials, kMseBlocks);
  check_sentinel(out, 1);
  const double want = mse_loss(p.to(Device::cpu()), t.to(Device::cpu())).item();
  CHECK(std::abs(out.to_f64_vector()[0] - want) <= 1e-6 * want);
  Tensor dy = Tensor::full({1}, 1.0, DType::f32, kGpu);
  Tensor dp = Tensor::full({n + kPad}, kSentinel, DType::f32, kGpu);
  cuda::mse_backward<float>(p.data<float>(), t.data<float>(), dy.data<float>(), dp.data<float>(), n);
  check_sentinel(dp, n);
#endif
}
