// Attribution methods (see attribution.h). A chunk of pairs is encoded once (de-duplicated cells
// and drugs); occlusion variants are token tables indexed by row maps: cell variants (none, or
// pathway p's genes zeroed and re-encoded) x drug variants (none, or fragment f masked).
#include "analysis/attribution.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "engine/autograd.h"
#include "engine/log.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"

namespace dispa::analysis {
namespace {

using train::FeaturizedDataset;

Tensor index_tensor(const std::vector<int32_t>& rows, Device device) {
  return Tensor::from_vector(rows, {int64_t(rows.size())}, device);
}

// Host copies in double: f64 models (the gradient tests) keep their precision.
std::vector<double> host_values(const Tensor& t) { return t.detach().to(Device::cpu()).to_f64_vector(); }

Tensor slice_rows(const Tensor& t) { return slice(t, 0, 0, 1); }

// For the scope: eval mode, and parameters that do not require gradients (attribution needs
// gradients of the inputs only; the model's own gradients are left as they were).
class AnalysisMode {
 public:
  explicit AnalysisMode(Dispa& model) : model_(model), was_training_(model.is_training()) {
    model.eval();
    for (const Tensor& p : model.parameters()) {
      params_.push_back(p);
      flags_.push_back(p.requires_grad());
      params_.back().set_requires_grad(false);
    }
  }
  ~AnalysisMode() {
    for (size_t i = 0; i < params_.size(); ++i) params_[i].set_requires_grad(flags_[i]);
    model_.train(was_training_);
  }
  AnalysisMode(const AnalysisMode&) = delete;
  AnalysisMode& operator=(const AnalysisMode&) = delete;

 private:
  Dispa& model_;
  bool was_training_;
  std::vector<Tensor> params_;
  std::vector<bool> flags_;
};

// Token tables and, per forward row, which table row each side reads.
struct RowTokens {
  Tensor pathway_tokens, fragment_tokens, drug_token, mask;  // tables
  std::vector<int32_t> cell_rows, drug_rows;                  // one entry per forward row
};

DispaTokens gather_tokens(const RowTokens& t, size_t begin, size_t end) {
  const Device device = t.pathway_tokens.device();
  const Tensor ci = index_tensor({t.cell_rows.begin() + ptrdiff_t(begin), t.cell_rows.begin() + ptrdiff_t(end)}, device);
  const Tensor di = index_tensor({t.drug_rows.begin() + ptrdiff_t(begin), t.drug_rows.begin() + ptrdiff_t(end)}, device);
  return {gather_rows(t.pathway_tokens, ci), gather_rows(t.fragment_tokens, di), gather_rows(t.drug_token, di),
          gather_rows(t.mask, di), {}, {}};
}

// Predictions of every row, without the tape. Rows are visited sorted by (cell row, drug row) and
// `slice` at a time; within a slice each distinct cell row and drug row is gathered once and the
// model runs its per-cell and per-drug projections once for it (Dispa's row maps), so an occluded
// cell shared by several drugs of the chunk is projected once.
std::vector<double> predict_rows(const Dispa& model, const RowTokens& t, int64_t slice) {
  NoGrad no_grad;
  const Device device = t.pathway_tokens.device();
  const size_t n = t.cell_rows.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::pair(t.cell_rows[a], t.drug_rows[a]) < std::pair(t.cell_rows[b], t.drug_rows[b]);
  });
  std::vector<double> out(n);
  for (size_t begin = 0; begin < n; begin += size_t(slice)) {
    const size_t end = std::min(n, begin + size_t(slice));
    std::vector<int32_t> cells, drugs, cell_map, drug_map;  // distinct table rows; each row's position
    std::unordered_map<int32_t, int32_t> cell_at, drug_at;
    auto position = [](std::vector<int32_t>& distinct, std::unordered_map<int32_t, int32_t>& at, int32_t row) {
      const auto [it, added] = at.emplace(row, int32_t(distinct.size()));
      if (added) distinct.push_back(row);
      return it->second;
    };
    for (size_t k = begin; k < end; ++k) {
      cell_map.push_back(position(cells, cell_at, t.cell_rows[order[k]]));
      drug_map.push_back(position(drugs, drug_at, t.drug_rows[order[k]]));
    }
    const Tensor ci = index_tensor(cells, device), di = index_tensor(drugs, device);
    const DispaTokens tokens{gather_rows(t.pathway_tokens, ci), gather_rows(t.fragment_tokens, di),
                             gather_rows(t.drug_token, di),     gather_rows(t.mask, di),
                             index_tensor(cell_map, device),     index_tensor(drug_map, device)};
    const std::vector<double> p = host_values(model.forward_tokens(tokens).prediction);
    for (size_t k = begin; k < end; ++k) out[order[k]] = p[k - begin];
  }
  return out;
}

