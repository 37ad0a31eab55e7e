// CPU <-> CUDA parity of the fills and casts (label gpu; skipped without a device): constant fills of
// every dtype, the Philox uniform and normal streams (the same seed and offset must give the same
// numbers on both devices: uniform to 1e-6, integer arithmetic and one multiply-add that nvcc may
// fuse; normal to 1e-5, since logf/cosf differ between glibc and the device in the last bits), the f64
// fills (the f32 stream widened), and casts between every pair of dtypes. Sizes cover one Philox
// block (4 values), a partial block, a partial warp and more than the fixed grid.
#include <doctest/doctest.h>

#include "engine/ops/fill.h"
#include "tests/engine/parity_support.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {
const Device kGpu = Device::cuda(0);
const DType kAll[] = {DType::f32, DType::f64, DType::i32, DType::i64};
const int64_t kSizes[] = {1, 3, 4, 33, 1000003};

void check_close(const Tensor& gpu, const Tensor& cpu, double abs, double rel) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, abs, rel);
}
}  // namespace

TEST_CASE("fill parity: constant fills of every dtype") {
  for (DType dtype : kAll) {
    for (int64_t n : kSizes) {
      CAPTURE(int(dtype));
      CAPTURE(n);
      check_close(Tensor::full({n}, -7.0, dtype, kGpu), Tensor::full({n}, -7.0, dtype), 0.0, 0.0);
      check_close(Tensor::arange(n, dtype, kGpu), Tensor::arange(n, dtype), 0.0, 0.0);
    }
  }
}

TEST_CASE("fill parity: Philox uniform and normal streams match the CPU, f32 and f64") {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (int64_t n : kSizes) {
      for (uint64_t offset : {uint64_t(0), uint64_t(5), uint64_t(1) << 33}) {
        CAPTURE(int(dtype));
        CAPTURE(n);
        CAPTURE(offset);
        check_close(Tensor::uniform({n}, -2.0, 3.0, 77, offset, dtype, kGpu),
                    Tensor::uniform({n}, -2.0, 3.0, 77, offset, dtype), 1e-6, 1e-6);
        check_close(Tensor::normal({n}, 0.5, 2.0, 78, offset, dtype, kGpu),
                    Tensor::normal({n}, 0.5, 2.0, 78, offset, dtype), 1e-5, 1e-5);
      }
    }
  }
}

TEST_CASE("fill parity: casts between every pair of dtypes") {
  // Values with fractions, negatives and integers, as the CPU cast sees them (round toward zero).
  const Tensor source = Tensor::uniform({1025}, -1000.0, 1000.0, 79, 0, DType::f64);
  for (DType from : kAll) {
    const Tensor x = cast(source, from);
    for (DType to : kAll) {
      CAPTURE(int(from));
      CAPTURE(int(to));
      check_close(cast(x.to(kGpu), to), cast(x, to), 0.0, 0.0);
    }
  }
}
