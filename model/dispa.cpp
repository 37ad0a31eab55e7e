#include "model/dispa.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/io/text.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace dispa {

// ---- config -----------------------------------------------------------------------------------
namespace {

// Upper bounds of the size keys: far above any real DiSPA (the paper's E = 192, h = 512, GDSC2's
// G = 706, P = 112, S = 114, Dd = 1043, L = 17) and low enough that a typo cannot ask for
// gigabytes. parameter_estimate() bounds the keys together.
constexpr int64_t kMaxWidth = 65536;        // embed_dim, ffn_hidden, attn_dim, head_dims[i], P, S
constexpr int64_t kMaxFeatures = 1 << 20;   // genes, drug_dim, substructure_dim
constexpr int64_t kMaxSmall = 4096;         // heads, depth, max_substructures, head_residual_every
constexpr int64_t kMaxHeadBlocks = 64;
constexpr double kMaxParameters = 1e9;      // 4 GB of f32 weights (and as much again for Adam)

// An integer-valued JSON number in [lo, hi]; anything else names the key and the value.
int64_t integer_value(const std::string& key, const nlohmann::json& value, int64_t lo, int64_t hi) {
  const std::string shown = value.dump();
  if (value.is_number_integer()) {
    const bool fits = value.is_number_unsigned() ? value.get<uint64_t>() <= uint64_t(hi) : true;
    const int64_t v = fits ? value.get<int64_t>() : hi;
    DISPA_CHECK(fits && v >= lo && v <= hi, "config: '{}' must be an integer in [{}, {}], got {}", key, lo, hi, shown);
    return v;
  }
  DISPA_CHECK(value.is_number_float(), "config: '{}' must be an integer, got {}", key, io::shorten(shown));
  const double d = value.get<double>();
  DISPA_CHECK(std::isfinite(d) && d == std::floor(d), "config: '{}' must be an integer, got {}", key, shown);
  DISPA_CHECK(d >= double(lo) && d <= double(hi), "config: '{}' must be an integer in [{}, {}], got {}", key, lo, hi,
              shown);
  return int64_t(d);
}

double number_value(const std::string& key, const nlohmann::json& value) {
  DISPA_CHECK(value.is_number(), "config: '{}' must be a number, got {}", key, io::shorten(value.dump()));
  const double d = value.get<double>();
  DISPA_CHECK(std::isfinite(d), "config: '{}' must be finite, got {}", key, value.dump());
  return d;
}

// Parameters of the model a config describes (weights and biases of every layer, both attention
// blocks, the head); within a few percent, for the size bound.
double parameter_estimate(const DispaConfig& c) {
  const double E = double(c.embed_dim), h = double(c.ffn_hidden), A = double(c.attn_dim);
  auto ffn = [&](double in) { return in * h + 3 * h + h * E + E; };
  double n = ffn(double(c.max_genes_per_pathway)) + ffn(double(c.fragment_dim())) + ffn(double(c.drug_dim));
  n += 2 * double(c.pathways) * E;     // slab LayerNorm
  n += 2 * (4 * A * E + 4 * A);        // two attention blocks (projections, lambdas, subln)
  double width = 3 * E;
  for (int64_t w : c.head_dims) {
    n += width * double(w) + 5 * double(w);
    width = double(w);
  }
  return n + width + 1;
}

}  // namespace

