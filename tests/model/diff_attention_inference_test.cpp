// diff_attention_inference (model/diff_attention_inference.h): both CPU loop orders at every CPU
// level this machine runs, pooled and per row, with and without row maps, against the reference
// composition (gather_rows + diff_attention + mean); the masked, NaN and empty cases; the errors;
// and CrossAttention's re-associated differential forward against the fused one.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <tuple>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/generator.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/reduce.h"
#include "model/cross_attention.h"
#include "model/diff_attention_inference.h"
#include "tests/model/diff_attention_reference.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {

struct Blocks {
  test::DiffAttentionCase<float> queries, keys;  // q from the first, k, v and mask from the second
  Tensor q, k, v, mask_blocks, lambda, weight, q_rows, kv_rows;
};

// Nq query blocks and Nk key blocks, B output rows mapped to random blocks (repeats included);
// with_rows = false pairs block b with block b (Nq = Nk = B).
Blocks make_blocks(int64_t nq, int64_t nk, int64_t B, int64_t lq, int64_t lk, int heads, int head_dim, int mask_kind,
                   uint32_t seed, bool with_rows) {
  Blocks x;
  if (!with_rows) nq = nk = B;
  x.queries = test::make_diff_attention_case<float>(nq, lq, 1, heads, head_dim, seed);
  x.keys = test::make_diff_attention_case<float>(nk, 1, lk, heads, head_dim, seed + 1, mask_kind);
  x.q = Tensor::from_vector(x.queries.q, {nq, lq, x.queries.width()});
  x.k = Tensor::from_vector(x.keys.k, {nk, lk, x.keys.width()});
  x.v = Tensor::from_vector(x.keys.v, {nk, lk, x.keys.width()});
  if (!x.keys.mask.empty()) x.mask_blocks = Tensor::from_vector(x.keys.mask, {nk, lk});
  x.lambda = Tensor::from_vector(std::vector<float>{0.35f}, {});
  x.weight = Tensor::from_vector(x.keys.weight, {int64_t(x.keys.cols())});
  if (with_rows) {
    std::mt19937 rng(seed + 2);
    std::vector<int32_t> qr(static_cast<size_t>(B)), kr(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      qr[size_t(b)] = int32_t(rng() % uint32_t(nq));
      kr[size_t(b)] = int32_t(rng() % uint32_t(nk));
    }
    x.q_rows = Tensor::from_vector(qr, {B});
    x.kv_rows = Tensor::from_vector(kr, {B});
  }
  return x;
}

Tensor run(const Blocks& x, bool pool, InferenceLoops loops) {
  NoGrad no_grad;
  const Tensor mask =
      x.mask_blocks.defined() && x.kv_rows.defined() ? gather_rows(x.mask_blocks, x.kv_rows) : x.mask_blocks;
  return diff_attention_inference(x.q, x.k, x.v, mask, x.lambda, 0.2, x.weight, x.queries.heads, 1e-5, x.q_rows,
                                  x.kv_rows, pool, loops);
}

struct Shape5 {
  int64_t nq, nk, B, lq, lk;
  int heads, head_dim, mask_kind;
};

// The model's own shapes (Path2Sub: 112 pathways x 17 fragments, masked; Drug2Path: 1 x 112;
// H = 4, D = 24) and edges: 1s, primes, query counts on both sides of 16, masks with one valid key
// and a fully masked row, head widths that are not multiples of 16.
const Shape5 kShapes[] = {
    {5, 7, 12, 112, 17, 4, 24, 1}, {7, 5, 9, 1, 112, 4, 24, 0}, {3, 4, 6, 17, 17, 4, 24, 3},
    {2, 3, 5, 16, 5, 2, 3, 2},     {1, 1, 1, 1, 1, 1, 1, 0},    {4, 2, 7, 33, 3, 3, 5, 1},
    {3, 3, 4, 7, 40, 1, 9, 3},     {2, 2, 3, 15, 16, 2, 8, 0},
};

}  // namespace

