// DiSPA (Han et al. 2026): pathway tokens from gathered gene rows, substructure and drug FFNs,
// Path2Sub and Drug2Path cross-attention (differential or vanilla), pooling and a regressor head.
// Parameter names follow the PyTorch reference (shared/fixtures/dispa_ref/README.md), so weights
// move between the two through safetensors. The forward returns the prediction and both
// attention maps per head, for inspection (dispa explain) and parity checks (dispa forward).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "model/cross_attention.h"
#include "model/layers.h"

namespace dispa {

// Every dimension and constant; the defaults are the paper's configuration. JSON keys are the
// fixture's config.json keys (embed_dim, ffn_hidden, ...). depth enters only λinit (the layer
// index of the Differential Transformer; DiSPA has one attention layer per view).
struct DispaConfig {
  int64_t embed_dim = 192;
  int64_t ffn_hidden = 512;
  double ffn_dropout = 0.5;
  int64_t attn_dim = 192;
  int heads = 4;
  int depth = 1;
  std::vector<int64_t> head_dims = {256, 64, 32};
  double head_dropout = 0.1;
  int64_t genes = 0;                  // G (expression columns)
  int64_t pathways = 0;               // P
  int64_t max_genes_per_pathway = 0;  // S
  int64_t drug_dim = 0;               // Dd (whole-drug features)
  int64_t substructure_dim = 0;       // fragment features; 0 = same as drug_dim (the paper's case)
  int64_t max_substructures = 17;     // L
  double layernorm_eps = 1e-5;
  double batchnorm_eps = 1e-5;
  double batchnorm_momentum = 0.1;
  double rmsnorm_eps = 1e-5;
  double masked_score = -1e20;        // documented for parity; masked keys get probability 0
  int head_residual_every = 2;
  std::string attention = "differential";

  static DispaConfig from_json(const nlohmann::json& j);  // unknown keys are an error
  nlohmann::json to_json() const;
  void validate() const;  // positive dims, divisibility, known attention kind
  int64_t fragment_dim() const { return substructure_dim > 0 ? substructure_dim : drug_dim; }
};

struct DispaInputs {
  Tensor expression;            // [B, G] f32 (or [Bc, G] with cell_rows)
  Tensor pathway_gene_indices;  // [P, S] i32/i64, -1 = padding
  Tensor drug;                  // [B, Dd] (or [Bd, Dd] with drug_rows)
  Tensor substructures;         // [B, L, Df], padding rows zero (or [Bd, L, Df])
  Tensor mask;                  // [B, L], 1 = valid substructure (or [Bd, L])
  // Optional de-duplication: when given, expression holds one row per distinct cell of the batch
  // and cell_rows [B] (i32) maps each pair to its row; drug_rows does the same for drug,
  // substructures and mask. Everything that depends on the cell alone (gene FFN, slab norm,
  // pathway-token projections) or on the drug alone (drug/substructure FFNs and their
  // projections) then runs once per distinct cell or drug; the result is identical.
  Tensor cell_rows, drug_rows;
};

struct DispaOutputs {
  Tensor prediction;           // [B]
  Tensor path2sub_attention;   // [B, H, P, L]
  Tensor drug2path_attention;  // [B, H, 1, P]
  Tensor pathway_tokens;       // [B, P, E]; undefined in training mode
};

// What Dispa::forward_tokens returns besides the prediction.
enum class ForwardOutputs {
  everything,  // both attention maps, and the pathway tokens in eval mode (inspection, parity)
  prediction,  // nothing else: no map is written and no [B, P, E] copy made, so the differential
               // attention may run its re-associated form (training, small batches) or, under
               // NoGrad, its inference kernels (prediction loops)
};

// The tokens the two attention views read: the forward's first stage (dispa::Dispa::encode).
// Attribution (analysis/) makes them leaves, scales or masks them and runs the second stage
// (forward_tokens), so gradients and occlusions act on exactly the tensors the model attends over.
struct DispaTokens {
  Tensor pathway_tokens;   // [Bc, P, E]: slab-normed gene-FFN output per cell (row)
  Tensor fragment_tokens;  // [Bd, L, E]: substructure-FFN output, masked (padding) rows zero
  Tensor drug_token;       // [Bd, 1, E]: drug-FFN output of the whole molecule
  Tensor mask;             // [Bd, L], nonzero = valid fragment
  Tensor cell_rows, drug_rows;  // as DispaInputs (undefined: one row per pair)
};

// Regressor head: blocks Linear → BatchNorm1d → GELU → Dropout, residual on every
// `residual_every`-th block (1-based) when its input and output widths match, then Linear → 1.
class RegressorHead : public Module {
 public:
  RegressorHead(int64_t in, const std::vector<int64_t>& widths, double dropout, int residual_every, double bn_eps,
                double bn_momentum, Generator& init_rng, Generator& dropout_rng);
  Tensor forward(const Tensor& x) const;  // [B, in] -> [B, 1]