DispaConfig DispaConfig::from_json(const nlohmann::json& j) {
  DISPA_CHECK(j.is_object(), "config: expected a JSON object, got {}", io::shorten(j.dump()));
  DispaConfig c;
  // Every key is required except substructure_dim (the PyTorch fixtures omit it: 0 = drug_dim) and
  // batch (a property of the fixture's inputs, ignored).
  std::vector<std::string> required = {"embed_dim",  "ffn_hidden", "ffn_dropout", "attn_dim", "heads",
                                       "depth",      "head_dims",  "head_dropout", "genes",   "pathways",
                                       "max_genes_per_pathway", "drug_dim", "max_substructures",
                                       "layernorm_eps", "batchnorm_eps", "batchnorm_momentum", "rmsnorm_eps",
                                       "masked_score", "head_residual_every", "attention"};
  for (const auto& [key, value] : j.items()) {
    if (key == "embed_dim") c.embed_dim = integer_value(key, value, 1, kMaxWidth);
    else if (key == "ffn_hidden") c.ffn_hidden = integer_value(key, value, 1, kMaxWidth);
    else if (key == "ffn_dropout") c.ffn_dropout = number_value(key, value);
    else if (key == "attn_dim") c.attn_dim = integer_value(key, value, 1, kMaxWidth);
    else if (key == "heads") c.heads = int(integer_value(key, value, 1, kMaxSmall));
    else if (key == "depth") c.depth = int(integer_value(key, value, 1, kMaxSmall));
    else if (key == "head_dims") {
      DISPA_CHECK(value.is_array() && value.size() <= size_t(kMaxHeadBlocks),
                  "config: 'head_dims' must be an array of at most {} integers, got {}", kMaxHeadBlocks,
                  io::shorten(value.dump()));
      c.head_dims.clear();
      for (const auto& w : value) c.head_dims.push_back(integer_value(key, w, 1, kMaxWidth));
    }
    else if (key == "head_dropout") c.head_dropout = number_value(key, value);
    else if (key == "genes") c.genes = integer_value(key, value, 1, kMaxFeatures);
    else if (key == "pathways") c.pathways = integer_value(key, value, 1, kMaxWidth);
    else if (key == "max_genes_per_pathway") c.max_genes_per_pathway = integer_value(key, value, 1, kMaxWidth);
    else if (key == "drug_dim") c.drug_dim = integer_value(key, value, 1, kMaxFeatures);
    else if (key == "max_substructures") c.max_substructures = integer_value(key, value, 1, kMaxSmall);
    else if (key == "substructure_dim") c.substructure_dim = integer_value(key, value, 0, kMaxFeatures);
    else if (key == "layernorm_eps") c.layernorm_eps = number_value(key, value);
    else if (key == "batchnorm_eps") c.batchnorm_eps = number_value(key, value);
    else if (key == "batchnorm_momentum") c.batchnorm_momentum = number_value(key, value);
    else if (key == "rmsnorm_eps") c.rmsnorm_eps = number_value(key, value);
    else if (key == "masked_score") c.masked_score = number_value(key, value);
    else if (key == "head_residual_every") c.head_residual_every = int(integer_value(key, value, 1, kMaxSmall));
    else if (key == "attention") {
      DISPA_CHECK(value.is_string(), "config: 'attention' must be a string, got {}", io::shorten(value.dump()));
      c.attention = value.get<std::string>();
    }
    else if (key == "batch") continue;
    else fail("config: unknown key '{}'", io::shorten(key));
    std::erase(required, key);
  }
  DISPA_CHECK(required.empty(), "config: missing key(s): {} (every key is required except substructure_dim)",
              fmt::join(required, ", "));
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
  for (auto [name, value, hi] :
       {std::tuple{"embed_dim", embed_dim, kMaxWidth}, std::tuple{"ffn_hidden", ffn_hidden, kMaxWidth},
        std::tuple{"attn_dim", attn_dim, kMaxWidth}, std::tuple{"genes", genes, kMaxFeatures},
        std::tuple{"pathways", pathways, kMaxWidth}, std::tuple{"max_genes_per_pathway", max_genes_per_pathway, kMaxWidth},
        std::tuple{"drug_dim", drug_dim, kMaxFeatures}, std::tuple{"max_substructures", max_substructures, kMaxSmall},
        std::tuple{"heads", int64_t(heads), kMaxSmall}, std::tuple{"depth", int64_t(depth), kMaxSmall},
        std::tuple{"head_residual_every", int64_t(head_residual_every), kMaxSmall}})
    DISPA_CHECK(value > 0 && value <= hi, "config: '{}' must be in [1, {}], got {}", name, hi, value);
  DISPA_CHECK(substructure_dim >= 0 && substructure_dim <= kMaxFeatures,
              "config: 'substructure_dim' must be in [0, {}], got {}", kMaxFeatures, substructure_dim);
  DISPA_CHECK(head_dims.size() <= size_t(kMaxHeadBlocks), "config: at most {} head_dims, got {}", kMaxHeadBlocks,
              head_dims.size());
  for (int64_t w : head_dims)
    DISPA_CHECK(w > 0 && w <= kMaxWidth, "config: 'head_dims' entries must be in [1, {}], got {}", kMaxWidth, w);
  DISPA_CHECK(ffn_dropout >= 0 && ffn_dropout < 1 && head_dropout >= 0 && head_dropout < 1,
              "config: dropout probabilities must be in [0, 1), got ffn {} head {}", ffn_dropout, head_dropout);
  for (auto [name, eps] : {std::pair{"layernorm_eps", layernorm_eps}, std::pair{"batchnorm_eps", batchnorm_eps},
                           std::pair{"rmsnorm_eps", rmsnorm_eps}})
    DISPA_CHECK(eps > 0 && eps < 1, "config: '{}' must be in (0, 1), got {}", name, eps);
  DISPA_CHECK(batchnorm_momentum >= 0 && batchnorm_momentum <= 1, "config: 'batchnorm_momentum' must be in [0, 1], got {}",
              batchnorm_momentum);
  DISPA_CHECK(std::isfinite(masked_score), "config: 'masked_score' must be finite, got {}", masked_score);
  const AttentionKind kind = parse_attention_kind(attention);
  const int64_t split = kind == AttentionKind::differential ? 2 * heads : heads;
  DISPA_CHECK(attn_dim % split == 0, "config: attn_dim {} must be divisible by {} for {} attention with {} heads",
              attn_dim, split, attention, heads);
  const double parameters = parameter_estimate(*this);
  DISPA_CHECK(parameters <= kMaxParameters,
              "config: the model would have about {:.3g} parameters ({:.1f} GB of f32 weights), more than the limit "
              "of {:.0g}; check embed_dim, ffn_hidden, attn_dim, drug_dim and head_dims",
              parameters, parameters * 4 / 1e9, kMaxParameters);
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

DispaOutputs Dispa::forward(const DispaInputs& in) const { return forward_tokens(encode(in)); }

DispaTokens Dispa::encode(const DispaInputs& in) const {
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
  // Cells first: dropout draws its offsets in call order, and training runs must keep their masks.
  Tensor pathway_tokens = encode_cells(in.expression, in.pathway_gene_indices);
  DispaTokens t = encode_drugs(in.drug, in.substructures, in.mask);
  t.pathway_tokens = std::move(pathway_tokens);
  t.cell_rows = in.cell_rows;
  t.drug_rows = in.drug_rows;
  return t;
}

Tensor Dispa::encode_cells(const Tensor& expression, const Tensor& pathway_gene_indices) const {
  const DispaConfig& c = config_;
  DISPA_CHECK(expression.ndim() == 2 && expression.dim(1) == c.genes,
              "dispa: expression must be [C, {}] (genes), got {}", c.genes, expression.describe());
  DISPA_CHECK(pathway_gene_indices.shape() == Shape({c.pathways, c.max_genes_per_pathway}),
              "dispa: pathway_gene_indices must be [{}, {}] (P, S), got {}", c.pathways, c.max_genes_per_pathway,
              pathway_gene_indices.describe());
  // The gene FFN on the gathered [C, P, S] genes; its first layer skips the padded slots.
  return slab_norm.forward(gene_ffn.forward_gathered(expression, pathway_gene_indices));  // [C, P, E]
}

DispaTokens Dispa::encode_drugs(const Tensor& drug, const Tensor& substructures, const Tensor& mask) const {
  const DispaConfig& c = config_;
  const int64_t N = drug.ndim() == 2 ? drug.dim(0) : -1, L = c.max_substructures, E = c.embed_dim;
  DISPA_CHECK(drug.ndim() == 2 && drug.dim(1) == c.drug_dim, "dispa: drug must be [N, {}] (Dd), got {}", c.drug_dim,
              drug.describe());
  DISPA_CHECK(substructures.shape() == Shape({N, L, c.fragment_dim()}),
              "dispa: substructures must be [{}, {}, {}] (N, L, Df), got {}", N, L, c.fragment_dim(),
              substructures.describe());
  DISPA_CHECK(mask.shape() == Shape({N, L}), "dispa: mask must be [{}, {}] (N, L), got {}", N, L, mask.describe());
  DispaTokens t;
  t.fragment_tokens = encode_fragments(substructures, mask);  // [N, L, E]
  t.drug_token = drug_ffn.forward(drug).reshape({N, 1, E});                          // [N, 1, E]
  t.mask = mask;
  return t;
}

Tensor Dispa::predict(const DispaInputs& in) const { return forward_tokens(encode(in), ForwardOutputs::prediction).prediction; }

Tensor Dispa::encode_fragments(const Tensor& substructures, const Tensor& mask) const {
  const int64_t N = substructures.dim(0), L = substructures.dim(1), E = config_.embed_dim;
  const std::vector<double> valid = mask.detach().to(Device::cpu()).to_f64_vector();
  // Slot s of the [N·L] grid reads row slot_rows[s] of [FFN(valid rows); zero row].
  std::vector<int32_t> valid_slots, slot_rows(valid.size());
  for (size_t s = 0; s < valid.size(); ++s)
    if (valid[s] != 0.0) {
      slot_rows[s] = int32_t(valid_slots.size());
      valid_slots.push_back(int32_t(s));
    }
  // The reference multiplies the tokens by the mask; with 0/1 values that is the row selection below.
  const bool binary = std::all_of(valid.begin(), valid.end(), [](double m) { return m == 0.0 || m == 1.0; });
  auto weighted = [&](const Tensor& tokens) {
    if (binary) return tokens;
    const Tensor mask_f = mask.dtype() == substructures.dtype() ? mask : mask.to(substructures.dtype());
    return tokens * mask_f.reshape({N, L, 1});
  };
  if (valid_slots.size() == valid.size()) return weighted(sub_ffn.forward(substructures));  // nothing to skip
  for (size_t s = 0; s < valid.size(); ++s)
    if (valid[s] == 0.0) slot_rows[s] = int32_t(valid_slots.size());
  const Device device = substructures.device();
  const Tensor flat = substructures.reshape({N * L, substructures.dim(2)});
  const Tensor encoded =
      valid_slots.empty()
          ? Tensor::zeros({0, E}, substructures.dtype(), device)
          : sub_ffn.forward(gather_rows(flat, Tensor::from_vector(valid_slots, {int64_t(valid_slots.size())}, device)));
  const Tensor table = concat({encoded, Tensor::zeros({1, E}, substructures.dtype(), device)}, 0);
  return weighted(gather_rows(table, Tensor::from_vector(slot_rows, {N * L}, device)).reshape({N, L, E}));
}

DispaOutputs Dispa::forward_tokens(const DispaTokens& t, ForwardOutputs wanted) const {
  const int64_t E = config_.embed_dim;
  const bool cell_dedup = t.cell_rows.defined(), drug_dedup = t.drug_rows.defined();
  const int64_t B = cell_dedup ? t.cell_rows.dim(0) : t.pathway_tokens.dim(0);
  const int64_t Bd = t.drug_token.defined() ? t.drug_token.dim(0) : 0, L = config_.max_substructures;
  DISPA_CHECK(t.pathway_tokens.ndim() == 3 && t.pathway_tokens.dim(1) == config_.pathways && t.pathway_tokens.dim(2) == E,
              "dispa: pathway tokens must be [B, {}, {}], got {}", config_.pathways, E, t.pathway_tokens.describe());
  DISPA_CHECK(t.drug_token.shape() == Shape({Bd, 1, E}) && t.fragment_tokens.shape() == Shape({Bd, L, E}) &&
                  t.mask.shape() == Shape({Bd, L}) && (drug_dedup || Bd == B),
              "dispa: drug tokens [B, 1, {1}], fragment tokens [B, {0}, {1}] and mask [B, {0}] disagree: {2}, {3}, {4}",
              L, E, t.drug_token.describe(), t.fragment_tokens.describe(), t.mask.describe());
  auto expand_cells = [&](const Tensor& x) { return cell_dedup ? gather_rows(x, t.cell_rows) : x; };
  auto expand_drugs = [&](const Tensor& x) { return drug_dedup ? gather_rows(x, t.drug_rows) : x; };
  const Tensor& cell_tokens = t.pathway_tokens;
  const Tensor& drug_subs = t.fragment_tokens;
  const Tensor& drug_vec = t.drug_token;
  const Tensor mask = expand_drugs(t.mask);                                          // [B, L]

  // View 1 is mean-pooled over pathways: pooled inside Path2Sub, before its output projection.
  const bool maps = wanted == ForwardOutputs::everything;
  AttentionOutput view1 = path2sub.forward(cell_tokens, drug_subs, mask, t.cell_rows, t.drug_rows, true, maps);  // [B, 1, E]
  AttentionOutput view2 = drug2path.forward(drug_vec, cell_tokens, Tensor(), t.drug_rows, t.cell_rows, false, maps);  // [B, 1, E]
  const Tensor z = concat({view1.output.reshape({B, E}), view2.output.reshape({B, E}), expand_drugs(mean(drug_subs, 1))}, 1);  // [B, 3E]
  DispaOutputs out;
  out.prediction = head.forward(z).reshape({B});
  out.path2sub_attention = view1.attention;
  out.drug2path_attention = view2.attention;
  // Inspection output only: skipped in training mode, where it would cost a [B, P, E] copy per step.
  out.pathway_tokens = is_training() || !maps ? Tensor() : expand_cells(cell_tokens);
  return out;
}

}  // namespace dispa
