// CPU<->CUDA parity of softmax and masked_softmax, forward and backward (label gpu; skipped without
// a device). Tolerance: forward abs 1e-6 + rel 1e-5 (probabilities; expf and the sums differ from
// the CPU's in the last bits), backward abs 1e-6 + rel 1e-4 (y * (dy - dot) cancels when dy ~ dot).
// Shapes: 1, primes, one past a warp (33) or a block (257), a few thousand keys, the model's
// [512*4*94, 17] and [512*4, 94]; logits of +-1000; masks with one and with no valid key.
// The raw launchers are also run on sentinel-guarded outputs to catch out-of-bounds writes.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"
#include "engine/ops/softmax_math.h"
#include "tests/engine/parity_support.h"

using namespace dispa;

namespace {
const Device kGpu = Device::cuda();

// Runs op on CPU and GPU copies of x, compares y, then dx for the loss sum(y * w).
template <typename Op>
void check_softmax(const Tensor& x_host, uint64_t seed, Op op) {
  Tensor x_cpu = x_host.clone(), x_gpu = x_host.to(kGpu);
  x_cpu.set_requires_grad();
  x_gpu.set_requires_grad();
  Tensor y_cpu = op(x_cpu), y_gpu = op(x_gpu);
  CHECK_PARITY(y_gpu, y_cpu, 1e-6, 1e-5);
  Tensor w = Tensor::uniform(x_host.shape(), -1.0, 1.0, seed);
  sum_all(y_cpu * w).backward();
  sum_all(y_gpu * w.to(kGpu)).backward();
  CHECK_PARITY(x_gpu.grad(), x_cpu.grad(), 1e-6, 1e-4);
}
}  // namespace

TEST_CASE("softmax parity: edge and model shapes") {
  const std::vector<Shape> shapes = {{1, 1}, {1}, {5, 17}, {3, 2}, {33, 257}, {7, 1000}, {3, 4097},
                                     {512 * 4 * 94, 17}, {512 * 4, 94}, {2, 4, 3, 300}};
  uint64_t seed = 400;
  for (const Shape& shape : shapes) {
    CAPTURE(shape_str(shape));
    check_softmax(Tensor::uniform(shape, -6.0, 6.0, seed), seed + 1, [](const Tensor& x) { return softmax(x); });
    seed += 2;
  }
}

TEST_CASE("softmax parity: logits of +-1000") {
  Tensor x = Tensor::uniform({9, 37}, -1000.0, 1000.0, 410);
  check_softmax(x, 411, [](const Tensor& t) { return softmax(t); });
  Tensor y = softmax(x.to(kGpu));
  for (float v : y.to_vector<float>()) CHECK(std::isfinite(v));
}

TEST_CASE("masked_softmax parity: [B, 1, 1, K] masks with partial, one-key and empty rows") {
  for (int64_t K : {int64_t(17), int64_t(94), int64_t(300)}) {
    CAPTURE(K);
    const int64_t B = 6, H = 4, Q = 5;
    // Batch 0 keeps every key, 1 keeps one, 2 keeps none, 3-5 keep random subsets.
    std::vector<int32_t> keep(size_t(B * K), 1);
    const std::vector<float> r = Tensor::uniform({B * K}, 0.0, 1.0, 420 + K).to_vector<float>();
    for (int64_t k = 0; k < K; ++k) {
      keep[size_t(1 * K + k)] = k == K / 2;
      keep[size_t(2 * K + k)] = 0;
      for (int64_t b = 3; b < B; ++b) keep[size_t(b * K + k)] = r[size_t(b * K + k)] < 0.6f;
    }
    Tensor mask = Tensor::from_vector(keep, {B, 1, 1, K});
    Tensor x = Tensor::uniform({B, H, Q, K}, -5.0, 5.0, 430 + K);
    check_softmax(x, 440 + K, [mask](const Tensor& t) { return masked_softmax(t, t.is_cuda() ? mask.to(kGpu) : mask); });
    // Element masks in f32 and i64, and a per-row mask.
    Tensor elem = Tensor::uniform({B, H, Q, K}, 0.0, 1.0, 450 + K);
    Tensor elem_mask = Tensor::from_vector(
        [&] {
          std::vector<float> m = elem.to_vector<float>();
          for (float& v : m) v = v < 0.5f ? 0.f : 1.f;
          return m;
        }(),
        {B, H, Q, K});
    check_softmax(x, 460 + K,
                  [elem_mask](const Tensor& t) { return masked_softmax(t, t.is_cuda() ? elem_mask.to(kGpu) : elem_mask); });
    Tensor row_mask = Tensor::from_vector(std::vector<int64_t>{1, 0, 1, 1, 0}, {1, 1, Q, 1});
    check_softmax(x, 470 + K,
                  [row_mask](const Tensor& t) { return masked_softmax(t, t.is_cuda() ? row_mask.to(kGpu) : row_mask); });
  }
}

#if DISPA_WITH_CUDA
TEST_CASE("softmax launchers: no writes outside the outputs") {
  for (const auto& [rows, K] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {9, 17}, {33, 33}, {3, 4097}, {1000, 94}}) {
    CAPTURE(rows);
    CAPTURE(K);
    Tensor x = Tensor::uniform({rows, K}, -4.0, 4.0, 480).to(kGpu);
    test::GuardedBuffer y = test::guarded(rows * K);
    cuda::softmax_forward(x.data<float>(), y.data(), rows, K);
    CHECK_SENTINELS(y, "softmax_forward y");
    CHECK(test::all_finite(y.values()));

    // Mask [K] (every row shares it), key 0 dropped.
    std::vector<int32_t> keep(size_t(K), 1);
    keep[0] = 0;
    Tensor mask = Tensor::from_vector(keep, {K}, kGpu);
    SoftmaxMaskIndex mi;
    mi.index.ndim = 2;
    mi.index.out_shape[0] = rows;
    mi.index.out_shape[1] = K;
    mi.index.stride_a[0] = K;
    mi.index.stride_a[1] = 1;
    mi.index.stride_b[0] = 0;
    mi.index.stride_b[1] = 1;
    mi.key_stride = 1;
    test::GuardedBuffer ym = test::guarded(rows * K);
    cuda::masked_softmax_forward(x.data<float>(), mask.data<int32_t>(), mi, ym.data(), rows, K);
    CHECK_SENTINELS(ym, "masked_softmax_forward y");
    CHECK(test::all_finite(ym.values()));
    Tensor want = masked_softmax(x.to(Device::cpu()), mask.to(Device::cpu()));
    CHECK_CLOSE_VALUES(Tensor::from_vector(ym.values(), {rows, K}).to_f64_vector(), want.to_f64_vector(), 1e-6, 1e-5);

    Tensor dy = Tensor::uniform({rows, K}, -1.0, 1.0, 481).to(kGpu);
    test::GuardedBuffer dx = test::guarded(rows * K);
    cuda::softmax_backward(y.data(), dy.data<float>(), dx.data(), rows, K);
    CHECK_SENTINELS(dx, "softmax_backward dx");
    CHECK(test::all_finite(dx.values()));
  }
}
#endif
