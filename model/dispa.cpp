#include "model/dispa.h"

#include <fmt/format.h>

#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace dispa {

// ---- config -----------------------------------------------------------------------------------
DispaConfig DispaConfig::from_json(const nlohmann::json& j) {
  DISPA_CHECK(j.is_object(), "config: expected a JSON object");
  DispaConfig c;
  for (const auto& [key, value] : j.items()) {
    try {
      if (key == "embed_dim") c.embed_dim = value.get<int64_t>();
      else if (key == "ffn_hidden") c.ffn_hidden = value.get<int64_t>();
      else if (key == "ffn_dropout") c.ffn_dropout = value.get<double>();
      else if (key == "attn_dim") c.attn_dim = value.get<int64_t>();
      else if (key == "heads") c.heads = value.get<int>();
      else if (key == "depth") c.depth = value.get<int>();
      else if (key == "head_dims") c.head_dims = value.get<std::vector<int64_t>>();
      else if (key == "head_dropout") c.head_dropout = value.get<double>();
      else if (key == "genes") c.genes = value.get<int64_t>();
      else if (key == "pathways") c.pathways = value.get<int64_t>();
      else if (key == "max_genes_per_pathway") c.max_genes_per_pathway = value.get<int64_t>();
      else if (key == "drug_dim") c.drug_dim = value.get<int64_t>();
      else if (key == "max_substructures") c.max_substructures = value.get<int64_t>();
      else if (key == "substructure_dim") c.substructure_dim = value.get<int64_t>();
      else if (key == "layernorm_eps") c.layernorm_eps = value.get<double>();
      else if (key == "batchnorm_eps") c.batchnorm_eps = value.get<double>();
      else if (key == "batchnorm_momentum") c.batchnorm_momentum = value.get<double>();
      else if (key == "rmsnorm_eps") c.rmsnorm_eps = value.get<double>();
      else if (key == "masked_score") c.masked_score = value.get<double>();
      else if (key == "head_residual_every") c.head_residual_every = value.get<int>();
      else if (key == "attention") c.attention = value.get<std::string>();
      else if (key == "batch") continue;  // the fixture's batch size: a property of the inputs
      else fail("config: unknown key '{}'", key);
    } catch (const nlohmann::json::exception& e) {
      fail("config: key '{}' has the wrong type ({}): {}", key, value.dump(), e.what());
    }
  }
  c.validate();
  return c;
}

nlohmann::json DispaConfig::to_json() const {
  return {{"embed_dim", embed_dim},       {"ffn_hidden", ffn_hidden},
          {"ffn_dropout", ffn_dropout},   {"attn_dim", attn_dim},
          {"heads", heads},               {"depth", depth},
          {"head_dims", head_dims},       {"head_dropout", head_dropout},
          {"genes", genes},               {"pathways", pathways},
          {"max_genes_per_pathway", max_genes_per_pathway},
          {"drug_dim", drug_dim},         {"substructure_dim", substructure_dim},
          {"max_substructures", max_substructures},
          {"layernorm_eps", layernorm_eps}, {"batchnorm_eps", batchnorm_eps},
          {"batchnorm_momentum", batchnorm_momentum}, {"rmsnorm_eps", rmsnorm_eps},
          {"masked_score", masked_score}, {"head_residual_every", head_residual_every},
          {"attention", attention}};
}