// Gradients of Σ predictions with respect to the pathway and fragment tokens of `t` (leaves made
// here); rows are independent in eval mode, so each row receives its own prediction's gradient.
struct TokenGradients {
  Tensor pathway, fragment;
};
TokenGradients token_gradients(const Dispa& model, DispaTokens t, bool pathways, bool fragments) {
  if (pathways) t.pathway_tokens = t.pathway_tokens.detach().set_requires_grad();
  if (fragments) t.fragment_tokens = t.fragment_tokens.detach().set_requires_grad();
  sum_all(model.forward_tokens(t).prediction).backward();
  return {pathways ? t.pathway_tokens.grad() : Tensor(), fragments ? t.fragment_tokens.grad() : Tensor()};
}

// Σ over the last axis of a ⊙ b: [R, N, E] -> host [R, N].
std::vector<double> dot_last(const Tensor& a, const Tensor& b) {
  return host_values(sum(mul(a, b), 2));
}

// Pathway tokens of expression rows [N, G] (host, f32), encoded `slice` rows at a time.
Tensor encode_cells(const Dispa& model, const FeaturizedDataset& data, const std::vector<double>& expression,
                    int64_t n, int64_t slice) {
  NoGrad no_grad;
  const Device device = data.cell_expression.device();
  const int64_t G = data.cell_expression.dim(1);
  std::vector<Tensor> parts;
  for (int64_t begin = 0; begin < n; begin += slice) {
    const int64_t rows = std::min(n, begin + slice) - begin;
    DispaInputs in;
    // Built in f64 on the host, converted there: CUDA tensors are f32 only.
    in.expression = Tensor::from_vector(std::vector<double>(expression.begin() + begin * G, expression.begin() + (begin + rows) * G),
                                        {rows, G})
                        .to(data.cell_expression.dtype())
                        .to(device);
    in.pathway_gene_indices = data.pathway_gene_indices;
    in.drug = slice_rows(data.drug_global);  // encode needs a drug; its tokens are not used
    in.substructures = slice_rows(data.drug_fragment_features);
    in.mask = slice_rows(data.drug_fragment_mask);
    in.cell_rows = Tensor::arange(rows, DType::i32, device);
    in.drug_rows = Tensor::zeros({rows}, DType::i32, device);
    parts.push_back(model.encode(in).pathway_tokens);
  }
  return parts.size() == 1 ? parts.front() : concat(parts, 0);
}

}  // namespace

std::string method_name(Method method) {
  switch (method) {
    case Method::attention: return "attention";
    case Method::attention_rollout: return "attention_rollout";
    case Method::grad_input: return "grad_input";
    case Method::integrated_gradients: return "integrated_gradients";
    case Method::occlusion: return "occlusion";
  }
  return "?";
}

bool aggregates_signed(Method method) {
  return method == Method::attention || method == Method::attention_rollout;
}

