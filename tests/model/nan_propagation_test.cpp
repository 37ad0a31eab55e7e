// Non-finite values through the model (docs/RELIABILITY.md, defect 2): the fused differential
// attention and the whole DiSPA forward give NaN where PyTorch does. A NaN input gene or a NaN
// weight used to end in a finite prediction (ReLU in the FFNs mapped NaN to 0).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "model/diff_attention.h"
#include "model/dispa.h"

using namespace dispa;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

DispaConfig small_config(const std::string& attention) {
  DispaConfig c;
  c.embed_dim = 8;
  c.ffn_hidden = 12;
  c.attn_dim = 8;
  c.heads = 2;
  c.head_dims = {8, 8};
  c.genes = 20;
  c.pathways = 5;
  c.max_genes_per_pathway = 6;
  c.drug_dim = 10;
  c.max_substructures = 4;
  c.attention = attention;
  return c;
}

DispaInputs inputs(const DispaConfig& c, int64_t B) {
  std::vector<int32_t> idx(size_t(c.pathways * c.max_genes_per_pathway));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = (i % 7 == 6) ? -1 : int32_t((i * 7) % c.genes);
  DispaInputs in;
  in.expression = Tensor::normal({B, c.genes}, 0, 1, 11);
  in.pathway_gene_indices = Tensor::from_vector(idx, {c.pathways, c.max_genes_per_pathway});
  in.drug = Tensor::normal({B, c.drug_dim}, 0, 1, 12);
  in.substructures = Tensor::normal({B, c.max_substructures, c.drug_dim}, 0, 1, 13);
  in.mask = Tensor::ones({B, c.max_substructures});
  return in;
}

std::vector<int> nan_pattern(const Tensor& t) {
  std::vector<int> out;
  for (float v : t.to_vector<float>()) out.push_back(std::isnan(v) ? 1 : 0);
  return out;
}

}  // namespace

TEST_CASE("NaN propagation: fused differential attention keeps NaN in scores; masked keys do not count") {
  const int64_t B = 1, Lq = 2, Lk = 3, H = 1, D = 2;
  const Tensor k = Tensor::normal({B, Lk, H * 2 * D}, 0, 1, 2), v = Tensor::normal({B, Lk, H * 2 * D}, 0, 1, 3);
  const Tensor lambda = Tensor::full({1}, 0.3), w = Tensor::ones({2 * D});
  std::vector<float> qv = Tensor::normal({B, Lq, H * 2 * D}, 0, 1, 1).to_vector<float>();
  qv[0] = kNaN;  // query row 0 only
  const Tensor q = Tensor::from_vector(qv, {B, Lq, H * 2 * D});
  NoGrad no_grad;
  const DiffAttentionResult r = diff_attention(q, k, v, Tensor(), lambda, 0.2, w, int(H));
  CHECK(nan_pattern(r.output) == std::vector<int>{1, 1, 1, 1, 0, 0, 0, 0});
  CHECK(nan_pattern(r.attention) == std::vector<int>{1, 1, 1, 0, 0, 0});
  // A NaN key that is masked is never read: everything finite.
  std::vector<float> kv = k.to_vector<float>();
  kv[2 * H * 2 * D] = kNaN;  // key 2
  const Tensor mask = Tensor::from_vector(std::vector<float>{1, 1, 0}, {B, Lk});
  const DiffAttentionResult m = diff_attention(Tensor::normal({B, Lq, H * 2 * D}, 0, 1, 1),
                                               Tensor::from_vector(kv, k.shape()), v, mask, lambda, 0.2, w, int(H));
  CHECK(nan_pattern(m.output) == std::vector<int>(8, 0));
}

TEST_CASE("NaN propagation: a NaN gene or a NaN weight makes DiSPA's prediction NaN") {
  for (const std::string attention : {"differential", "vanilla"}) {
    CAPTURE(attention);
    const DispaConfig c = small_config(attention);
    Dispa model(c, 3);
    model.eval();
    NoGrad no_grad;
    DispaInputs in = inputs(c, 2);
    CHECK(nan_pattern(model.forward(in).prediction) == std::vector<int>{0, 0});
    // Gene 0 is pathway 0's first gene: a NaN there reaches sample 0's prediction, not sample 1's.
    std::vector<float> e = in.expression.to_vector<float>();
    e[0] = kNaN;
    in.expression = Tensor::from_vector(e, in.expression.shape());
    CHECK(nan_pattern(model.forward(in).prediction) == std::vector<int>{1, 0});
    // A NaN bias before the gene FFN's LayerNorm and ReLU: every prediction.
    DispaInputs clean = inputs(c, 2);
    for (auto& [name, p] : model.named_parameters())
      if (name == "gene_ffn.fc1.bias") p.data<float>()[0] = kNaN;
    CHECK(nan_pattern(model.forward(clean).prediction) == std::vector<int>{1, 1});
  }
}
