// Attributions of DiSPA's prediction y (ln IC50) to the cell's pathways and the drug's BRICS
// fragments, beside the raw attention, per (cell, drug) pair (computed in batches). x are the
// pathway tokens [P, E] and z the fragment tokens [F, E] that both attention views read
// (Dispa::encode); every method acts on them or on the raw inputs, never on a recomputed copy.
//
//   attention             Path2Sub map A[p, f] (mean over heads); per pathway the Drug2Path map
//                         a[p] (head mean); per fragment the mean over pathways of A[p, f]
//   attention_rollout     attention through both views: R[p, f] = a[p]·A[p, f] (head means);
//                         per pathway Σ_f R, per fragment Σ_p R
//   grad_input            Σ_e x[p, e]·∂y/∂x[p, e] per pathway; Σ_e z[f, e]·∂y/∂z[f, e] per fragment
//   integrated_gradients  Σ_e (x − x̄)·(1/m)Σ_k ∂y/∂x at x̄ + α_k(x − x̄), α_k = (k + ½)/m (midpoint
//                         rule, m = ig_steps). Baselines: pathway tokens → x̄ = the mean pathway
//                         token of reference cells (an "average cell"; pathway_baseline), fragment
//                         tokens → 0. Pathways and fragments are integrated separately, the other
//                         side held at its value, so Σ_p = y − y(x̄, z) and Σ_f = y − y(x, 0).
//   occlusion             per pathway y − y(the pathway's genes set to 0, the z-score mean, then
//                         re-encoded); per fragment y − y(fragment masked: key masked, token zero)
//
// Fragment × pathway maps [P, F]: for the attention methods the maps above; for the other three,
// interactions: the pathway attribution with every fragment present minus the same with fragment
// f masked (occlusion: y − y_p − y_f + y_pf), i.e. how much pathway p's contribution depends on
// fragment f. They cost F + 1 times the per-pathway work (options.interactions).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "model/dispa.h"
#include "train/dataset.h"

namespace dispa::analysis {

enum class Method { attention, attention_rollout, grad_input, integrated_gradients, occlusion };
inline constexpr int kMethodCount = 5;
inline constexpr std::array<Method, kMethodCount> kMethods = {Method::attention, Method::attention_rollout,
                                                              Method::grad_input, Method::integrated_gradients,
                                                              Method::occlusion};
std::string method_name(Method method);  // "attention", "attention_rollout", "grad_input", ...
// Attention weights keep their sign when averaged over cells; attributions (whose sign follows the
// cell's pathway activity) are averaged as magnitudes |.|. This says which a method is.
bool aggregates_signed(Method method);

struct AttributionOptions {
  int ig_steps = 16;                // m of integrated gradients
  bool interactions = true;         // fragment × pathway maps for grad_input, IG and occlusion
  int64_t pairs_per_chunk = 16;     // pairs encoded together
  int64_t rows_per_forward = 1024;  // token rows per forward (bounds memory of occlusion)
};

// One method's tables for one pair (or aggregated): P pathways, F fragments (the drug's real ones).
struct MethodTables {
  std::vector<double> pathway;   // [P]
  std::vector<double> fragment;  // [F]
  std::vector<double> map;       // [P, F] row-major; empty when interactions are off
};

struct PairAttribution {
  int64_t pair_index = 0;  // position in data.pairs
  int32_t cell = 0, drug = 0;
  int fragments = 0;       // F
  double prediction = 0;
  std::array<MethodTables, kMethodCount> methods;
  const MethodTables& operator[](Method m) const { return methods[size_t(m)]; }
};

// The mean pathway token over `cells` (rows of data.cell_expression): the integrated-gradients
// baseline for pathway tokens, [P, E] on the model's device.
Tensor mean_pathway_tokens(Dispa& model, const train::FeaturizedDataset& data, const std::vector<int32_t>& cells);

// Attributions of data.pairs[pairs[i]] for every method, in eval mode, without touching the
// model's parameter gradients. Shows progress for long jobs.
std::vector<PairAttribution> attribute_pairs(Dispa& model, const train::FeaturizedDataset& data,
                                             const std::vector<int64_t>& pairs, const Tensor& pathway_baseline,
                                             const AttributionOptions& options = {});

// Mean, mean |.| and sd (n − 1) over pairs (e.g. all cells of one drug), table by table. The sd of
// the attention map across cells says which pathway's attention to a fragment moves with the cell.
struct AggregatedTables {
  std::vector<double> pathway_mean, pathway_abs, fragment_mean, fragment_abs, map_mean, map_abs, map_sd;
  // The summary a method is read by: signed means for attention, magnitudes for attributions.
  const std::vector<double>& pathway(Method m) const { return aggregates_signed(m) ? pathway_mean : pathway_abs; }
  const std::vector<double>& fragment(Method m) const { return aggregates_signed(m) ? fragment_mean : fragment_abs; }
  const std::vector<double>& map(Method m) const { return aggregates_signed(m) ? map_mean : map_abs; }
};
struct AggregatedAttribution {
  int64_t pairs = 0;
  int fragments = 0;
  std::vector<double> predictions;  // one per pair, in input order
  std::array<AggregatedTables, kMethodCount> methods;
  const AggregatedTables& operator[](Method m) const { return methods[size_t(m)]; }
};
// All pairs must share the drug (same F).
AggregatedAttribution aggregate(const std::vector<PairAttribution>& pairs);

}  // namespace dispa::analysis
