// CPU<->CUDA parity of layer_norm, rms_norm and batch_norm1d: outputs, running statistics, and
// gradients of x, weight and bias (label gpu; skipped without a device).
// Tolerances: forward abs 1e-5 + rel 1e-4 (normalised values are O(1); f32 statistics on the GPU
// against double-accumulated ones on the CPU); dx abs 1e-4 + rel 1e-3 (a difference of row means);
// dw, db are sums over R rows: abs 1e-5 * sqrt(R) + rel 1e-4. Running statistics: 1e-6 + rel 1e-5.
// Widths: 1, primes, 33, 192 (E), 257, 1025 and 4099 (past the warp-per-row limit), 94 * 192 (the
// [P, E] slab); tiny-variance rows. Raw launchers also run on sentinel-guarded outputs.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/norm.h"
#include "engine/ops/norm_math.h"
#include "engine/ops/reduce.h"
#include "tests/engine/parity_support.h"

using namespace dispa;
using dispa::test::Tolerance;

namespace {
const Device kGpu = Device::cuda();

struct Params {
  Tensor x, w, b;
};
Params leaves(const Params& host, Device device) {
  // clone(): to() returns the same tensor when it is already on `device`, and gradients must not
  // accumulate into the shared host tensors across checks.
  Params p;
  p.x = host.x.clone().to(device);
  p.x.set_requires_grad();
  if (host.w.defined()) p.w = host.w.clone().to(device).set_requires_grad();
  if (host.b.defined()) p.b = host.b.clone().to(device).set_requires_grad();
  return p;
}

// Forward and the gradients of sum(y * g) for x, w, b on both devices.
template <typename Op>
void check_norm(const Params& host, int64_t rows_per_param, uint64_t seed, Op op) {
  Params c = leaves(host, Device::cpu()), g = leaves(host, kGpu);
  Tensor y_cpu = op(c), y_gpu = op(g);
  CHECK_PARITY(y_gpu, y_cpu, 1e-5, 1e-4);
  Tensor w = Tensor::uniform(y_cpu.shape(), -1.0, 1.0, seed);
  sum_all(y_cpu * w).backward();
  sum_all(y_gpu * w.to(kGpu)).backward();
  CHECK_PARITY(g.x.grad(), c.x.grad(), 1e-4, 1e-3);
  const Tolerance param_tol{1e-5 * std::sqrt(double(rows_per_param)), 1e-4};
  if (c.w.defined()) CHECK_PARITY(g.w.grad(), c.w.grad(), param_tol);
  if (c.b.defined()) CHECK_PARITY(g.b.grad(), c.b.grad(), param_tol);
}
}  // namespace

TEST_CASE("layer_norm parity: widths around the kernel limits, affine and plain, k = 1 and 2") {
  uint64_t seed = 500;
  for (int64_t D : {1, 7, 33, 192, 257, 1025, 4099}) {
    for (int64_t rows : {1, 3, 513}) {
      CAPTURE(D);
      CAPTURE(rows);
      Params p{Tensor::uniform({rows, D}, -3.0, 5.0, seed), Tensor::uniform({D}, 0.5, 1.5, seed + 1),
               Tensor::uniform({D}, -1.0, 1.0, seed + 2)};
      seed += 3;
      check_norm(p, rows, seed++, [](const Params& q) { return layer_norm(q.x, 1, q.w, q.b); });
      check_norm({p.x, Tensor(), Tensor()}, rows, seed++, [](const Params& q) { return layer_norm(q.x, 1, q.w, q.b); });
    }
  }
  // The [B, P, E] slab normalised over [P, E] (k = 2): one block per row of 94 * 192 values.
  Params slab{Tensor::uniform({4, 94, 192}, -2.0, 2.0, 520), Tensor::uniform({94, 192}, 0.5, 1.5, 521),
              Tensor::uniform({94, 192}, -1.0, 1.0, 522)};
  check_norm(slab, 4, 523, [](const Params& q) { return layer_norm(q.x, 2, q.w, q.b); });
  // Tiny variance: deviations of 1e-4 around 3.
  Tensor tiny = Tensor::uniform({7, 33}, -1e-4, 1e-4, 524) + 3.0;
  check_norm({tiny, Tensor(), Tensor()}, 7, 525, [](const Params& q) { return layer_norm(q.x, 1, q.w, q.b); });
}

TEST_CASE("rms_norm parity: head dim 24 and edge widths") {
  uint64_t seed = 600;
  for (int64_t D : {1, 24, 33, 192, 1025}) {
    CAPTURE(D);
    Params p{Tensor::uniform({257, D}, -2.0, 2.0, seed), Tensor::uniform({D}, 0.5, 1.5, seed + 1), Tensor()};
    seed += 2;
    check_norm(p, 257, seed++, [](const Params& q) { return rms_norm(q.x, q.w); });
    check_norm({p.x, Tensor(), Tensor()}, 257, seed++, [](const Params& q) { return rms_norm(q.x, q.w); });
  }
}