Tensor mean_pathway_tokens(Dispa& model, const FeaturizedDataset& data, const std::vector<int32_t>& cells) {
  DISPA_CHECK(!cells.empty(), "attribution: the pathway-token baseline needs at least one cell");
  AnalysisMode mode(model);
  NoGrad no_grad;
  const std::vector<double> all = host_values(data.cell_expression);
  const int64_t G = data.cell_expression.dim(1);
  Tensor total;
  constexpr size_t kCells = 256;
  for (size_t begin = 0; begin < cells.size(); begin += kCells) {
    const size_t end = std::min(cells.size(), begin + kCells);
    std::vector<double> rows;
    for (size_t i = begin; i < end; ++i)
      rows.insert(rows.end(), all.begin() + cells[i] * G, all.begin() + (cells[i] + 1) * G);
    const Tensor s = sum(encode_cells(model, data, rows, int64_t(end - begin), int64_t(kCells)), 0);  // [P, E]
    total = total.defined() ? total + s : s;
  }
  return mul_scalar(total, 1.0 / double(cells.size()));
}

std::vector<PairAttribution> attribute_pairs(Dispa& model, const FeaturizedDataset& data,
                                             const std::vector<int64_t>& pairs, const Tensor& pathway_baseline,
                                             const AttributionOptions& o) {
  DISPA_CHECK(o.ig_steps >= 1, "attribution: ig_steps must be >= 1, got {}", o.ig_steps);
  DISPA_CHECK(o.pairs_per_chunk >= 1 && o.rows_per_forward >= 1, "attribution: chunk sizes must be positive");
  const DispaConfig& c = model.config();
  const int64_t P = c.pathways, L = c.max_substructures, G = c.genes;
  DISPA_CHECK(pathway_baseline.shape() == Shape({P, c.embed_dim}), "attribution: pathway baseline must be [{}, {}], got {}",
              P, c.embed_dim, pathway_baseline.describe());
  AnalysisMode mode(model);
  const Device device = data.cell_expression.device();
  const std::vector<double> masks = host_values(data.drug_fragment_mask);  // [N, L]
  const std::vector<int32_t> gene_index = data.pathway_gene_indices.to(Device::cpu()).to(DType::i32).to_vector<int32_t>();
  std::vector<PairAttribution> out;
  out.reserve(pairs.size());
  logging::Progress progress("attribution", int64_t(pairs.size()));

  for (size_t chunk_begin = 0; chunk_begin < pairs.size(); chunk_begin += size_t(o.pairs_per_chunk)) {
    const std::vector<int64_t> chunk(pairs.begin() + ptrdiff_t(chunk_begin),
                                     pairs.begin() + ptrdiff_t(std::min(pairs.size(), chunk_begin + size_t(o.pairs_per_chunk))));
    const size_t B = chunk.size();
    const train::Batch batch = train::make_batch(data, chunk, /*deduplicate=*/true);
    DispaTokens enc;
    {
      NoGrad no_grad;
      enc = model.encode(batch.inputs);
    }
    const std::vector<int32_t> cell_of = batch.inputs.cell_rows.to(Device::cpu()).to_vector<int32_t>();
    const std::vector<int32_t> drug_of = batch.inputs.drug_rows.to(Device::cpu()).to_vector<int32_t>();
    const int64_t n_cells = enc.pathway_tokens.dim(0), n_drugs = enc.drug_token.dim(0);

    // Drug variants: per distinct drug, row 0 = every fragment, row 1 + f = fragment f masked.
    std::vector<int> drug_fragments(size_t(n_drugs), 0);
    std::vector<int32_t> variant_source, variant_first(static_cast<size_t>(n_drugs));
    std::vector<double> keep;
    for (size_t b = 0; b < B; ++b) {
      const int32_t d = data.pairs[size_t(chunk[b])].drug;
      const int F = int(data.drug_fragments.at(size_t(d)).size());
      for (int64_t l = 0; l < L; ++l)
        DISPA_CHECK((masks[size_t(d * L + l)] != 0.0) == (l < F),
                    "attribution: drug '{}' has {} fragments but its mask is not their first {} slots", data.drug_names[size_t(d)], F, F);
      drug_fragments[size_t(drug_of[b])] = F;
    }
    for (int64_t j = 0; j < n_drugs; ++j) {
      variant_first[size_t(j)] = int32_t(variant_source.size());
      const int F = drug_fragments[size_t(j)];
      for (int v = 0; v <= F; ++v) {
        variant_source.push_back(int32_t(j));
        for (int64_t l = 0; l < L; ++l) keep.push_back(l < F && l != v - 1 ? 1.0 : 0.0);
      }
    }
    const int64_t n_variants = int64_t(variant_source.size());
    const Tensor keep_t = Tensor::from_vector(keep, {n_variants, L}).to(enc.fragment_tokens.dtype()).to(device);
    const Tensor vsrc = index_tensor(variant_source, device);

    // Cell variants: rows [0, n_cells) as encoded; then n_cells + i·P + p = cell i with pathway p's
    // genes set to 0 and re-encoded (slab norm included, as the model sees such a cell).
    const std::vector<double> expression = host_values(batch.inputs.expression);  // [n_cells, G]
    std::vector<double> occluded;
    occluded.reserve(size_t(n_cells * P * G));
    const int64_t S = c.max_genes_per_pathway;
    for (int64_t i = 0; i < n_cells; ++i)
      for (int64_t p = 0; p < P; ++p) {
        occluded.insert(occluded.end(), expression.begin() + i * G, expression.begin() + (i + 1) * G);
        for (int64_t s = 0; s < S; ++s) {
          const int32_t g = gene_index[size_t(p * S + s)];
          if (g >= 0) occluded[occluded.size() - size_t(G) + size_t(g)] = 0.0;
        }
      }
    const Tensor occluded_tokens = encode_cells(model, data, occluded, n_cells * P, 256);
    RowTokens tables;
    tables.pathway_tokens = concat({enc.pathway_tokens, occluded_tokens}, 0);
    tables.fragment_tokens = mul(gather_rows(enc.fragment_tokens, vsrc), keep_t.reshape({n_variants, L, 1}));
    tables.drug_token = gather_rows(enc.drug_token, vsrc);
    tables.mask = keep_t;

    // Forward rows: per pair, the full row, one per masked fragment, one per occluded pathway, and
    // (interactions) one per (pathway, fragment).
    struct PairRows {
      size_t full, fragments, pathways, both;
    };
    std::vector<PairRows> rows_of(B);
    auto add_row = [&](int32_t cell_row, int32_t drug_row) {
      tables.cell_rows.push_back(cell_row);
      tables.drug_rows.push_back(drug_row);
    };
    for (size_t b = 0; b < B; ++b) {
      const int32_t i = cell_of[b], first = variant_first[size_t(drug_of[b])];
      const int F = drug_fragments[size_t(drug_of[b])];
      PairRows& r = rows_of[b];
      r.full = tables.cell_rows.size();
      add_row(i, first);
      r.fragments = tables.cell_rows.size();
      for (int f = 0; f < F; ++f) add_row(i, first + 1 + f);
      r.pathways = tables.cell_rows.size();
      for (int64_t p = 0; p < P; ++p) add_row(int32_t(n_cells + i * P + p), first);
      r.both = tables.cell_rows.size();
      if (o.interactions)
        for (int64_t p = 0; p < P; ++p)
          for (int f = 0; f < F; ++f) add_row(int32_t(n_cells + i * P + p), first + 1 + f);
    }
    const std::vector<double> y = predict_rows(model, tables, o.rows_per_forward);

    // Attention maps of the full rows.
    RowTokens full_rows = tables;
    full_rows.cell_rows.clear();
    full_rows.drug_rows.clear();
    for (size_t b = 0; b < B; ++b) {
      full_rows.cell_rows.push_back(tables.cell_rows[rows_of[b].full]);
      full_rows.drug_rows.push_back(tables.drug_rows[rows_of[b].full]);
    }
    std::vector<double> p2s, d2p;
    {
      NoGrad no_grad;
      const DispaOutputs maps = model.forward_tokens(gather_tokens(full_rows, 0, B));
      p2s = host_values(maps.path2sub_attention);   // [B, H, P, L]
      d2p = host_values(maps.drug2path_attention);  // [B, H, 1, P]
    }

    // Gradient rows: the full row of every pair and, with interactions, its masked-fragment rows.
    RowTokens grad_rows = tables;
    grad_rows.cell_rows.clear();
    grad_rows.drug_rows.clear();
    std::vector<size_t> grad_first(B);
    for (size_t b = 0; b < B; ++b) {
      grad_first[b] = grad_rows.cell_rows.size();
      const int F = drug_fragments[size_t(drug_of[b])];
      const size_t n = o.interactions ? size_t(1 + F) : 1;
      for (size_t k = 0; k < n; ++k) {
        grad_rows.cell_rows.push_back(tables.cell_rows[rows_of[b].full]);
        grad_rows.drug_rows.push_back(tables.drug_rows[rows_of[b].full] + int32_t(k));
      }
    }
    const DispaTokens g_tokens = gather_tokens(grad_rows, 0, grad_rows.cell_rows.size());
    const TokenGradients g = token_gradients(model, g_tokens, true, true);
    const std::vector<double> gi_path = dot_last(g_tokens.pathway_tokens, g.pathway);    // [R, P]
    const std::vector<double> gi_frag = dot_last(g_tokens.fragment_tokens, g.fragment);  // [R, L]

    const Tensor delta = sub(g_tokens.pathway_tokens, pathway_baseline.reshape({1, P, c.embed_dim}));
    Tensor sum_gx, sum_gz;
    for (int k = 0; k < o.ig_steps; ++k) {
      const double alpha = (k + 0.5) / o.ig_steps;
      DispaTokens tx = g_tokens, tz = g_tokens;
      tx.pathway_tokens = add(pathway_baseline.reshape({1, P, c.embed_dim}), mul_scalar(delta, alpha));
      tz.fragment_tokens = mul_scalar(g_tokens.fragment_tokens, alpha);
      const Tensor gx = token_gradients(model, tx, true, false).pathway;
      const Tensor gz = token_gradients(model, tz, false, true).fragment;
      NoGrad no_grad;
      sum_gx = sum_gx.defined() ? sum_gx + gx : gx;
      sum_gz = sum_gz.defined() ? sum_gz + gz : gz;
    }
    const std::vector<double> ig_path = dot_last(delta, mul_scalar(sum_gx, 1.0 / o.ig_steps));
    const std::vector<double> ig_frag = dot_last(g_tokens.fragment_tokens, mul_scalar(sum_gz, 1.0 / o.ig_steps));

    const int64_t H = c.heads;
    for (size_t b = 0; b < B; ++b) {
      const int F = drug_fragments[size_t(drug_of[b])];
      const PairRows& r = rows_of[b];
      PairAttribution a;
      a.pair_index = chunk[b];
      a.cell = data.pairs[size_t(chunk[b])].cell;
      a.drug = data.pairs[size_t(chunk[b])].drug;
      a.fragments = F;
      a.prediction = y[r.full];
      auto tables_of = [&](Method m) -> MethodTables& {
        MethodTables& t = a.methods[size_t(m)];
        t.pathway.assign(size_t(P), 0.0);
        t.fragment.assign(size_t(F), 0.0);
        if (o.interactions || aggregates_signed(m)) t.map.assign(size_t(P * F), 0.0);
        return t;
      };
      MethodTables& att = tables_of(Method::attention);
      MethodTables& roll = tables_of(Method::attention_rollout);
      for (int64_t p = 0; p < P; ++p) {
        for (int64_t h = 0; h < H; ++h) att.pathway[size_t(p)] += d2p[size_t((int64_t(b) * H + h) * P + p)] / double(H);
        for (int f = 0; f < F; ++f) {
          double m = 0;
          for (int64_t h = 0; h < H; ++h) m += p2s[size_t(((int64_t(b) * H + h) * P + p) * L + f)];
          att.map[size_t(p * F + f)] = m / double(H);
        }
      }
      for (int64_t p = 0; p < P; ++p)
        for (int f = 0; f < F; ++f) {
          const double v = att.pathway[size_t(p)] * att.map[size_t(p * F + f)];
          roll.map[size_t(p * F + f)] = v;
          roll.pathway[size_t(p)] += v;
          roll.fragment[size_t(f)] += v;
          att.fragment[size_t(f)] += att.map[size_t(p * F + f)] / double(P);
        }

      const size_t g0 = grad_first[b];
      auto fill_gradient_method = [&](Method m, const std::vector<double>& path, const std::vector<double>& frag) {
        MethodTables& t = tables_of(m);
        for (int64_t p = 0; p < P; ++p) t.pathway[size_t(p)] = path[g0 * size_t(P) + size_t(p)];
        for (int f = 0; f < F; ++f) t.fragment[size_t(f)] = frag[g0 * size_t(L) + size_t(f)];
        if (o.interactions)
          for (int64_t p = 0; p < P; ++p)
            for (int f = 0; f < F; ++f)
              t.map[size_t(p * F + f)] = path[g0 * size_t(P) + size_t(p)] - path[(g0 + 1 + size_t(f)) * size_t(P) + size_t(p)];
      };
      fill_gradient_method(Method::grad_input, gi_path, gi_frag);
      fill_gradient_method(Method::integrated_gradients, ig_path, ig_frag);

      MethodTables& occ = tables_of(Method::occlusion);
      const double y0 = y[r.full];
      for (int64_t p = 0; p < P; ++p) occ.pathway[size_t(p)] = y0 - y[r.pathways + size_t(p)];
      for (int f = 0; f < F; ++f) occ.fragment[size_t(f)] = y0 - y[r.fragments + size_t(f)];
      if (o.interactions)
        for (int64_t p = 0; p < P; ++p)
          for (int f = 0; f < F; ++f)
            occ.map[size_t(p * F + f)] = y0 - y[r.pathways + size_t(p)] - y[r.fragments + size_t(f)] +
                                         y[r.both + size_t(p * F + f)];
      out.push_back(std::move(a));
    }
    progress.update(int64_t(out.size()));
  }
  progress.finish();
  return out;
}