TEST_CASE("diff_attention_inference: both loop orders at every CPU level match the reference") {
  uint32_t seed = 10;
  for (const Shape5& s : kShapes)
    for (bool with_rows : {true, false})
      for (bool pool : {true, false}) {
        CAPTURE(s.B); CAPTURE(s.lq); CAPTURE(s.lk); CAPTURE(s.heads); CAPTURE(s.head_dim); CAPTURE(s.mask_kind);
        CAPTURE(with_rows); CAPTURE(pool);
        const Blocks x = make_blocks(s.nq, s.nk, s.B, s.lq, s.lk, s.heads, s.head_dim, s.mask_kind, seed++, with_rows);
        const Tensor want = run(x, pool, InferenceLoops::reference);
        CHECK(want.shape() == Shape({s.B, pool ? 1 : s.lq, x.queries.width()}));
        for (CpuLevel level : runnable_cpu_levels()) {
          ScopedCpuLevel scoped(level);
          CAPTURE(std::string(cpu_level_name(level)));
          for (InferenceLoops loops : {InferenceLoops::queries_in_lanes, InferenceLoops::keys_in_lanes,
                                       InferenceLoops::automatic}) {
            CAPTURE(int(loops));
            const Tensor got = run(x, pool, loops);
            CHECK(got.shape() == want.shape());
            CHECK_CLOSE_TENSOR(got, want, 2e-5, 1e-4);
          }
        }
      }
}

TEST_CASE("diff_attention_inference: a fully masked row gives zeros, a NaN query gives a NaN row") {
  Blocks x = make_blocks(2, 2, 2, 20, 17, 4, 24, 3, 77, false);  // mask kind 3: block 1 fully masked
  x.queries.q[size_t(5 * x.queries.width() + 2)] = NAN;           // block 0, query row 5, head 0
  x.q = Tensor::from_vector(x.queries.q, {2, 20, x.queries.width()});
  for (CpuLevel level : runnable_cpu_levels()) {
    ScopedCpuLevel scoped(level);
    for (InferenceLoops loops : {InferenceLoops::queries_in_lanes, InferenceLoops::keys_in_lanes}) {
      CAPTURE(int(loops));
      const std::vector<float> y = run(x, false, loops).to_vector<float>();
      const int64_t W = x.queries.width(), n = x.queries.cols();
      for (int64_t c = 0; c < W; ++c) {
        CHECK(y[size_t((1 * 20 + 3) * W + c)] == 0.0f);   // block 1: every key masked
        const bool nan_head = c < n;                     // the NaN sits in head 0's columns
        CHECK(std::isnan(y[size_t((0 * 20 + 5) * W + c)]) == nan_head);
        CHECK(std::isfinite(y[size_t((0 * 20 + 4) * W + c)]));
      }
      const std::vector<float> pooled = run(x, true, loops).to_vector<float>();
      CHECK(std::isnan(pooled[0]));                       // the NaN row enters block 0's mean
      CHECK(pooled[size_t(W + 1)] == 0.0f);
    }
  }
}