TEST_CASE("batch_norm1d parity: training (with running statistics) and eval") {
  uint64_t seed = 700;
  for (const auto& [N, C] : std::vector<std::pair<int64_t, int64_t>>{{512, 256}, {512, 64}, {5, 33}, {2, 1}, {17, 257}}) {
    CAPTURE(N);
    CAPTURE(C);
    Params p{Tensor::uniform({N, C}, -2.0, 3.0, seed), Tensor::uniform({C}, 0.5, 1.5, seed + 1),
             Tensor::uniform({C}, -1.0, 1.0, seed + 2)};
    seed += 3;
    Tensor rm_cpu = Tensor::uniform({C}, -0.5, 0.5, seed), rv_cpu = Tensor::uniform({C}, 0.5, 2.0, seed + 1);
    Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
    seed += 2;
    check_norm(p, N, seed++, [&](const Params& q) {
      return q.x.is_cuda() ? batch_norm1d(q.x, q.w, q.b, rm_gpu, rv_gpu, true)
                           : batch_norm1d(q.x, q.w, q.b, rm_cpu, rv_cpu, true);
    });
    CHECK_PARITY(rm_gpu, rm_cpu, 1e-6, 1e-5);
    CHECK_PARITY(rv_gpu, rv_cpu, 1e-6, 1e-5);
    check_norm(p, N, seed++, [&](const Params& q) {
      return q.x.is_cuda() ? batch_norm1d(q.x, q.w, q.b, rm_gpu, rv_gpu, false)
                           : batch_norm1d(q.x, q.w, q.b, rm_cpu, rv_cpu, false);
    });
    check_norm({p.x, Tensor(), Tensor()}, N, seed++, [](const Params& q) {
      return batch_norm1d(q.x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    });
  }
}

#if DISPA_WITH_CUDA
TEST_CASE("norm launchers: no writes outside the outputs, statistics and workspace") {
  for (const auto& [rows, D] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {9, 33}, {513, 192}, {3, 4099}}) {
    for (bool centered : {true, false}) {
      CAPTURE(rows);
      CAPTURE(D);
      CAPTURE(centered);
      Tensor x = Tensor::uniform({rows, D}, -2.0, 2.0, 800).to(kGpu);
      Tensor w = Tensor::uniform({D}, 0.5, 1.5, 801).to(kGpu), b = Tensor::uniform({D}, -1.0, 1.0, 802).to(kGpu);
      test::GuardedBuffer y = test::guarded(rows * D), mean = test::guarded(rows), rstd = test::guarded(rows);
      cuda::row_norm_forward(x.data<float>(), w.data<float>(), centered ? b.data<float>() : nullptr, y.data(),
                             centered ? mean.data() : nullptr, rstd.data(), rows, D, 1e-5f, centered);
      CHECK_SENTINELS(y, "row_norm_forward y");
      CHECK_SENTINELS(mean, "row_norm_forward mean");
      CHECK_SENTINELS(rstd, "row_norm_forward rstd");
      CHECK(test::all_finite(y.values()));
      Tensor dy = Tensor::uniform({rows, D}, -1.0, 1.0, 803).to(kGpu);
      test::GuardedBuffer dx = test::guarded(rows * D), dw = test::guarded(D), db = test::guarded(D);
      test::GuardedBuffer ws = test::guarded(row_norm_workspace_size(rows, D));
      cuda::row_norm_backward(x.data<float>(), w.data<float>(), centered ? mean.data() : nullptr, rstd.data(),
                              dy.data<float>(), dx.data(), dw.data(), centered ? db.data() : nullptr, rows, D, centered,
                              ws.data());
      CHECK_SENTINELS(dx, "row_norm_backward dx");
      CHECK_SENTINELS(dw, "row_norm_backward dw");
      CHECK_SENTINELS(db, "row_norm_backward db");
      CHECK_SENTINELS(ws, "row_norm_backward workspace");
      CHECK(test::all_finite(dx.values()));
      CHECK(test::all_finite(dw.values()));
    }
  }
  for (const auto& [N, C] : std::vector<std::pair<int64_t, int64_t>>{{2, 1}, {512, 256}, {7, 33}}) {
    for (bool training : {true, false}) {
      CAPTURE(N);
      CAPTURE(C);
      CAPTURE(training);
      Tensor x = Tensor::uniform({N, C}, -2.0, 2.0, 810).to(kGpu);
      Tensor w = Tensor::uniform({C}, 0.5, 1.5, 811).to(kGpu), b = Tensor::uniform({C}, -1.0, 1.0, 812).to(kGpu);
      test::GuardedBuffer y = test::guarded(N * C), mean = test::guarded(C), rstd = test::guarded(C);
      test::GuardedBuffer rm = test::guarded(C, std::vector<float>(size_t(C), 0.f));
      test::GuardedBuffer rv = test::guarded(C, std::vector<float>(size_t(C), 1.f));
      cuda::batch_norm_forward(x.data<float>(), w.data<float>(), b.data<float>(), y.data(), mean.data(), rstd.data(),
                               rm.data(), rv.data(), N, C, training, 0.1f, 1e-5f);
      for (const auto* buf : {&y, &mean, &rstd, &rm, &rv}) CHECK_SENTINELS(*buf, "batch_norm_forward");
      CHECK(test::all_finite(y.values()));
      Tensor dy = Tensor::uniform({N, C}, -1.0, 1.0, 813).to(kGpu);
      test::GuardedBuffer dx = test::guarded(N * C), dw = test::guarded(C), db = test::guarded(C);
      cuda::batch_norm_backward(x.data<float>(), w.data<float>(), mean.data(), rstd.data(), dy.data<float>(), dx.data(),
                                dw.data(), db.data(), N, C, training);
      for (const auto* buf : {&dx, &dw, &db}) CHECK_SENTINELS(*buf, "batch_norm_backward");
      CHECK(test::all_finite(dx.values()));
    }
  }
}
#endif