AggregatedAttribution aggregate(const std::vector<PairAttribution>& pairs) {
  AggregatedAttribution agg;
  agg.pairs = int64_t(pairs.size());
  if (pairs.empty()) return agg;
  agg.fragments = pairs.front().fragments;
  auto accumulate = [](std::vector<double>& mean, std::vector<double>& abs_mean, const std::vector<double>& x) {
    if (mean.empty()) {
      mean.assign(x.size(), 0.0);
      abs_mean.assign(x.size(), 0.0);
    }
    for (size_t i = 0; i < x.size(); ++i) {
      mean[i] += x[i];
      abs_mean[i] += std::abs(x[i]);
    }
  };
  for (const PairAttribution& p : pairs) {
    DISPA_CHECK(p.drug == pairs.front().drug, "attribution: aggregate() takes the pairs of one drug");
    agg.predictions.push_back(p.prediction);
    for (Method m : kMethods) {
      const MethodTables& t = p[m];
      AggregatedTables& a = agg.methods[size_t(m)];
      accumulate(a.pathway_mean, a.pathway_abs, t.pathway);
      accumulate(a.fragment_mean, a.fragment_abs, t.fragment);
      accumulate(a.map_mean, a.map_abs, t.map);
    }
  }
  const double n = double(pairs.size());
  for (AggregatedTables& a : agg.methods)
    for (std::vector<double>* v : {&a.pathway_mean, &a.pathway_abs, &a.fragment_mean, &a.fragment_abs, &a.map_mean, &a.map_abs})
      for (double& x : *v) x /= n;
  for (Method m : kMethods) {  // second pass: the spread around the mean
    AggregatedTables& a = agg.methods[size_t(m)];
    a.map_sd.assign(a.map_mean.size(), 0.0);
    for (const PairAttribution& p : pairs)
      for (size_t i = 0; i < a.map_sd.size(); ++i) a.map_sd[i] += std::pow(p[m].map[i] - a.map_mean[i], 2);
    for (double& x : a.map_sd) x = pairs.size() > 1 ? std::sqrt(x / (n - 1)) : 0.0;
  }
  return agg;
}

}  // namespace dispa::analysis
