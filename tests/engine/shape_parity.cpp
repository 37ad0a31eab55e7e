// CPU <-> CUDA parity for concat, slice, permute, transpose (label gpu; skipped without a device):
// forward values and backward gradients must match exactly (these ops only move elements), for
// 4- and 8-byte dtypes, at sizes that break kernels (1, primes, one past a block); the raw
// launchers must not write past their outputs (sentinel check).
#include <doctest/doctest.h>

#include <numeric>

#include "engine/autograd.h"
#include "engine/ops/shape.h"
#include "engine/ops/shape_math.h"
#include "tests/engine/parity_support.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::gpu_leaf;
using dispa::test::backward_with;

namespace {
const Device kGpu = Device::cuda(0);
constexpr int64_t kPad = 67;
constexpr double kSentinel = 12345.0;

// Exact comparison of a GPU result with the CPU reference (NaN fails: see close.h).
void check_exact(const Tensor& gpu, const Tensor& cpu) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, 0.0, 0.0);
}

// Elements past n of a buffer filled with kSentinel must be untouched.
[[maybe_unused]] void check_sentinel(const Tensor& buffer, int64_t n) { test::check_sentinel_tail(buffer, n, kSentinel); }
}  // namespace

TEST_CASE("shape parity: concat forward and backward on axis 0, middle and last") {
  const std::vector<Shape> shapes = {{33, 5, 7}, {1, 5, 7}, {257, 5, 7}};
  for (int axis = 0; axis < 3; ++axis) {
    CAPTURE(axis);
    std::vector<Tensor> cpu, gpu;
    for (size_t k = 0; k < shapes.size(); ++k) {
      Shape s = {3, 5, 7};
      s[size_t(axis)] = shapes[k][0];
      Tensor c = Tensor::uniform(s, -1, 1, 10 + k).set_requires_grad();
      cpu.push_back(c);
      gpu.push_back(gpu_leaf(c));
    }
    Tensor yc = concat(cpu, axis), yg = concat(gpu, axis);
    check_exact(yg, yc);
    Tensor g = Tensor::uniform(yc.shape(), -1, 1, 99);
    backward_with(yc, g);
    backward_with(yg, g.to(kGpu));
    for (size_t k = 0; k < cpu.size(); ++k) check_exact(gpu[k].grad(), cpu[k].grad());
  }
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, -1, 5}, {3, 1});
  check_exact(concat({i.to(kGpu), i.to(kGpu)}, 1), concat({i, i}, 1));
}

TEST_CASE("shape parity: slice forward and backward") {
  Tensor c = Tensor::uniform({17, 33, 9}, -1, 1, 1).set_requires_grad();
  Tensor g = gpu_leaf(c);
  Tensor yc = slice(c, 1, 3, 32), yg = slice(g, 1, 3, 32);
  check_exact(yg, yc);
  Tensor up = Tensor::uniform(yc.shape(), -1, 1, 2);
  backward_with(yc, up);
  backward_with(yg, up.to(kGpu));
  check_exact(g.grad(), c.grad());
  check_exact(slice(g.detach(), 2, 8, 9), slice(c.detach(), 2, 8, 9));
}

TEST_CASE("shape parity: permute 4-d and 8-d, transpose, all element sizes") {
  Tensor c = Tensor::uniform({3, 33, 5, 257}, -1, 1, 3).set_requires_grad();
  Tensor g = gpu_leaf(c);
  Tensor yc = permute(c, {2, 0, 3, 1}), yg = permute(g, {2, 0, 3, 1});
  check_exact(yg, yc);
  Tensor up = Tensor::uniform(yc.shape(), -1, 1, 4);
  backward_with(yc, up);
  backward_with(yg, up.to(kGpu));
  check_exact(g.grad(), c.grad());

  Tensor e = Tensor::uniform({2, 3, 1, 2, 3, 2, 1, 5}, -1, 1, 5, 0, DType::f64);
  const std::vector<int> order = {7, 3, 0, 6, 1, 5, 4, 2};
  check_exact(permute(e.to(kGpu), order), permute(e, order));
  Tensor idx = Tensor::arange(33 * 65, DType::i32).reshape({33, 65}).detach();
  check_exact(transpose(idx.to(kGpu), 0, 1), transpose(idx, 0, 1));
  Tensor one = Tensor::full({1, 1, 1}, 2.0);
  check_exact(permute(one.to(kGpu), {2, 1, 0}), one);
}

TEST_CASE("shape parity: raw launchers write only their outputs") {
#if DISPA_WITH_CUDA
  // Column block [2, 5) of a [33, 7] matrix into a [33, 3] output.
  Tensor src = Tensor::uniform({33, 7}, -1, 1, 6, 0, DType::f32, kGpu);
  Tensor out = Tensor::full({33 * 3 + kPad}, kSentinel, DType::f32, kGpu);
  BlockCopy copy;
  copy.rows = 33;
  copy.cols = 3;
  copy.src_stride = 7;
  copy.src_col = 2;
  copy.dst_stride = 3;
  cuda::block_copy(src.raw_data(), out.raw_data(), copy, 4);
  check_sentinel(out, 33 * 3);
  check_exact(slice(out, 0, 0, 33 * 3).reshape({33, 3}), slice(src.to(Device::cpu()), 1, 2, 5));
  // Transpose of a [33, 65] f64 matrix.
  Tensor m = Tensor::uniform({33, 65}, -1, 1, 7, 0, DType::f64, kGpu);
  Tensor t = Tensor::full({33 * 65 + kPad}, kSentinel, DType::f64, kGpu);
  PermuteIndexer index;
  index.ndim = 2;
  index.out_shape[0] = 65;
  index.out_shape[1] = 33;
  index.in_stride[0] = 1;
  index.in_stride[1] = 65;
  cuda::permute_copy(m.raw_data(), t.raw_data(), 33 * 65, index, 8);
  check_sentinel(t, 33 * 65);
  check_exact(slice(t, 0, 0, 33 * 65).reshape({65, 33}), transpose(m.to(Device::cpu()), 0, 1));
#endif
}
