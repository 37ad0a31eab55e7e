// FeedForward::forward_gathered (the gene FFN with gathered_linear as its first layer) against
// forward(gather_columns(x, index)) on the same module: eval and training mode (the same dropout
// draws: the generator advances by the same offset and the masks agree), and every parameter
// gradient, on a GDSC2-like index with padding at the ends and in the middle of its rows.
#include <doctest/doctest.h>

#include <vector>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "model/layers.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {
Tensor pathway_index(int64_t P, int64_t S, int64_t G) {
  std::vector<int64_t> v(size_t(P * S), -1);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t s = 0; s < 2 + (p * 5) % (S - 1); ++s)
      if (p % 4 != 1 || s % 3 != 0) v[size_t(p * S + s)] = (p * 11 + s * 7) % G;
  return Tensor::from_vector(v, {P, S});
}
}  // namespace

TEST_CASE("FeedForward::forward_gathered equals forward(gather_columns), with the same dropout draws") {
  const int64_t C = 6, G = 40, P = 9, S = 12, hidden = 24, out = 8;
  const Tensor index = pathway_index(P, S, G);
  const Tensor x = Tensor::uniform({C, G}, -2, 2, 1);
  for (bool training : {false, true}) {
    CAPTURE(training);
    Generator init(3), drop_a(11, 5), drop_b(11, 5);
    Generator init_b(3);
    FeedForward a(S, hidden, out, 0.5, 1e-5, init, drop_a), b(S, hidden, out, 0.5, 1e-5, init_b, drop_b);
    a.train(training);
    b.train(training);
    const Tensor ya = a.forward_gathered(x, index), yb = b.forward(gather_columns(x, index));
    CHECK(ya.shape() == Shape{C, P, out});
    CHECK_CLOSE_TENSOR(ya, yb, 1e-5, 1e-5);
    CHECK(drop_a.offset() == drop_b.offset());
    const Tensor up = Tensor::uniform(ya.shape(), -1, 1, 2);
    test::backward_with(ya, up);
    test::backward_with(yb, up);
    const auto pa = a.named_parameters(), pb = b.named_parameters();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      CAPTURE(pa[i].first);
      CHECK(pa[i].first == pb[i].first);
      CHECK_CLOSE_TENSOR(pa[i].second.grad(), pb[i].second.grad(), 1e-5, 1e-5);
    }
  }
}
