// CPU vs CUDA parity of the fused differential cross-attention (label gpu): forward output and
// map, and all five gradients, in f32, at edge shapes and the model's own shapes (Path2Sub:
// Lq = 94 pathways, Lk = 17 substructures with a mask; Drug2Path: Lq = 1, Lk = 300; H = 4, D = 24).
// Tolerances: output and map 2e-5 abs + 1e-4 rel (fp32 with different summation orders: warp
// trees vs sequential loops); dq, dk, dv 1e-4 abs + 1e-3 rel; dλ and dweight, sums over every
// row of the batch, 1e-3 abs + 1e-3 rel. NaN or Inf anywhere fails (close.h compares !(err <= tol)).
#include <doctest/doctest.h>

#include "model/diff_attention.h"
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
