// CPU (our GEMM) vs CUDA (cuBLAS) for matmul and linear, forward and every input gradient
// (label gpu; returns 77 = skipped without a device). Inputs in [-1, 1], loss = sum(out * w) with
// w in [-1, 1]. Tolerance for fp32 on both sides (fp32 accumulate, different summation orders,
// sums up to ~6000 terms): |cuda - cpu| <= 1e-4 + 1e-4 |cpu|; NaN or Inf anywhere fails
// (close.h). The TF32 case uses 2e-2 (10-bit mantissa inputs, fp32 accumulate).
#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

struct Result {
  Tensor out;                 // on the CPU
  std::vector<Tensor> grads;  // on the CPU, one per input (undefined where no gradient)
};

// loss = sum(out * w), recorded by hand (w lives on out's device; its gradient seed is w * dy).
Tensor weighted_sum(const Tensor& out, const Tensor& w) {
  const auto o = out.to_f64_vector(), wv = w.to_f64_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * wv[i];
  Tensor loss = Tensor::scalar(s, DType::f32);
  record("parity_weighted_sum", {out}, loss, [out, w](const Tensor& dy) { out.accumulate_grad(mul_scalar(w, dy.item())); });
  return loss;
}

Result run_on(Device device, const Op& op, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> args;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      args.emplace_back();
      continue;
    }
    Tensor copy = device.is_cpu() ? t.clone() : t.to(device);
    copy.set_requires_grad(t.requires_grad());
    args.push_back(copy);
  }
  Result r;
  Tensor out = op(args);
  const Tensor w = Tensor::uniform(out.shape(), -1.0, 1.0, 4242).to(device);
  weighted_sum(out, w).backward();
  r.out = out.to(Device::cpu());
  for (const Tensor& t : args) r.grads.push_back(t.defined() && t.has_grad() ? t.grad().to(Device::cpu()) : Tensor());
  return r;
}

Tensor param(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  Tensor t = Tensor::uniform(shape, -1.0, 1.0, seed);
  t.set_requires_grad(requires_grad);
  return t;
}

void check_parity(const Op& op, const std::vector<Tensor>& inputs, test::Tolerance tol = {1e-4, 1e-4}) {
  const Result cpu = run_on(Device::cpu(), op, inputs);
  const Result gpu = run_on(Device::cuda(), op, inputs);
  CHECK_CLOSE_TENSOR(gpu.out, cpu.out, tol.abs, tol.rel);
  for (size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    REQUIRE(cpu.grads[i].defined() == gpu.grads[i].defined());
    if (cpu.grads[i].defined()) CHECK_CLOSE_TENSOR(gpu.grads[i], cpu.grads[i], tol.abs, tol.rel);
  }
}

Shape stored(Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.push_back(transposed ? cols : rows);
  batch.push_back(transposed ? rows : cols);
  return batch;
}

}  // namespace

TEST_CASE("parity: matmul, every transpose combination, edge sizes") {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    CAPTURE(ta);
    CAPTURE(tb);
    const Op op = [ta, tb](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); };
    check_parity(op, {param(stored({}, 33, 257, ta), 1), param(stored({}, 257, 17, tb), 2)});
    check_parity(op, {param(stored({}, 1, 7, ta), 3), param(stored({}, 7, 1, tb), 4)});
  }
}

TEST_CASE("parity: batched matmul, batched b and a 2-D b shared by the batch") {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    CAPTURE(ta);
    CAPTURE(tb);
    const Op op = [ta, tb](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); };
    check_parity(op, {param(stored({3, 2}, 7, 33, ta), 5), param(stored({3, 2}, 33, 5, tb), 6)});
    check_parity(op, {param(stored({4}, 17, 24, ta), 7), param(stored({}, 24, 9, tb), 8)});
  }
}

TEST_CASE("parity: linear with and without bias, model-like widths") {
  const Op with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  const Op without_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); };
  // [B, P, S] rows through a gene-FFN-like layer; 6016 rows make the CUDA bias reduction use many splits.
  check_parity(with_bias, {param({64, 94, 218}, 9), param({96, 218}, 10), param({96}, 11)});
  check_parity(without_bias, {param({64, 94, 218}, 12), param({96, 218}, 13)});
  check_parity(with_bias, {param({512, 576}, 14), param({256, 576}, 15), param({256}, 16)});
  // Only the bias requires a gradient.
  check_parity(with_bias, {param({5, 33}, 17, false), param({7, 33}, 18, false), param({7}, 19)});
}

TEST_CASE("parity: TF32 GEMMs stay within TF32 rounding of the fp32 CPU result") {
  set_cuda_tf32(true);
  const Op op = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  check_parity(op, {param({64, 256}, 20), param({256, 48}, 21)}, {2e-2, 2e-2});
  set_cuda_tf32(false);
}

TEST_CASE("parity: inputs on different devices throw naming the op and both tensors") {
  const Tensor a = Tensor::zeros({2, 3}).to(Device::cuda());
  const Tensor b = Tensor::zeros({3, 4});
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("matmul: device mismatch: f32[2, 3] on cuda:0 vs f32[3, 4] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(linear(a, Tensor::zeros({4, 3}), Tensor()), doctest::Contains("linear: device mismatch"), Error);
  CHECK_THROWS_WITH_AS(matmul(a.to(DType::f64), a.to(DType::f64)), doctest::Contains("matmul: CUDA kernels take f32"),
                       Error);
}
