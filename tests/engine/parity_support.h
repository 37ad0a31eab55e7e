// Helpers for CPU<->CUDA parity tests (label gpu): a comparison that fails on NaN/inf and on shape
// mismatch, and sentinel-guarded f32 device buffers that catch out-of-bounds writes (in the spirit
// of ggml's test-backend-ops sentinels): kGuard floats of a fixed bit pattern before and after the
// n values handed to a raw launcher, checked bit for bit afterwards.
#pragma once
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "engine/tensor.h"
#include "tests/support/close.h"

namespace dispa::test {

constexpr int64_t kGuard = 64;
constexpr float kSentinel = -1234.5678f;

struct GuardedBuffer {
  Tensor storage;  // f32 [kGuard + n + kGuard] on the device
  int64_t n = 0;
  float* data() const { return storage.data<float>() + kGuard; }
  std::vector<float> values() const {
    const std::vector<float> all = storage.to_vector<float>();
    return std::vector<float>(all.begin() + kGuard, all.begin() + kGuard + n);
  }
  // "" when both guards still hold the sentinel, otherwise where the first overwrite is.
  std::string sentinel_damage(const std::string& what) const {
    const std::vector<float> all = storage.to_vector<float>();
    for (int64_t i = 0; i < int64_t(all.size()); ++i) {
      if (i >= kGuard && i < kGuard + n) continue;
      if (std::memcmp(&all[size_t(i)], &kSentinel, sizeof(float)) != 0)
        return fmt::format("{}: out-of-bounds write at element {} (of {}): {}", what, i - kGuard, n, all[size_t(i)]);
    }
    return {};
  }
};

// A guarded buffer whose n values are `init` (or sentinels when empty).
inline GuardedBuffer guarded(int64_t n, const std::vector<float>& init = {}) {
  std::vector<float> host(size_t(n + 2 * kGuard), kSentinel);
  for (size_t i = 0; i < init.size(); ++i) host[size_t(kGuard) + i] = init[i];
  return {Tensor::from_vector(host, {n + 2 * kGuard}, Device::cuda()), n};
}

// A CUDA copy of a CPU tensor that requires a gradient (a leaf for backward parity checks).
inline Tensor gpu_leaf(const Tensor& cpu) {
  Tensor g = cpu.to(Device::cuda(0));
  g.set_requires_grad();
  return g;
}

// Elements [n, end) of a buffer prefilled with `sentinel` must be untouched by a launcher that was
// told to write n elements (NaN in place of the sentinel fails too).
inline void check_sentinel_tail(const Tensor& buffer, int64_t n, double sentinel) {
  const auto v = buffer.to_f64_vector();
  for (size_t i = size_t(n); i < v.size(); ++i)
    if (!(v[i] == sentinel)) {
      FAIL_CHECK("sentinel overwritten at element " << i << " (output has " << n << " elements): " << v[i]);
      return;
    }
}

// For inputs with NaN or inf: "" when got has NaN exactly where want has, the same infinities,
// and finite values within tol; otherwise the first difference.
inline std::string compare_nonfinite(const Tensor& got, const Tensor& want, double abs, double rel) {
  if (got.shape() != want.shape())
    return fmt::format("shape mismatch: got {}, want {}", got.describe(), want.describe());
  const std::vector<double> g = got.to_f64_vector(), w = want.to_f64_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) != std::isnan(g[i]))
      return fmt::format("index {}: got {}, want {} (NaN must land on the same elements)", i, g[i], w[i]);
    if (std::isnan(w[i])) continue;
    if (std::isinf(w[i]) || std::isinf(g[i])) {
      if (g[i] != w[i]) return fmt::format("index {}: got {}, want {}", i, g[i], w[i]);
      continue;
    }
    if (!(std::abs(g[i] - w[i]) <= abs + rel * std::abs(w[i])))
      return fmt::format("index {}: got {:.9g}, want {:.9g}", i, g[i], w[i]);
  }
  return {};
}

}  // namespace dispa::test

// NaN/inf parity: the CUDA result has NaN and inf exactly where the CPU one does.
#define CHECK_NONFINITE_PARITY(on_gpu, on_cpu, abs, rel)                                                    \
  do {                                                                                                     \
    const ::dispa::Tensor dispa_gpu_ = (on_gpu);                                                           \
    CHECK_MESSAGE(dispa_gpu_.is_cuda(), "expected a CUDA result");                                         \
    const std::string dispa_msg_ =                                                                         \
        ::dispa::test::compare_nonfinite(dispa_gpu_.to(::dispa::Device::cpu()), (on_cpu), (abs), (rel));   \
    CHECK_MESSAGE(dispa_msg_.empty(), dispa_msg_);                                                         \
  } while (0)

// The CUDA result must be finite where the CPU one is, and within tol of it.
#define CHECK_PARITY(on_gpu, on_cpu, ...)                                                                        \
  do {                                                                                                       \
    const ::dispa::Tensor dispa_gpu_ = (on_gpu);                                                             \
    const ::dispa::Tensor dispa_cpu_ = (on_cpu);                                                             \
    CHECK_MESSAGE(dispa_gpu_.is_cuda(), "expected a CUDA result");                                           \
    CHECK_CLOSE_TENSOR(dispa_gpu_.to(::dispa::Device::cpu()), dispa_cpu_, __VA_ARGS__);                      \
  } while (0)

#define CHECK_SENTINELS(buffer, what)                                 \
  do {                                                                \
    const std::string dispa_msg_ = (buffer).sentinel_damage(what);    \
    CHECK_MESSAGE(dispa_msg_.empty(), dispa_msg_);                    \
  } while (0)
