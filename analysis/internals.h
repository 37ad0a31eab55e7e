// Attention internals of one (cell, drug) pair exactly as the forward computed them (dispa explain
// --internals). The model's CrossAttention::capture hooks are set for one forward, so every map
// below is the one the fused op (or the unfused ops) produced, not a recomputation:
//
//   {view}.{d}.scores1, .scores2   [H, Lq, Lk] pre-softmax Q1K1ᵀ/√D (Q2K2ᵀ/√D), masked keys −inf
//   {view}.{d}.softmax1, .softmax2 [H, Lq, Lk] the softmaxes over the unmasked keys (masked: 0)
//   {view}.{d}.lambda              [H] λ used by each head (DiSPA shares one λ: repeated)
//   {view}.{d}.attention           [H, Lq, Lk] the map that multiplies V: softmax1 − λ·softmax2
//                                  (vanilla: the softmax; no scores2/softmax2/lambda then)
//
// view ∈ {path2sub (queries: P pathways, keys: L fragment slots), drug2path (query: the drug,
// keys: P pathways)}, d = 0 (DiSPA has one attention layer per view). Padding fragment slots stay
// in the tensors (masked) so the maps line up with V; the TSV and SVG files show real fragments only.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "model/dispa.h"

namespace dispa::analysis {

struct ViewInternals {
  std::string view;  // "path2sub" or "drug2path"
  int depth = 0;
  AttentionInternals maps;  // batch axis dropped: [H, Lq, Lk], [H]
};

struct PairInternals {
  std::string attention_kind;  // "differential" or "vanilla"
  double prediction = 0;       // the forward's prediction for the pair
  std::vector<ViewInternals> views;
};

// One forward of `inputs` (a single pair, B = 1, eval mode, CPU) with the capture hooks set.
PairInternals capture_internals(Dispa& model, const DispaInputs& inputs);

// Labels for the files: P pathway labels, the drug's F real fragments (F <= L), the drug name.
struct InternalsLabels {
  std::vector<std::string> pathway_ids, pathway_names, fragments;
  std::string cell_id, drug_name;
};

// Writes DIR/internals.safetensors (the tensors above; metadata: cell, drug, attention kind,
// prediction, pathway ids, fragments as JSON strings) and, per view and head,
// DIR/internals/{view}.{d}.head{h}.tsv (long form: query, key, every map's value) and
// DIR/internals/{view}.{d}.head{h}.svg (the maps as heatmaps, pathway names and fragment SMILES
// on the axes).
void write_internals(const std::filesystem::path& dir, const PairInternals& internals, const InternalsLabels& labels);

}  // namespace dispa::analysis
