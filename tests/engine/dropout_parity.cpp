// CPU <-> CUDA parity for dropout (label gpu; skipped without a device): the same (seed, offset)
// gives the same mask on both devices, so forward and backward match bit for bit; a sentinel
// after the raw launcher's output catches out-of-bounds writes. NaN in a GPU result fails.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/dropout.h"
#include "engine/ops/dropout_math.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;

namespace {
const Device kGpu = Device::cuda(0);
constexpr int64_t kPad = 67;
constexpr double kSentinel = 12345.0;

void check_exact(const Tensor& gpu, const Tensor& cpu) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, 0.0, 0.0);
}
}  // namespace

TEST_CASE("dropout parity: the same mask on CPU and GPU, forward and backward") {
  for (int64_t n : {int64_t(1), int64_t(33), int64_t(257), int64_t(512 * 257 + 3)}) {
    for (double p : {0.1, 0.5}) {
      CAPTURE(n);
      CAPTURE(p);
      for (uint64_t offset : {uint64_t(0), uint64_t(12345)}) {
        Tensor xc = Tensor::uniform({n}, -2, 2, 1).set_requires_grad();
        Tensor xg = xc.to(kGpu);
        xg.set_requires_grad();
        Tensor yc = dropout(xc, p, true, 2024, offset), yg = dropout(xg, p, true, 2024, offset);
        check_exact(yg, yc);
        Tensor up = Tensor::uniform({n}, -1, 1, 3);
        backward_with(yc, up);
        backward_with(yg, up.to(kGpu));
        check_exact(xg.grad(), xc.grad());
      }
    }
  }
  // Eval mode is the identity on the GPU too.
  Tensor g = Tensor::ones({5}, DType::f32, kGpu);
  CHECK(dropout(g, 0.5, false, 1, 0).same(g));
}

TEST_CASE("dropout parity: the raw launcher writes only its output") {
#if DISPA_WITH_CUDA
  const int64_t n = 257;
  Tensor x = Tensor::uniform({n}, -1, 1, 4, 0, DType::f32, kGpu);
  Tensor out = Tensor::full({n + kPad}, kSentinel, DType::f32, kGpu);
  cuda::dropout_masked_scale<float>(x.data<float>(), out.data<float>(), n, 0.5f, 2.0f, 7, 0);
  const auto v = out.to_f64_vector();
  for (int64_t i = n; i < n + kPad; ++i) CHECK(v[size_t(i)] == kSentinel);
  const auto want = dropout(x.to(Device::cpu()), 0.5, true, 7, 0).to_f64_vector();
  CHECK_CLOSE_VALUES(std::vector<double>(v.begin(), v.begin() + n), want, 0.0, 0.0);
#endif
}
