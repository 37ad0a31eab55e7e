// The CUDA runtime itself (label gpu; skipped without a device): staged uploads, the caching
// allocator's reuse, and streams per host thread. Written after the last device session of
// 2026-11-26, so not yet run on a GPU (the paths they cover ran inside every other gpu test).
#include <doctest/doctest.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/ops/elementwise.h"
#include "tests/engine/parity_support.h"

using namespace dispa;

namespace {
const Device kGpu = Device::cuda(0);
}  // namespace

TEST_CASE("runtime: an upload returns before the transfer, yet the host buffer may change at once") {
  // Small uploads go through the pinned staging ring (4 slots: the 20 uploads reuse each slot),
  // the large one (> 64 MiB) straight from pageable memory.
  std::vector<Tensor> uploaded;
  std::vector<float> host(4099);
  for (int i = 0; i < 20; ++i) {
    std::fill(host.begin(), host.end(), float(i));
    uploaded.push_back(Tensor::from_vector(host, {int64_t(host.size())}, kGpu));
    std::fill(host.begin(), host.end(), -1.f);  // must not reach the device copy
  }
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    const std::vector<float> back = uploaded[size_t(i)].to_vector<float>();
    CHECK(std::count(back.begin(), back.end(), float(i)) == int64_t(back.size()));
  }
  std::vector<float> large(size_t(17) << 20, 3.f);  // 68 MiB
  Tensor big = Tensor::from_vector(large, {int64_t(large.size())}, kGpu);
  std::fill(large.begin(), large.end(), 0.f);
  const std::vector<float> back = big.to_vector<float>();
  CHECK(std::count(back.begin(), back.end(), 3.f) == int64_t(back.size()));
  CHECK(cuda::allocator_stats().pinned_bytes > 0);
}

TEST_CASE("runtime: repeating the same allocations calls cudaMalloc only the first time") {
  auto one_round = [] {
    std::vector<Tensor> live;
    for (int64_t n : {int64_t(100), int64_t(5000), int64_t(1) << 20, int64_t(3) << 20})
      live.push_back(Tensor::empty({n}, DType::f32, kGpu));
  };
  one_round();
  const size_t mallocs = cuda::allocator_stats().device_mallocs;
  for (int i = 0; i < 10; ++i) one_round();
  CHECK(cuda::allocator_stats().device_mallocs == mallocs);
  const cuda::AllocatorStats stats = cuda::allocator_stats();
  CHECK(stats.peak_bytes >= stats.current_bytes);
}

TEST_CASE("runtime: two host threads, each on its own stream and allocator pool, compute correctly") {
  const size_t before = cuda::allocator_stats().current_bytes;
  auto worker = [](uint64_t seed, int* failures) {
    try {  // an exception must not leave a std::thread (that would terminate the test program)
      for (int i = 0; i < 30; ++i) {
        const int64_t n = 1000 + int64_t(seed) * 37 + i * 101;  // sizes differ per thread and step
        const Tensor x = Tensor::uniform({n}, -2, 2, seed + uint64_t(i));
        const Tensor got = relu(affine_scalar(x.to(kGpu), 2.0, 0.5)).to(Device::cpu());
        const Tensor want = relu(affine_scalar(x, 2.0, 0.5));
        if (!test::compare_tensors(got, want, {1e-6, 1e-6}).empty()) ++*failures;
      }
      cuda::synchronize();  // this thread's stream is idle before its tensors' blocks are reused
    } catch (const std::exception&) {
      *failures += 1000;
    }
  };
  int failures_a = 0, failures_b = 0;
  std::thread a(worker, 1, &failures_a), b(worker, 2, &failures_b);
  a.join();
  b.join();
  CHECK(failures_a == 0);
  CHECK(failures_b == 0);
  CHECK(cuda::allocator_stats().current_bytes == before);  // every block came back
}
