// CPU vs CUDA parity of the fused differential cross-attention (label gpu): forward output and
// map, and all five gradients, in f32, at edge shapes and the model's own shapes (Path2Sub:
// Lq = 94 pathways, Lk = 17 substructures with a mask; Drug2Path: Lq = 1, Lk = 300; H = 4, D = 24).
// diff_attention_inference: the CUDA reference composition against the CPU kernels.
// Tolerances: output and map 2e-5 abs + 1e-4 rel (fp32 with different summation orders: warp
// trees vs sequential loops); dq, dk, dv 1e-4 abs + 1e-3 rel; dλ and dweight, sums over every
// row of the batch, 1e-3 abs + 1e-3 rel. NaN or Inf anywhere fails (close.h compares !(err <= tol)).
#include <doctest/doctest.h>

#include <tuple>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "model/diff_attention.h"
#include "model/diff_attention_inference.h"
#include "tests/model/diff_attention_reference.h"
#include "tests/support/gradcheck.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {

struct Outputs {
  Tensor y, attn, dq, dk, dv, dlambda, dweight;
};

Outputs run_on(const test::DiffAttentionCase<float>& c, Device device, const std::vector<float>& dy,
               bool grad_kv = true) {
  auto t = test::to_tensors(c, device, true, {1});
  if (!grad_kv) t.k.set_requires_grad(false), t.v.set_requires_grad(false);
  DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, double(c.lambda_init), t.weight, c.heads);
  test::backward_with(r.output, Tensor::from_vector(dy, c.q_shape(), device));
  auto host = [](const Tensor& x) { return x.defined() ? x.to(Device::cpu()) : Tensor(); };
  return {host(r.output), host(r.attention), host(t.q.grad()), host(t.k.grad()), host(t.v.grad()),
          host(t.lambda.grad()), host(t.weight.grad())};
}

void check_parity(int64_t batch, int64_t lq, int64_t lk, int heads, int head_dim, int mask_kind, uint32_t seed,
                  bool grad_kv = true) {
  CAPTURE(batch); CAPTURE(lq); CAPTURE(lk); CAPTURE(heads); CAPTURE(head_dim); CAPTURE(mask_kind);
  auto c = test::make_diff_attention_case<float>(batch, lq, lk, heads, head_dim, seed, mask_kind);
  const auto dy = test::make_diff_attention_case<float>(batch, lq, 1, heads, head_dim, seed + 1000).q;
  const Outputs cpu = run_on(c, Device::cpu(), dy, grad_kv);
  const Outputs gpu = run_on(c, Device::cuda(), dy, grad_kv);
  CHECK_CLOSE_TENSOR(gpu.y, cpu.y, 2e-5, 1e-4);
  CHECK_CLOSE_TENSOR(gpu.attn, cpu.attn, 2e-5, 1e-4);
  CHECK_CLOSE_TENSOR(gpu.dq, cpu.dq, 1e-4, 1e-3);
  if (grad_kv) {
    CHECK_CLOSE_TENSOR(gpu.dk, cpu.dk, 1e-4, 1e-3);
    CHECK_CLOSE_TENSOR(gpu.dv, cpu.dv, 1e-4, 1e-3);
  } else {
    CHECK(!gpu.dk.defined());
    CHECK(!gpu.dv.defined());
  }
  CHECK_CLOSE_TENSOR(gpu.dlambda, cpu.dlambda, 1e-3, 1e-3);
  CHECK_CLOSE_TENSOR(gpu.dweight, cpu.dweight, 1e-3, 1e-3);
}

}  // namespace

TEST_CASE("gpu parity: diff_attention on edge shapes") {
  check_parity(1, 1, 1, 1, 1, 0, 1);
  check_parity(2, 5, 17, 4, 6, 1, 2);
  check_parity(3, 7, 13, 1, 5, 0, 3);
  check_parity(2, 3, 33, 2, 4, 3, 4);   // one past a warp of keys; last batch item fully masked
  check_parity(3, 2, 5, 2, 3, 2, 5);    // one valid key per batch item
  check_parity(2, 4, 65, 1, 128, 1, 6); // 2D = 256, the kernels' limit
  // Rows of at most a warp of keys (Path2Sub's case): a fully masked batch item, exactly 32 keys,
  // and 2D = 256 there too.
  check_parity(2, 3, 17, 2, 4, 3, 7);
  check_parity(2, 5, 32, 2, 8, 1, 8);
  check_parity(2, 3, 9, 1, 128, 1, 9);
}

TEST_CASE("gpu parity: diff_attention at the model's shapes") {
  check_parity(8, 94, 17, 4, 24, 1, 10);  // Path2Sub
  check_parity(8, 1, 300, 4, 24, 0, 11);  // Drug2Path
  check_parity(4, 94, 17, 4, 24, 3, 12, /*grad_kv=*/false);
}

TEST_CASE("gpu parity: diff_attention rejects 2D > 256 on the GPU") {
  auto c = test::make_diff_attention_case<float>(1, 2, 3, 1, 129, 20);
  auto t = test::to_tensors(c, Device::cuda(), false);
  CHECK_THROWS_WITH_AS(diff_attention(t.q, t.k, t.v, t.mask, t.lambda, 0.2, t.weight, 1),
                       doctest::Contains("CUDA kernels take 2D <= 256, got 2D = 258"), Error);
}

// The inference form on the GPU runs the reference composition (gather_rows + the CUDA kernels +
// mean); on the CPU its own kernels. Row maps with repeats, pooled and per row, Path2Sub's and
// Drug2Path's shapes.
TEST_CASE("gpu parity: diff_attention_inference (CUDA reference vs CPU kernels)") {
  NoGrad no_grad;
  for (const auto& [nq, nk, B, lq, lk, mask_kind] :
       {std::tuple{5, 7, 12, 112, 17, 1}, std::tuple{7, 5, 9, 1, 112, 0}, std::tuple{3, 4, 6, 17, 17, 3}}) {
    CAPTURE(lq); CAPTURE(lk);
    const auto queries = test::make_diff_attention_case<float>(nq, lq, 1, 4, 24, 40 + uint32_t(lq));
    const auto keys = test::make_diff_attention_case<float>(nk, 1, lk, 4, 24, 50 + uint32_t(lk), mask_kind);
    std::vector<int32_t> qr, kr;
    for (int b = 0; b < B; ++b) qr.push_back(b * 3 % nq), kr.push_back(b * 5 % nk);
    for (bool pool : {true, false}) {
      CAPTURE(pool);
      auto run = [&](Device d) {
        const Tensor q = Tensor::from_vector(queries.q, {nq, lq, queries.width()}, d);
        const Tensor k = Tensor::from_vector(keys.k, {nk, lk, keys.width()}, d);
        const Tensor v = Tensor::from_vector(keys.v, {nk, lk, keys.width()}, d);
        const Tensor q_rows = Tensor::from_vector(qr, {B}, d), kv_rows = Tensor::from_vector(kr, {B}, d);
        const Tensor mask = keys.mask.empty() ? Tensor() : gather_rows(Tensor::from_vector(keys.mask, {nk, lk}, d), kv_rows);
        const Tensor lambda = Tensor::from_vector(std::vector<float>{0.35f}, {}, d);
        const Tensor weight = Tensor::from_vector(keys.weight, {48}, d);
        return diff_attention_inference(q, k, v, mask, lambda, 0.2, weight, 4, 1e-5, q_rows, kv_rows, pool)
            .to(Device::cpu());
      };
      CHECK_CLOSE_TENSOR(run(Device::cuda()), run(Device::cpu()), 2e-5, 1e-4);
    }
  }
}
