// Attention internals of one pair (see internals.h).
#include "analysis/internals.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/attention_svg.h"
#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "train/svg_text.h"

namespace dispa::analysis {
namespace fs = std::filesystem;

namespace {

// Drops the batch axis of a captured [1, H, Lq, Lk] map ([H] stays as it is).
Tensor without_batch(const Tensor& t) {
  if (!t.defined() || t.ndim() != 4) return t;
  DISPA_CHECK(t.dim(0) == 1, "internals: expected one pair, got a batch of {}", t.dim(0));
  return t.reshape({t.dim(1), t.dim(2), t.dim(3)}).clone();
}

// Clears the capture pointers when the forward ends, also when it throws.
struct CaptureScope {
  Dispa& model;
  CaptureScope(Dispa& m, AttentionInternals* p2s, AttentionInternals* d2p) : model(m) {
    model.path2sub.capture = p2s;
    model.drug2path.capture = d2p;
  }
  ~CaptureScope() {
    model.path2sub.capture = nullptr;
    model.drug2path.capture = nullptr;
  }
};

// The maps of one internals entry, in file order, with their names.
std::vector<std::pair<std::string, Tensor>> named_maps(const AttentionInternals& m) {
  return {{"scores1", m.scores1},   {"scores2", m.scores2}, {"softmax1", m.softmax1},
          {"softmax2", m.softmax2}, {"lambda", m.lambda},   {"attention", m.attention}};
}

}  // namespace

PairInternals capture_internals(Dispa& model, const DispaInputs& inputs) {
  DISPA_CHECK(inputs.expression.device().is_cpu(),
              "internals: the pair must run on the CPU (the fused CUDA kernels do not write out their scores)");
  const bool was_training = model.is_training();
  model.eval();
  AttentionInternals p2s, d2p;
  DispaOutputs out;
  {
    NoGrad no_grad;
    CaptureScope scope(model, &p2s, &d2p);
    out = model.forward(inputs);
  }
  model.train(was_training);
  DISPA_CHECK(out.prediction.numel() == 1, "internals: expected one pair, got {} predictions", out.prediction.numel());
  DISPA_CHECK(p2s.attention.defined() && d2p.attention.defined(),
              "internals: the forward did not fill the attention capture (a path that skips CrossAttention?)");
  PairInternals r;
  r.attention_kind = model.config().attention;
  r.prediction = out.prediction.item();
  for (auto [name, maps] : {std::pair{"path2sub", &p2s}, std::pair{"drug2path", &d2p}}) {
    ViewInternals v;
    v.view = name;
    v.depth = 0;
    v.maps = {without_batch(maps->scores1),  without_batch(maps->scores2), without_batch(maps->softmax1),
              without_batch(maps->softmax2), maps->lambda,                 without_batch(maps->attention)};
    r.views.push_back(std::move(v));
  }
  return r;
}

void write_internals(const fs::path& dir, const PairInternals& in, const InternalsLabels& labels) {
  fs::create_directories(dir / "internals");
  std::map<std::string, Tensor> tensors;
  for (const ViewInternals& v : in.views)
    for (const auto& [name, t] : named_maps(v.maps))
      if (t.defined()) tensors[fmt::format("{}.{}.{}", v.view, v.depth, name)] = t;
  const std::map<std::string, std::string> metadata = {
      {"cell_id", labels.cell_id},
      {"drug_name", labels.drug_name},
      {"attention", in.attention_kind},
      {"prediction", fmt::format("{:.9g}", in.prediction)},
      {"pathway_ids", nlohmann::json(labels.pathway_ids).dump()},
      {"fragments", nlohmann::json(labels.fragments).dump()}};
  save_safetensors((dir / "internals.safetensors").string(), tensors, metadata);

  const size_t P = labels.pathway_ids.size(), F = labels.fragments.size();
  auto pathway_label = [&](size_t p) { return labels.pathway_names[p].empty() ? labels.pathway_ids[p] : labels.pathway_names[p]; };
  for (const ViewInternals& v : in.views) {
    const bool p2s = v.view == "path2sub";
    // Queries and keys shown: path2sub = pathways x real fragments; drug2path = the drug x pathways.
    const size_t Lq = p2s ? P : 1, Lk_shown = p2s ? F : P, Lk = size_t(v.maps.attention.dim(2));
    auto query = [&](size_t i) { return p2s ? pathway_label(i) : labels.drug_name; };
    auto key = [&](size_t j) { return p2s ? labels.fragments[j] : pathway_label(j); };
    const int H = int(v.maps.attention.dim(0));
    std::vector<std::pair<std::string, std::vector<float>>> maps;
    for (const auto& [name, t] : named_maps(v.maps))
      if (t.defined() && name != "lambda") maps.emplace_back(name, t.to(DType::f32).to_vector<float>());
    const std::vector<float> lambda =
        v.maps.lambda.defined() ? v.maps.lambda.to(DType::f32).to_vector<float>() : std::vector<float>(size_t(H), 0.0f);
    for (int h = 0; h < H; ++h) {
      const std::string stem = fmt::format("{}.{}.head{}", v.view, v.depth, h);
      std::string tsv = "query\tkey";
      for (const auto& [name, _] : maps) tsv += "\t" + name;
      if (v.maps.lambda.defined()) tsv += "\tlambda";
      tsv += "\n";
      for (size_t i = 0; i < Lq; ++i)
        for (size_t j = 0; j < Lk_shown; ++j) {
          tsv += query(i) + "\t" + key(j);
          for (const auto& [_, values] : maps) tsv += fmt::format("\t{:.9g}", values[(size_t(h) * Lq + i) * Lk + j]);
          if (v.maps.lambda.defined()) tsv += fmt::format("\t{:.9g}", lambda[size_t(h)]);
          tsv += "\n";
        }
      train::svg::write_file(dir / "internals" / (stem + ".tsv"), tsv);

      std::vector<std::string> figures;
      for (const auto& [name, values] : maps) {
        HeatmapSvg f;
        f.title = fmt::format("{} head {}: {}", v.view, h, name);
        f.subtitle = fmt::format("{} on {}; {} attention{}", labels.drug_name, labels.cell_id, in.attention_kind,
                                 v.maps.lambda.defined() ? fmt::format(", \u03bb = {:.4f}", lambda[size_t(h)]) : "");
        f.value_label = name;
        // Rows are pathways in both views (drug2path: one column, the drug), so the figures read alike.
        if (p2s) {
          f.row_axis = "pathway (query)";
          f.column_axis = "BRICS fragment (key)";
          for (size_t i = 0; i < Lq; ++i) f.row_labels.push_back(query(i));
          for (size_t j = 0; j < Lk_shown; ++j) f.column_labels.push_back(key(j));
          for (size_t i = 0; i < Lq; ++i)
            for (size_t j = 0; j < Lk_shown; ++j) f.values.push_back(values[(size_t(h) * Lq + i) * Lk + j]);
        } else {
          f.row_axis = "pathway (key)";
          f.column_axis = "drug (query)";
          for (size_t j = 0; j < Lk_shown; ++j) f.row_labels.push_back(key(j));
          f.column_labels.push_back(labels.drug_name);
          for (size_t j = 0; j < Lk_shown; ++j) f.values.push_back(values[size_t(h) * Lk + j]);
        }
        if (!f.row_labels.empty() && !f.column_labels.empty()) figures.push_back(heatmap_svg(f));
      }
      if (!figures.empty()) train::svg::write_file(dir / "internals" / (stem + ".svg"), stack_svgs(figures));
    }
  }
}

}  // namespace dispa::analysis
