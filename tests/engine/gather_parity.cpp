// CPU <-> CUDA parity for gather_rows / gather_columns (label gpu; skipped without a device):
// forward exact, backward (atomicAdd on the GPU) to f32 rounding, repeated indices and -1
// padding, the model's pathway gather shape, the same error for a bad index on both devices, and
// sentinels after every raw launcher's output. NaN in a GPU result fails (close.h).
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "engine/ops/gather_math.h"
#include "engine/ops/shape.h"
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

void check_close(const Tensor& gpu, const Tensor& cpu, double tol) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, tol, tol);
}

// Elements past n of a buffer filled with kSentinel must be untouched.
[[maybe_unused]] void check_sentinel(const Tensor& buffer, int64_t n) { test::check_sentinel_tail(buffer, n, kSentinel); }

// A [P, S] pathway index over G genes: row p holds 20 + 7p genes (mod S), the rest is -1 padding;
// genes repeat across pathways, as real gene sets overlap.
template <typename I>
Tensor pathway_index(int64_t P, int64_t S, int64_t G) {
  std::vector<I> v(size_t(P * S), I(-1));
  for (int64_t p = 0; p < P; ++p) {
    const int64_t len = (20 + 7 * p) % S + 1;
    for (int64_t s = 0; s < len; ++s) v[size_t(p * S + s)] = I((p * 31 + s * 13) % G);
  }
  return Tensor::from_vector(v, {P, S});
}
}  // namespace

TEST_CASE("gather parity: gather_columns on the pathway shape, forward and backward") {
  const int64_t B = 37, G = 706, P = 94, S = 218;
  Tensor index = pathway_index<int32_t>(P, S, G);
  Tensor xc = Tensor::uniform({B, G}, -1, 1, 1).set_requires_grad();
  Tensor xg = gpu_leaf(xc);
  Tensor yc = gather_columns(xc, index), yg = gather_columns(xg, index.to(kGpu));
  check_close(yg, yc, 0.0);
  Tensor up = Tensor::uniform(yc.shape(), -1, 1, 2);
  backward_with(yc, up);
  backward_with(yg, up.to(kGpu));
  check_close(xg.grad(), xc.grad(), 1e-5);  // atomicAdd order differs from the CPU's
}

TEST_CASE("gather parity: gather_rows with repeats and padding, i64 index, f32 and i64 tables") {
  std::vector<int64_t> iv(5 * 33);
  for (size_t k = 0; k < iv.size(); ++k) iv[k] = k % 6 == 0 ? -1 : int64_t((k * 7) % 300);
  Tensor index = Tensor::from_vector(iv, {5, 33});
  Tensor tc = Tensor::uniform({300, 17}, -1, 1, 3).set_requires_grad();
  Tensor tg = gpu_leaf(tc);
  Tensor yc = gather_rows(tc, index), yg = gather_rows(tg, index.to(kGpu));
  check_close(yg, yc, 0.0);
  Tensor up = Tensor::uniform(yc.shape(), -1, 1, 4);
  backward_with(yc, up);
  backward_with(yg, up.to(kGpu));
  check_close(tg.grad(), tc.grad(), 1e-5);
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{4, 5, -1, 6, -1, -1}, {3, 2});
  Tensor batch = Tensor::from_vector(std::vector<int32_t>{2, 0, 2, 1}, {4});
  check_close(gather_rows(ids.to(kGpu), batch.to(kGpu)), gather_rows(ids, batch), 0.0);
}

TEST_CASE("gather parity: a bad index throws the same message on both devices") {
  Tensor x = Tensor::zeros({4, 5});
  Tensor index = Tensor::from_vector(std::vector<int64_t>{0, -1, 4, 7, 9, -3}, {2, 3});
  std::string cpu_msg, gpu_msg;
  try {
    gather_columns(x, index);
  } catch (const Error& e) {
    cpu_msg = e.what();
  }
  try {
    gather_columns(x.to(kGpu), index.to(kGpu));
  } catch (const Error& e) {
    gpu_msg = e.what();
  }
  CHECK(cpu_msg.find("gather_columns: index 7 at position [1, 0]") != std::string::npos);
  CHECK(gpu_msg.find("gather_columns: index 7 at position [1, 0] of index i64[2, 3] on cuda:0") != std::string::npos);
  // The device stays usable after the error.
  Tensor ok = Tensor::from_vector(std::vector<int64_t>{4, -1}, {2});
  check_close(gather_columns(x.to(kGpu), ok.to(kGpu)), gather_columns(x, ok), 0.0);
}

TEST_CASE("gather parity: raw launchers write only their outputs") {
#if DISPA_WITH_CUDA
  const int64_t B = 3, G = 33, N = 33, R = 5;
  Tensor index = Tensor::from_vector(std::vector<int32_t>{32, -1, 0, 32, 7}, {5}).to(kGpu);
  Tensor x = Tensor::uniform({B, G}, -1, 1, 5, 0, DType::f32, kGpu);
  Tensor out = Tensor::full({B * 5 + kPad}, kSentinel, DType::f32, kGpu);
  cuda::gather_columns_forward<int32_t>(x.raw_data(), index.data<int32_t>(), out.raw_data(), B, G, 5, 4);
  check_sentinel(out, B * 5);
  check_close(slice(out, 0, 0, B * 5).reshape({B, 5}), gather_columns(x.to(Device::cpu()), index.to(Device::cpu())),
              0.0);
  // Backward adds into the first B * G elements (their values do not matter here).
  Tensor dx = Tensor::full({B * G + kPad}, kSentinel, DType::f32, kGpu);
  cuda::gather_columns_backward<float, int32_t>(out.data<float>(), index.data<int32_t>(), dx.data<float>(), B, G, 5);
  check_sentinel(dx, B * G);
  Tensor table = Tensor::uniform({N, R}, -1, 1, 6, 0, DType::f64, kGpu);
  Tensor rows = Tensor::full({5 * R + kPad}, kSentinel, DType::f64, kGpu);
  cuda::gather_rows_forward<int32_t>(table.raw_data(), index.data<int32_t>(), rows.raw_data(), 5, R, N, 8);
  check_sentinel(rows, 5 * R);
  Tensor dtable = Tensor::full({N * R + kPad}, kSentinel, DType::f64, kGpu);
  cuda::gather_rows_backward<double, int32_t>(rows.data<double>(), index.data<int32_t>(), dtable.data<double>(), 5, R,
                                              N);
  check_sentinel(dtable, N * R);
#endif
}
