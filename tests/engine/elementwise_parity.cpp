// CPU <-> CUDA parity of the elementwise family (label gpu; skipped without a device): every unary
// op, the four binary ops with the broadcasts the model uses (same shape, a bias row [C], a key
// mask [B, 1, L] over heads, a scalar-like [1]), scalar affine, add_inplace, and sum_to both on its
// column-reduction fast path (leading axes summed away) and on the general atomic path, forward
// and backward. Tolerance abs 1e-6 + rel 1e-5 (the shared _math.h functions are the same code, but
// expf/erff/tanhf differ from glibc in the last bits; sums differ in order).
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "tests/engine/parity_support.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;
using dispa::test::gpu_leaf;

namespace {
const Device kGpu = Device::cuda(0);

void check_close(const Tensor& gpu, const Tensor& cpu, double abs, double rel) {
  REQUIRE(gpu.is_cuda());
  CHECK_CLOSE_TENSOR(gpu.to(Device::cpu()), cpu, abs, rel);
}

}  // namespace

TEST_CASE("elementwise parity: unary ops forward and backward, edge and large sizes") {
  const UnaryOp ops[] = {UnaryOp::neg, UnaryOp::relu, UnaryOp::gelu, UnaryOp::exp,  UnaryOp::log,
                         UnaryOp::sqrt, UnaryOp::square, UnaryOp::abs, UnaryOp::sigmoid, UnaryOp::tanh};
  uint64_t seed = 900;
  for (UnaryOp op : ops) {
    for (int64_t n : {int64_t(1), int64_t(33), int64_t(1025), int64_t(300007)}) {
      CAPTURE(unary_op_name(op));
      CAPTURE(n);
      // log and sqrt on positive inputs only.
      const bool positive = op == UnaryOp::log || op == UnaryOp::sqrt;
      Tensor xc = Tensor::uniform({n}, positive ? 0.1 : -3.0, 3.0, seed++).set_requires_grad();
      Tensor xg = gpu_leaf(xc);
      Tensor yc = unary(op, xc);
      Tensor up = Tensor::uniform({n}, -1, 1, seed++);
      backward_with(yc, up);
      Tensor yg = unary(op, xg);
      check_close(yg, yc, 1e-6, 1e-5);
      backward_with(yg, up.to(kGpu));
      check_close(xg.grad(), xc.grad(), 1e-6, 1e-5);
    }
  }
}

TEST_CASE("elementwise parity: binary ops with the model's broadcasts, forward and backward") {
  struct Shapes {
    Shape a, b;
  };
  const Shapes cases[] = {{{37, 65}, {37, 65}},       // same shape
                          {{513, 192}, {192}},        // bias row
                          {{6, 4, 17}, {6, 1, 17}},   // key mask over heads
                          {{1000}, {1}},              // scalar-like
                          {{3, 1, 5}, {1, 7, 5}}};    // both sides broadcast
  const BinaryOp ops[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div};
  uint64_t seed = 950;
  for (const Shapes& s : cases) {
    for (BinaryOp op : ops) {
      CAPTURE(shape_str(s.a));
      CAPTURE(shape_str(s.b));
      CAPTURE(int(op));
      Tensor ac = Tensor::uniform(s.a, -2.0, 2.0, seed++).set_requires_grad();
      // Divisors away from zero.
      Tensor bc = (op == BinaryOp::div ? Tensor::uniform(s.b, 0.5, 2.0, seed++) : Tensor::uniform(s.b, -2.0, 2.0, seed++))
                      .set_requires_grad();
      Tensor ag = gpu_leaf(ac), bg = gpu_leaf(bc);
      Tensor yc = binary(op, ac, bc);
      Tensor up = Tensor::uniform(yc.shape(), -1, 1, seed++);
      backward_with(yc, up);
      Tensor yg = binary(op, ag, bg);
      check_close(yg, yc, 1e-6, 1e-5);
      backward_with(yg, up.to(kGpu));
      check_close(ag.grad(), ac.grad(), 1e-5, 1e-5);
      check_close(bg.grad(), bc.grad(), 1e-4, 1e-4);  // broadcast sums of up to 1000 terms
    }
  }
}

TEST_CASE("elementwise parity: affine_scalar, add_inplace and sum_to (fast and general paths)") {
  Tensor x = Tensor::uniform({4097}, -3, 3, 990);
  check_close(affine_scalar(x.to(kGpu), -0.5, 2.0), affine_scalar(x, -0.5, 2.0), 1e-6, 1e-6);
  Tensor dst_c = Tensor::uniform({4097}, -1, 1, 991), src = Tensor::uniform({4097}, -1, 1, 992);
  Tensor dst_g = dst_c.to(kGpu);
  add_inplace(dst_c, src, 0.25);
  add_inplace(dst_g, src.to(kGpu), 0.25);
  check_close(dst_g, dst_c, 1e-6, 1e-6);

  struct Reduction {
    Shape from, to;
  };
  const Reduction reductions[] = {{{57344, 512}, {512}},   // a bias gradient (column-sum path)
                                  {{7, 33, 5}, {1, 33, 5}}, // leading axis, kept as 1 (column-sum path)
                                  {{129}, {1}},             // everything into one value
                                  {{6, 4, 17}, {6, 1, 17}}, // middle axis (general path)
                                  {{33, 7}, {33, 1}}};      // trailing axis (general path)
  uint64_t seed = 993;
  for (const Reduction& r : reductions) {
    CAPTURE(shape_str(r.from));
    CAPTURE(shape_str(r.to));
    Tensor in = Tensor::uniform(r.from, -1, 1, seed++);
    const double terms = double(in.numel()) / double(shape_numel(r.to));
    check_close(sum_to(in.to(kGpu), r.to), sum_to(in, r.to), 1e-6 * terms, 1e-5);
  }
}
