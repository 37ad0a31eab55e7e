// CPU<->CUDA parity of the fused differential attention and the DiSPA forward with NaN inputs
// (label gpu; skipped without a device): NaN lands on the same elements on both devices, with
// the NaN score past the first warp's lanes (Lk = 94) and in masked keys (never read).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "model/diff_attention.h"
#include "model/dispa.h"
#include "tests/engine/parity_support.h"

using namespace dispa;

namespace {
const Device kGpu = Device::cuda(0);
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor with_nan(const Tensor& t, std::vector<int64_t> at) {
  std::vector<float> v = t.to_vector<float>();
  for (int64_t i : at) v[size_t(i)] = kNaN;
  return Tensor::from_vector(v, t.shape());
}
}  // namespace

TEST_CASE("NaN parity: fused differential attention, NaN in queries, keys and masked keys") {
  const int64_t B = 3, Lq = 17, Lk = 94, H = 4, D = 12, W = H * 2 * D;
  const Tensor q = with_nan(Tensor::normal({B, Lq, W}, 0, 1, 1), {3, W * 20 + 5});
  const Tensor k = with_nan(Tensor::normal({B, Lk, W}, 0, 1, 2), {W * 40 + 1, B * Lk * W - 1});
  const Tensor v = Tensor::normal({B, Lk, W}, 0, 1, 3);
  std::vector<float> m(size_t(B * Lk), 1.f);
  m[size_t(B * Lk - 1)] = 0.f;  // the last key of the last batch (which holds a NaN) is masked
  const Tensor mask = Tensor::from_vector(m, {B, Lk});
  const Tensor lambda = Tensor::full({1}, 0.3), w = Tensor::uniform({2 * D}, 0.5, 1.5, 4);
  NoGrad no_grad;
  const DiffAttentionResult c = diff_attention(q, k, v, mask, lambda, 0.2, w, int(H));
  const DiffAttentionResult g =
      diff_attention(q.to(kGpu), k.to(kGpu), v.to(kGpu), mask.to(kGpu), lambda.to(kGpu), 0.2, w.to(kGpu), int(H));
  CHECK_NONFINITE_PARITY(g.output, c.output, 1e-5, 1e-4);
  CHECK_NONFINITE_PARITY(g.attention, c.attention, 1e-6, 1e-5);
}

TEST_CASE("NaN parity: DiSPA forward with a NaN gene and a NaN weight") {
  DispaConfig c;
  c.embed_dim = 16;
  c.ffn_hidden = 24;
  c.attn_dim = 16;
  c.heads = 2;
  c.head_dims = {16, 8};
  c.genes = 60;
  c.pathways = 7;
  c.max_genes_per_pathway = 12;
  c.drug_dim = 32;
  c.max_substructures = 5;
  Dispa cpu(c, 5), gpu(c, 5);
  gpu.to(kGpu);
  cpu.eval();
  gpu.eval();
  std::vector<int32_t> idx(size_t(c.pathways * c.max_genes_per_pathway));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = (i % 5 == 4) ? -1 : int32_t((i * 11) % c.genes);
  DispaInputs in;
  in.expression = with_nan(Tensor::normal({4, c.genes}, 0, 1, 6), {0});
  in.pathway_gene_indices = Tensor::from_vector(idx, {c.pathways, c.max_genes_per_pathway});
  in.drug = Tensor::normal({4, c.drug_dim}, 0, 1, 7);
  in.substructures = Tensor::normal({4, c.max_substructures, c.drug_dim}, 0, 1, 8);
  in.mask = Tensor::ones({4, c.max_substructures});
  DispaInputs in_gpu = in;
  for (Tensor* t : {&in_gpu.expression, &in_gpu.pathway_gene_indices, &in_gpu.drug, &in_gpu.substructures,
                    &in_gpu.mask})
    *t = t->to(kGpu);
  NoGrad no_grad;
  CHECK_NONFINITE_PARITY(gpu.forward(in_gpu).prediction, cpu.forward(in).prediction, 1e-4, 1e-4);
  for (Dispa* model : {&cpu, &gpu})
    for (auto& [name, p] : model->named_parameters())
      if (name == "drug_ffn.fc1.bias") {
        Tensor host = p.to(Device::cpu());
        host.data<float>()[3] = kNaN;
        p.copy_from(host);
      }
  CHECK_NONFINITE_PARITY(gpu.forward(in_gpu).prediction, cpu.forward(in).prediction, 1e-4, 1e-4);
}