TEST_CASE("diff_attention_inference: errors name the problem") {
  const Blocks x = make_blocks(3, 2, 4, 5, 6, 2, 4, 0, 5, true);
  NoGrad no_grad;
  auto call = [&](const Tensor& q_rows, const Tensor& kv_rows, const Tensor& mask) {
    return diff_attention_inference(x.q, x.k, x.v, mask, x.lambda, 0.2, x.weight, 2, 1e-5, q_rows, kv_rows, true);
  };
  CHECK_THROWS_WITH_AS(call(Tensor::from_vector(std::vector<int32_t>{0, 1, 3, 0}, {4}), x.kv_rows, Tensor()),
                       doctest::Contains("q_rows[2] = 3 is outside [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(call(x.q_rows, Tensor::from_vector(std::vector<int32_t>{0, 1}, {2}), Tensor()),
                       doctest::Contains("different batch sizes"), Error);
  CHECK_THROWS_WITH_AS(call(x.q_rows, x.kv_rows, Tensor::ones({3, 6})), doctest::Contains("key_mask must be [B, Lk]"),
                       Error);
  CHECK_THROWS_WITH_AS(call(x.q_rows, Tensor(), Tensor()), doctest::Contains("without kv_rows"), Error);
}

TEST_CASE("diff_attention_inference: refuses to run where a gradient is wanted") {
  Blocks x = make_blocks(2, 2, 2, 3, 4, 1, 2, 0, 9, false);
  x.q.set_requires_grad();
  CHECK_THROWS_WITH_AS(diff_attention_inference(x.q, x.k, x.v, Tensor(), x.lambda, 0.2, x.weight, 1, 1e-5, Tensor(),
                                                Tensor(), false),
                       doctest::Contains("has no backward"), Error);
  NoGrad no_grad;
  CHECK(diff_attention_inference(x.q, x.k, x.v, Tensor(), x.lambda, 0.2, x.weight, 1, 1e-5, Tensor(), Tensor(), false)
            .defined());
}

TEST_CASE("cross-attention: the re-associated differential forward equals the fused one") {
  Generator init(21);
  CrossAttention attention(AttentionKind::differential, /*embed_dim=*/12, /*attn_dim=*/16, /*heads=*/2, /*depth=*/1,
                           1e-5, init);
  for (const auto& [lq, masked, pool] : {std::tuple{1, false, false}, std::tuple{3, true, false},
                                         std::tuple{3, true, true}, std::tuple{1, true, true}}) {
    CAPTURE(lq); CAPTURE(masked); CAPTURE(pool);
    NoGrad no_grad;
    const int64_t nq = 3, nk = 4, B = 7, lk = 9;
    const Tensor queries = Tensor::normal({nq, lq, 12}, 0, 1, 31);
    const Tensor keys_values = Tensor::normal({nk, lk, 12}, 0, 1, 32);
    const Tensor q_rows = Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 0, 2, 1, 1}, {B});
    const Tensor kv_rows = Tensor::from_vector(std::vector<int32_t>{3, 0, 1, 1, 2, 3, 0}, {B});
    std::vector<float> m(size_t(B * lk), 1.f);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < lk; ++j)
        if (masked && (j + b) % 3 == 0) m[size_t(b * lk + j)] = 0.f;
    m[size_t(6 * lk + 0)] = 1.f;  // every row keeps a key except row 5, fully masked below
    if (masked) std::fill(m.begin() + 5 * lk, m.begin() + 6 * lk, 0.f);
    const Tensor mask = masked ? Tensor::from_vector(m, {B, lk}) : Tensor();
    const AttentionOutput want = attention.forward(queries, keys_values, mask, q_rows, kv_rows, pool);
    const AttentionOutput got = attention.forward_reassociated(queries, keys_values, mask, q_rows, kv_rows, pool);
    CHECK(got.output.shape() == want.output.shape());
    CHECK_CLOSE_TENSOR(got.output, want.output, 2e-5, 1e-4);
    CHECK(!got.attention.defined());
  }
  // Training through it: the same gradients for the inputs and every parameter.
  {
    Tensor queries = Tensor::normal({3, 2, 12}, 0, 1, 41), keys_values = Tensor::normal({4, 9, 12}, 0, 1, 42);
    queries.set_requires_grad();
    keys_values.set_requires_grad();
    const Tensor q_rows = Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 0, 2}, {5});
    const Tensor kv_rows = Tensor::from_vector(std::vector<int32_t>{3, 0, 1, 1, 2}, {5});
    const Tensor mask = Tensor::from_vector(std::vector<float>(45, 1.f), {5, 9});
    const Tensor upstream = Tensor::normal({5, 1, 12}, 0, 1, 43);
    auto grads = [&](bool reassociated) {
      const AttentionOutput out =
          reassociated ? attention.forward_reassociated(queries, keys_values, mask, q_rows, kv_rows, true)
                       : attention.forward(queries, keys_values, mask, q_rows, kv_rows, true);
      sum_all(out.output * upstream).backward();
      std::vector<Tensor> g = {queries.grad().clone(), keys_values.grad().clone()};
      for (auto& [name, p] : attention.named_parameters()) g.push_back(p.grad().clone());
      attention.zero_grad();
      queries.zero_grad();
      keys_values.zero_grad();
      return g;
    };
    const std::vector<Tensor> want = grads(false), got = grads(true);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK_CLOSE_TENSOR(got[i], want[i], 1e-5, 1e-4);
    }
  }
  // The cost rule: Drug2Path at a training batch (512 pairs over ~340 cells of 112 tokens) pays;
  // the same view over a whole screen chunk (1020 pairs over 6 cells) and Path2Sub do not.
  Generator paper_init(1);
  CrossAttention paper(AttentionKind::differential, 192, 192, 4, 1, 1e-5, paper_init);
  CHECK(paper.reassociation_pays(512, 340, 1, 112, 192));
  CHECK_FALSE(paper.reassociation_pays(1020, 6, 1, 112, 192));
  CHECK_FALSE(paper.reassociation_pays(512, 170, 112, 17, 192));
}