void DispaConfig::validate() const {
  for (auto [name, value] : {std::pair{"embed_dim", embed_dim}, std::pair{"ffn_hidden", ffn_hidden},
                             std::pair{"attn_dim", attn_dim}, std::pair{"genes", genes},
                             std::pair{"pathways", pathways}, std::pair{"max_genes_per_pathway", max_genes_per_pathway},
                             std::pair{"drug_dim", drug_dim}, std::pair{"max_substructures", max_substructures}})
    DISPA_CHECK(value > 0, "config: {} must be positive, got {}", name, value);
  DISPA_CHECK(heads > 0, "config: heads must be positive, got {}", heads);
  DISPA_CHECK(substructure_dim >= 0, "config: substructure_dim must be >= 0, got {}", substructure_dim);
  DISPA_CHECK(head_residual_every > 0, "config: head_residual_every must be positive, got {}", head_residual_every);
  for (int64_t w : head_dims) DISPA_CHECK(w > 0, "config: head_dims entries must be positive, got {}", w);
  DISPA_CHECK(ffn_dropout >= 0 && ffn_dropout < 1 && head_dropout >= 0 && head_dropout < 1,
              "config: dropout probabilities must be in [0, 1), got ffn {} head {}", ffn_dropout, head_dropout);
  const AttentionKind kind = parse_attention_kind(attention);
  const int64_t split = kind == AttentionKind::differential ? 2 * heads : heads;
  DISPA_CHECK(attn_dim % split == 0, "config: attn_dim {} must be divisible by {} for {} attention with {} heads",
              attn_dim, split, attention, heads);
}

// ---- head -------------------------------------------------------------------------------------
RegressorHead::Block::Block(int64_t in, int64_t out, double bn_eps, double bn_momentum, Generator& init_rng)
    : linear(in, out, true, init_rng), bn(out, bn_eps, bn_momentum) {
  register_module("linear", linear);
  register_module("bn", bn);
}

RegressorHead::RegressorHead(int64_t in, const std::vector<int64_t>& widths, double dropout, int residual_every,
                             double bn_eps, double bn_momentum, Generator& init_rng, Generator& dropout_rng)
    : dropout_(dropout), residual_every_(residual_every), dropout_rng_(dropout_rng) {
  int64_t width = in;
  for (size_t i = 0; i < widths.size(); ++i) {
    blocks_.push_back(std::make_unique<Block>(width, widths[i], bn_eps, bn_momentum, init_rng));
    width = widths[i];
  }
  out_ = std::make_unique<Linear>(width, 1, true, init_rng);
  for (auto& block : blocks_) blocks_list_.append(*block);
  register_module("blocks", blocks_list_);
  register_module("out", *out_);
}

Tensor RegressorHead::forward(const Tensor& x) const {
  Tensor h = x;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& block = *blocks_[i];
    Tensor y = gelu(block.bn.forward(block.linear.forward(h)));
    y = dropout_from(y, dropout_, is_training(), dropout_rng_);
    const bool residual = (i + 1) % size_t(residual_every_) == 0 && y.shape() == h.shape();
    h = residual ? y + h : y;
  }
  return out_->forward(h);
}

// ---- DiSPA ------------------------------------------------------------------------------------
Dispa::Dispa(const DispaConfig& config, uint64_t init_seed)
    : config_((config.validate(), config)),
      init_rng_(init_seed),
      dropout_rng_(init_seed ^ 0x9E3779B97F4A7C15ull),
      gene_ffn(config.max_genes_per_pathway, config.ffn_hidden, config.embed_dim, config.ffn_dropout,
               config.layernorm_eps, init_rng_, dropout_rng_),
      slab_norm({config.pathways, config.embed_dim}, config.layernorm_eps),
      sub_ffn(config.fragment_dim(), config.ffn_hidden, config.embed_dim, config.ffn_dropout, config.layernorm_eps,
              init_rng_, dropout_rng_),
      drug_ffn(config.drug_dim, config.ffn_hidden, config.embed_dim, config.ffn_dropout, config.layernorm_eps,
               init_rng_, dropout_rng_),
      path2sub(parse_attention_kind(config.attention), config.embed_dim, config.attn_dim, config.heads, config.depth,
               config.rmsnorm_eps, init_rng_),
      drug2path(parse_attention_kind(config.attention), config.embed_dim, config.attn_dim, config.heads,
                config.depth, config.rmsnorm_eps, init_rng_),
      head(3 * config.embed_dim, config.head_dims, config.head_dropout, config.head_residual_every,
           config.batchnorm_eps, config.batchnorm_momentum, init_rng_, dropout_rng_) {
  register_module("gene_ffn", gene_ffn);
  register_module("slab_norm", slab_norm);
  register_module("sub_ffn", sub_ffn);
  register_module("drug_ffn", drug_ffn);
  register_module("path2sub", path2sub);
  register_module("drug2path", drug2path);
  register_module("head", head);
}

