// CPU <-> CUDA parity for gathered_linear (label gpu; skipped without a device). The CUDA op is the
// composite linear(gather_columns(x, index)) (gathered_linear.h), so this checks the CPU's packed
// per-pathway GEMMs against cuBLAS on the model's shape: forward, and the x, weight and bias
// gradients (fp32 sums in different orders: to rounding), and the same error for a bad index.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/gathered_linear.h"
#include "tests/engine/parity_support.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;
using dispa::test::gpu_leaf;

namespace {
const Device kGpu = Device::cuda(0);

void check_close(const Tensor& gpu, const Tensor& cpu, double tol) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, tol, tol);
}
}  // namespace

TEST_CASE("gathered_linear parity: the gene FFN's first layer shape, forward and every gradient") {
  const int64_t C = 37, G = 706, P = 112, S = 114, h = 512;
  std::vector<int32_t> v(size_t(P * S), -1);
  for (int64_t p = 0; p < P; ++p)  // 5 to 114 genes, some rows padded in the middle, one row empty
    for (int64_t s = 0; s < 5 + (p * 37) % 110; ++s)
      if (p != 7 && (p % 3 != 0 || s % 4 != 2)) v[size_t(p * S + s)] = int32_t((p * 131 + s * 17) % G);
  const Tensor index = Tensor::from_vector(v, {P, S});
  Tensor xc = Tensor::uniform({C, G}, -2, 2, 1).set_requires_grad();
  Tensor wc = Tensor::uniform({h, S}, -0.1, 0.1, 2).set_requires_grad();
  Tensor bc = Tensor::uniform({h}, -0.1, 0.1, 3).set_requires_grad();
  Tensor xg = gpu_leaf(xc), wg = gpu_leaf(wc), bg = gpu_leaf(bc);
  Tensor yc = gathered_linear(xc, index, wc, bc), yg = gathered_linear(xg, index.to(kGpu), wg, bg);
  check_close(yg, yc, 1e-5);
  const Tensor up = Tensor::uniform(yc.shape(), -1, 1, 4);
  backward_with(yc, up);
  backward_with(yg, up.to(kGpu));
  check_close(xg.grad(), xc.grad(), 1e-4);
  check_close(wg.grad(), wc.grad(), 1e-4);
  check_close(bg.grad(), bc.grad(), 1e-4);
}

TEST_CASE("gathered_linear parity: a bad index throws on both devices, naming its value and position") {
  Tensor x = Tensor::zeros({2, 5}), w = Tensor::zeros({3, 3});
  Tensor index = Tensor::from_vector(std::vector<int64_t>{0, -1, 4, 7, 1, -1}, {2, 3});
  CHECK_THROWS_WITH_AS(gathered_linear(x, index, w, Tensor()), doctest::Contains("index 7 at position [1, 0]"), Error);
  CHECK_THROWS_WITH_AS(gathered_linear(x.to(kGpu), index.to(kGpu), w.to(kGpu), Tensor()),
                       doctest::Contains("index 7 at position [1, 0]"), Error);
}
