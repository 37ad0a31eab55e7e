// Fused CUDA optimizer kernels vs the CPU loops (label gpu; skipped with exit code 77 without a
// device). Many tensors of awkward sizes (1, primes, one past block multiples, an empty one), a
// parameter without a gradient, several steps so bias corrections and momenta matter.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/optim/optimizer.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {

const std::vector<Shape> kShapes{{1}, {33}, {257, 3}, {4097}, {0}, {17, 24}, {5}, {65537}};

struct Params {
  std::vector<Tensor> cpu, gpu;
  NamedTensors cpu_named, gpu_named;
};

Params make_params(uint64_t seed) {
  Params p;
  for (size_t i = 0; i < kShapes.size(); ++i) {
    Tensor t = Tensor::uniform(kShapes[i], -1, 1, seed, 1000 * i);
    Tensor c = t.clone().set_requires_grad();
    Tensor g = t.to(Device::cuda()).set_requires_grad();
    p.cpu.push_back(c);
    p.gpu.push_back(g);
    const std::string name = fmt::format("p{}", i);  // not "p" + to_string: GCC 12 -Wrestrict false positive
    p.cpu_named.emplace_back(name, c);
    p.gpu_named.emplace_back(name, g);
  }
  return p;
}

// Same random gradients on both devices; parameter 6 gets none on odd steps.
void set_grads(Params& p, int step, double scale = 1.0) {
  for (size_t i = 0; i < p.cpu.size(); ++i) {
    p.cpu[i].zero_grad();
    p.gpu[i].zero_grad();
    if (i == 6 && step % 2 == 1) continue;
    Tensor g = Tensor::normal(kShapes[i], 0, scale, 77 + step, 1000 * i);
    p.cpu[i].accumulate_grad(g);
    p.gpu[i].accumulate_grad(g.to(Device::cuda()));
  }
}

void check_same(const Params& p, test::Tolerance tol) {
  for (size_t i = 0; i < p.cpu.size(); ++i) {
    CAPTURE(i);
    CHECK_CLOSE_TENSOR(p.gpu[i].to(Device::cpu()), p.cpu[i], tol.abs, tol.rel);
  }
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(NamedTensors)>;

void run_parity(const MakeOptimizer& make) {
  Params p = make_params(5);
  auto cpu_opt = make(p.cpu_named);
  auto gpu_opt = make(p.gpu_named);
  for (int step = 0; step < 5; ++step) {
    set_grads(p, step);
    cpu_opt->step();
    gpu_opt->step();
  }
  cuda::synchronize();
  check_same(p, {1e-6, 1e-5});
  // Optimizer state agrees too (moments, step counts).
  const auto cs = cpu_opt->state(), gs = gpu_opt->state();
  REQUIRE(cs.size() == gs.size());
  for (const auto& [key, t] : cs) {
    CAPTURE(key);
    CHECK_CLOSE_TENSOR(gs.at(key).to(Device::cpu()), t, 1e-6, 1e-5);
  }
}

}  // namespace

TEST_CASE("optim parity: Adam with L2 weight decay, fused CUDA vs CPU") {
  run_parity([](NamedTensors p) { return std::make_unique<Adam>(p, 1e-2, 0.9, 0.999, 1e-8, 1e-2); });
}

TEST_CASE("optim parity: AdamW, fused CUDA vs CPU") {
  run_parity([](NamedTensors p) { return std::make_unique<AdamW>(p, 1e-2); });
}

TEST_CASE("optim parity: SGD with momentum and weight decay, fused CUDA vs CPU") {
  run_parity([](NamedTensors p) { return std::make_unique<SGD>(p, 1e-2, 0.9, 1e-3); });
  run_parity([](NamedTensors p) { return std::make_unique<SGD>(p, 1e-2); });
}

TEST_CASE("optim parity: clip_grad_norm norm and scaled gradients") {
  Params p = make_params(9);
  set_grads(p, 0, 3.0);
  const double cpu_norm = clip_grad_norm(p.cpu_named, 1.0);
  const double gpu_norm = clip_grad_norm(p.gpu_named, 1.0);
  CHECK(std::abs(gpu_norm - cpu_norm) <= 1e-9 * cpu_norm);
  CHECK(cpu_norm > 1.0);
  for (size_t i = 0; i < p.cpu.size(); ++i) {
    if (!p.cpu[i].has_grad()) continue;
    CAPTURE(i);
    CHECK_CLOSE_TENSOR(p.gpu[i].grad().to(Device::cpu()), p.cpu[i].grad(), 1e-7, 1e-6);
  }
  // A NaN on the GPU side is reported, not hidden.
  Tensor bad = Tensor::from_vector(std::vector<float>{1.f, NAN}, {2}, Device::cuda()).set_requires_grad();
  bad.accumulate_grad(Tensor::from_vector(std::vector<float>{1.f, NAN}, {2}, Device::cuda()));
  CHECK(std::isnan(clip_grad_norm({{"bad", bad}}, 1.0)));
}