 private:
  struct Block : Module {
    Block(int64_t in, int64_t out, double bn_eps, double bn_momentum, Generator& init_rng);
    Linear linear;
    BatchNorm1d bn;
  };
  std::vector<std::unique_ptr<Block>> blocks_;
  ModuleList blocks_list_;
  std::unique_ptr<Linear> out_;
  double dropout_;
  int residual_every_;
  Generator& dropout_rng_;
};

class Dispa : public Module {
 public:
  // Parameters are initialised from init_seed (PyTorch's rules; Philox draws); dropout masks come
  // from the (seed, offset) stream of dropout_rng(), which checkpoints save and restore.
  Dispa(const DispaConfig& config, uint64_t init_seed = 0);
  DispaOutputs forward(const DispaInputs& inputs) const;  // forward_tokens(encode(inputs))
  DispaTokens encode(const DispaInputs& inputs) const;
  // The two halves of encode(), for callers that reuse one side across many pairs (screening in
  // train/predict encodes every drug once and the cells in chunks):
  //   encode_cells: expression [C, G] -> pathway tokens [C, P, E];
  //   encode_drugs: drug [N, Dd], substructures [N, L, Df], mask [N, L] -> fragment_tokens,
  //                 drug_token and mask of DispaTokens (the other members are left undefined).
  Tensor encode_cells(const Tensor& expression, const Tensor& pathway_gene_indices) const;
  DispaTokens encode_drugs(const Tensor& drug, const Tensor& substructures, const Tensor& mask) const;
  // `wanted` says which outputs besides the prediction to make (ForwardOutputs).
  DispaOutputs forward_tokens(const DispaTokens& tokens, ForwardOutputs wanted = ForwardOutputs::everything) const;
  // The prediction alone ([B]), for prediction loops under NoGrad: forward_tokens(encode(inputs),
  // ForwardOutputs::prediction).
  Tensor predict(const DispaInputs& inputs) const;
  const DispaConfig& config() const { return config_; }
  // The substructure FFN over the valid fragment slots only ([N, L, Df], mask [N, L] -> [N, L, E],
  // times the mask: zero rows where it is 0): GDSC2's drugs fill 929 of their 170 x 17 slots, so the FFN's
  // two GEMMs (and their backward) shrink about 3x. Dropout draws for the computed rows only.
  Tensor encode_fragments(const Tensor& substructures, const Tensor& mask) const;
  Generator& dropout_rng() { return dropout_rng_; }
  void set_fused_attention(bool fused);

 private:
  DispaConfig config_;
  Generator init_rng_, dropout_rng_;

 public:
  FeedForward gene_ffn;
  LayerNorm slab_norm;
  FeedForward sub_ffn, drug_ffn;
  CrossAttention path2sub, drug2path;
  RegressorHead head;
};

}  // namespace dispa