void Dispa::set_fused_attention(bool fused) {
  path2sub.use_fused = fused;
  drug2path.use_fused = fused;
}

DispaOutputs Dispa::forward(const DispaInputs& in) const {
  const DispaConfig& c = config_;
  const bool cell_dedup = in.cell_rows.defined(), drug_dedup = in.drug_rows.defined();
  DISPA_CHECK(in.expression.ndim() == 2 && in.expression.dim(1) == c.genes,
              "dispa: expression must be [B, {}] (genes), got {}", c.genes, in.expression.describe());
  const int64_t B = cell_dedup ? in.cell_rows.dim(0) : in.expression.dim(0);
  const int64_t Bd = drug_dedup ? in.drug.dim(0) : B;  // rows of the drug-side inputs
  DISPA_CHECK(!drug_dedup || in.drug_rows.shape() == Shape({B}), "dispa: drug_rows must be [{}], got {}", B,
              in.drug_rows.describe());
  DISPA_CHECK(in.pathway_gene_indices.shape() == Shape({c.pathways, c.max_genes_per_pathway}),
              "dispa: pathway_gene_indices must be [{}, {}] (P, S), got {}", c.pathways, c.max_genes_per_pathway,
              in.pathway_gene_indices.describe());
  DISPA_CHECK(in.drug.shape() == Shape({Bd, c.drug_dim}), "dispa: drug must be [{}, {}] (B, Dd), got {}", Bd,
              c.drug_dim, in.drug.describe());
  DISPA_CHECK(in.substructures.shape() == Shape({Bd, c.max_substructures, c.fragment_dim()}),
              "dispa: substructures must be [{}, {}, {}] (B, L, Df), got {}", Bd, c.max_substructures,
              c.fragment_dim(), in.substructures.describe());
  DISPA_CHECK(in.mask.shape() == Shape({Bd, c.max_substructures}), "dispa: mask must be [{}, {}] (B, L), got {}",
              Bd, c.max_substructures, in.mask.describe());
  const int64_t L = c.max_substructures, E = c.embed_dim;
  auto expand_cells = [&](const Tensor& t) { return cell_dedup ? gather_rows(t, in.cell_rows) : t; };
  auto expand_drugs = [&](const Tensor& t) { return drug_dedup ? gather_rows(t, in.drug_rows) : t; };

  const Tensor genes = gather_columns(in.expression, in.pathway_gene_indices);      // [Bc, P, S]
  const Tensor cell_tokens = slab_norm.forward(gene_ffn.forward(genes));           // [Bc, P, E]
  const Tensor mask_f = in.mask.dtype() == in.substructures.dtype() ? in.mask : in.mask.to(in.substructures.dtype());
  const Tensor drug_subs = sub_ffn.forward(in.substructures) * mask_f.reshape({Bd, L, 1});  // [Bd, L, E]
  const Tensor drug_vec = drug_ffn.forward(in.drug).reshape({Bd, 1, E});           // [Bd, 1, E]
  const Tensor mask = expand_drugs(in.mask);                                         // [B, L]

  // View 1 is mean-pooled over pathways: pooled inside Path2Sub, before its output projection.
  AttentionOutput view1 = path2sub.forward(cell_tokens, drug_subs, mask, in.cell_rows, in.drug_rows, true);  // [B, 1, E]
  AttentionOutput view2 = drug2path.forward(drug_vec, cell_tokens, Tensor(), in.drug_rows, in.cell_rows);  // [B, 1, E]
  const Tensor z = concat({view1.output.reshape({B, E}), view2.output.reshape({B, E}), expand_drugs(mean(drug_subs, 1))}, 1);  // [B, 3E]
  DispaOutputs out;
  out.prediction = head.forward(z).reshape({B});
  out.path2sub_attention = view1.attention;
  out.drug2path_attention = view2.attention;
  // Inspection output only: skipped in training mode, where it would cost a [B, P, E] copy per step.
  out.pathway_tokens = is_training() ? Tensor() : expand_cells(cell_tokens);
  return out;
}

}  // namespace dispa
