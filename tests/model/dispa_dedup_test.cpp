// De-duplicated batches (cell_rows / drug_rows) must give exactly the computation of the expanded
// batch: same predictions and attention maps in eval mode, same parameter gradients in training
// mode (dropout off, since masks are drawn per computed row); and the prediction-only forward
// (Dispa::predict) matches both.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "engine/ops/loss.h"
#include "model/dispa.h"
#include "tests/support/close.h"

using namespace dispa;

namespace {
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
  c.ffn_dropout = 0.0;
  c.head_dropout = 0.0;
  c.attention = attention;
  return c;
}
}  // namespace

TEST_CASE("dispa: de-duplicated batches match the expanded batch (outputs and gradients)") {
  for (const std::string attention : {"differential", "vanilla"}) {
    CAPTURE(attention);
    const DispaConfig c = small_config(attention);
    Dispa model(c, 3);
    // 3 distinct cells, 2 distinct drugs, 6 pairs.
    const Tensor cells = Tensor::normal({3, c.genes}, 0, 1, 11);
    std::vector<int32_t> idx(size_t(c.pathways * c.max_genes_per_pathway));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = (i % 7 == 6) ? -1 : int32_t((i * 7) % c.genes);
    const Tensor pathway_index = Tensor::from_vector(idx, {c.pathways, c.max_genes_per_pathway});
    const Tensor drugs = Tensor::normal({2, c.drug_dim}, 0, 1, 12);
    const Tensor subs = Tensor::normal({2, c.max_substructures, c.drug_dim}, 0, 1, 13);
    const Tensor mask = Tensor::from_vector(std::vector<float>{1, 1, 0, 0, 1, 0, 0, 0}, {2, c.max_substructures});
    const Tensor cell_rows = Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 0, 1, 2}, {6});
    const Tensor drug_rows = Tensor::from_vector(std::vector<int32_t>{0, 0, 1, 1, 1, 0}, {6});
    const Tensor target = Tensor::normal({6}, 0, 1, 14);

    DispaInputs dedup{cells, pathway_index, drugs, subs, mask, cell_rows, drug_rows};
    DispaInputs expanded{gather_rows(cells, cell_rows), pathway_index, gather_rows(drugs, drug_rows),
                         gather_rows(subs, drug_rows), gather_rows(mask, drug_rows), Tensor(), Tensor()};
    model.eval();
    {
      NoGrad no_grad;
      const DispaOutputs a = model.forward(dedup), b = model.forward(expanded);
      CHECK_CLOSE_TENSOR(a.prediction, b.prediction, 1e-6, 1e-5);
      CHECK_CLOSE_TENSOR(a.path2sub_attention, b.path2sub_attention, 1e-6, 1e-5);
      CHECK_CLOSE_TENSOR(a.drug2path_attention, b.drug2path_attention, 1e-6, 1e-5);
      CHECK_CLOSE_TENSOR(a.pathway_tokens, b.pathway_tokens, 1e-6, 1e-5);
      // The prediction-only forward (differential: the inference kernels, reading the distinct
      // rows through the row maps) gives the same prediction and leaves the maps out.
      for (const DispaInputs* in : {&dedup, &expanded}) {
        const DispaOutputs p = model.forward_tokens(model.encode(*in), ForwardOutputs::prediction);
        CHECK_CLOSE_TENSOR(p.prediction, a.prediction, 2e-6, 2e-5);
        CHECK(!p.path2sub_attention.defined());
        CHECK(!p.pathway_tokens.defined());
        CHECK_CLOSE_TENSOR(model.predict(*in), a.prediction, 2e-6, 2e-5);
      }
    }
    model.train();
    std::map<std::string, Tensor> grads_dedup;
    mse_loss(model.forward(dedup).prediction, target).backward();
    for (auto& [name, p] : model.named_parameters()) grads_dedup[name] = p.grad().clone();
    model.zero_grad();
    mse_loss(model.forward(expanded).prediction, target).backward();
    for (auto& [name, p] : model.named_parameters()) {
      CAPTURE(name);
      CHECK_CLOSE_TENSOR(p.grad(), grads_dedup.at(name), 1e-6, 1e-4);
    }
    model.zero_grad();
    // Training through the prediction-only forward (what the trainer runs) gives the same gradients.
    mse_loss(model.forward_tokens(model.encode(dedup), ForwardOutputs::prediction).prediction, target).backward();
    for (auto& [name, p] : model.named_parameters()) {
      CAPTURE(name);
      CHECK_CLOSE_TENSOR(p.grad(), grads_dedup.at(name), 1e-6, 1e-4);
    }
    model.zero_grad();
  }
}
