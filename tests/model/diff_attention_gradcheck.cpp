// Finite-difference (f64, central) gradient checks of the fused differential cross-attention in
// q, k, v, λ and the RMSNorm weight, with a partial key mask, a fully masked batch item, Lq = 1
// (Drug2Path's shape) and λ of either shape. Test points are smooth (no kinks in this op).
#include <doctest/doctest.h>

#include "model/diff_attention.h"
#include "tests/model/diff_attention_reference.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {

struct GradCase {
  int64_t batch, lq, lk;
  int heads, head_dim;
  int mask_kind;
  double lambda;
  Shape lambda_shape;
};

void check_case(const GradCase& g, uint32_t seed) {
  CAPTURE(g.batch); CAPTURE(g.lq); CAPTURE(g.lk); CAPTURE(g.heads); CAPTURE(g.head_dim); CAPTURE(g.mask_kind);
  auto c = test::make_diff_attention_case<double>(g.batch, g.lq, g.lk, g.heads, g.head_dim, seed, g.mask_kind);
  c.lambda = g.lambda;
  auto t = test::to_tensors(c, Device::cpu(), true, g.lambda_shape);
  t.q.set_name("q"), t.k.set_name("k"), t.v.set_name("v"), t.lambda.set_name("lambda"), t.weight.set_name("subln_weight");
  const Tensor mask = t.mask;
  const int heads = c.heads;
  test::GradcheckOptions options;
  options.abs_tol = 1e-7;
  options.rel_tol = 1e-6;
  options.directions = 6;
  CHECK_GRADIENTS(
      [mask, heads](const std::vector<Tensor>& in) {
        return diff_attention(in[0], in[1], in[2], mask, in[3], 0.2, in[4], heads).output;
      },
      {t.q, t.k, t.v, t.lambda, t.weight}, options);
}

}  // namespace

TEST_CASE("gradcheck: diff_attention with a partial key mask") {
  check_case({2, 3, 5, 2, 3, 1, 0.4, {}}, 1);
  check_case({2, 4, 7, 1, 4, 1, -0.3, {1}}, 2);
}

TEST_CASE("gradcheck: diff_attention with one valid key and with a fully masked batch item") {
  check_case({3, 2, 4, 2, 2, 2, 0.5, {}}, 3);
  check_case({2, 3, 5, 2, 3, 3, 0.6, {1}}, 4);
}

TEST_CASE("gradcheck: diff_attention unmasked, Lq = 1 (Drug2Path) and Lk = 1") {
  check_case({2, 1, 9, 2, 3, 0, 0.8, {}}, 5);
  check_case({2, 3, 1, 2, 2, 0, 0.1, {}}, 6);
  check_case({1, 5, 6, 4, 2, 0, 1.7, {1}}, 7);
}
