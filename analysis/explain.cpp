// `dispa explain` (see explain.h).
#include "analysis/explain.h"

#include <algorithm>
#include <numeric>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"
#include "analysis/attention_svg.h"
#include "analysis/attribution_tables.h"
#include "analysis/internals.h"
#include "train/svg_text.h"

namespace dispa::analysis {
namespace fs = std::filesystem;
namespace svg = train::svg;
using train::TrainedRun;

float Explanation::path2sub_at(int head, size_t p, size_t f) const {
  return path2sub[(size_t(head) * n_pathways() + p) * fragments.size() + f];
}

float Explanation::path2sub_mean(size_t p, size_t f) const {
  double s = 0;
  for (int h = 0; h < heads; ++h) s += path2sub_at(h, p, f);
  return float(s / heads);
}

float Explanation::drug2path_mean(size_t p) const {
  double s = 0;
  for (int h = 0; h < heads; ++h) s += drug2path[size_t(h) * n_pathways() + p];
  return float(s / heads);
}

Explanation explain_pair(TrainedRun& run, size_t model_index, const train::FeaturizedDataset& inputs, int32_t cell,
                         int32_t drug) {
  Dispa& model = run.model(model_index);
  model.eval();
  NoGrad no_grad;
  train::FeaturizedDataset one = inputs;  // shares the tensors; only the pair list differs
  one.pairs = {{cell, drug, 0.0f}};
  const train::Batch batch = train::make_batch(one, {0});
  const DispaOutputs out = model.forward(batch.inputs);

  const DispaConfig& c = run.config();
  const size_t H = size_t(c.heads), P = size_t(c.pathways), L = size_t(c.max_substructures);
  Explanation e;
  e.cell_id = inputs.cell_ids.at(size_t(cell));
  e.drug_name = inputs.drug_names.at(size_t(drug));
  e.attention_kind = c.attention;
  e.fold = run.fold(model_index);
  e.heads = c.heads;
  e.prediction = out.prediction.to(Device::cpu()).item();
  e.fragments = inputs.drug_fragments.at(size_t(drug));
  e.pathway_ids = run.pathway_ids();
  e.pathway_names = run.pathway_descriptions();
  const size_t F = e.fragments.size();
  const std::vector<float> a = out.path2sub_attention.to(Device::cpu()).to_vector<float>();  // [1, H, P, L]
  DISPA_CHECK(a.size() == H * P * L, "explain: path2sub attention has {} values, expected H*P*L = {}", a.size(),
              H * P * L);
  e.path2sub.resize(H * P * F);
  for (size_t h = 0; h < H; ++h)
    for (size_t p = 0; p < P; ++p)
      for (size_t f = 0; f < F; ++f) e.path2sub[(h * P + p) * F + f] = a[(h * P + p) * L + f];
  e.drug2path = out.drug2path_attention.to(Device::cpu()).to_vector<float>();  // [1, H, 1, P]
  DISPA_CHECK(e.drug2path.size() == H * P, "explain: drug2path attention has {} values, expected H*P = {}",
              e.drug2path.size(), H * P);
  if (model.path2sub.kind == AttentionKind::differential) {
    e.lambda_path2sub = model.path2sub.lambda().to(Device::cpu()).item();
    e.lambda_drug2path = model.drug2path.lambda().to(Device::cpu()).item();
  }
  return e;
}

namespace {

std::string pathway_label(const Explanation& e, size_t p) {
  return e.pathway_names[p].empty() ? e.pathway_ids[p] : e.pathway_names[p];
}

std::string rows_sum_note(const Explanation& e, double lambda) {
  return e.attention_kind == "differential"
             ? fmt::format("differential attention A = softmax\u2081 \u2212 \u03bb\u00b7softmax\u2082 (\u03bb = {:.4f}): "
                           "rows sum to 1 \u2212 \u03bb and may be negative",
                           lambda)
             : std::string("softmax attention: rows sum to 1");
}

}  // namespace

void write_explanation(const fs::path& dir, const Explanation& e, int top_k, int top_bars) {
  fs::create_directories(dir);
  const size_t P = e.n_pathways(), F = e.fragments.size();
  const std::vector<std::string> columns = fragment_headers(e.fragments);

  std::string mean = fmt::format("pathway_id\tpathway_name\t{}\n", fmt::join(columns, "\t"));
  std::string by_head = fmt::format("head\tpathway_id\tpathway_name\t{}\n", fmt::join(columns, "\t"));
  for (size_t p = 0; p < P; ++p) {
    mean += fmt::format("{}\t{}", e.pathway_ids[p], e.pathway_names[p]);
    for (size_t f = 0; f < F; ++f) mean += fmt::format("\t{:.6g}", e.path2sub_mean(p, f));
    mean += '\n';
  }
  for (int h = 0; h < e.heads; ++h)
    for (size_t p = 0; p < P; ++p) {
      by_head += fmt::format("{}\t{}\t{}", h, e.pathway_ids[p], e.pathway_names[p]);
      for (size_t f = 0; f < F; ++f) by_head += fmt::format("\t{:.6g}", e.path2sub_at(h, p, f));
      by_head += '\n';
    }
  svg::write_file(dir / "path2sub_attention.tsv", mean);
  svg::write_file(dir / "path2sub_attention_by_head.tsv", by_head);

  std::string d2p = "pathway_id\tpathway_name";
  for (int h = 0; h < e.heads; ++h) d2p += fmt::format("\thead_{}", h);
  d2p += "\tmean\n";
  for (size_t p = 0; p < P; ++p) {
    d2p += fmt::format("{}\t{}", e.pathway_ids[p], e.pathway_names[p]);
    for (int h = 0; h < e.heads; ++h) d2p += fmt::format("\t{:.6g}", e.drug2path[size_t(h) * P + p]);
    d2p += fmt::format("\t{:.6g}\n", e.drug2path_mean(p));
  }
  svg::write_file(dir / "drug2path_attention.tsv", d2p);

  // Top pathways per fragment by head-mean attention (ties: pathway order).
  std::string top = "fragment_index\tfragment\trank\tpathway_id\tpathway_name\tattention\n";
  for (size_t f = 0; f < F; ++f) {
    std::vector<size_t> order(P);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return e.path2sub_mean(a, f) > e.path2sub_mean(b, f); });
    for (size_t r = 0; r < std::min(P, size_t(std::max(top_k, 0))); ++r)
      top += fmt::format("{}\t{}\t{}\t{}\t{}\t{:.6g}\n", f, e.fragments[f], r + 1, e.pathway_ids[order[r]],
                         e.pathway_names[order[r]], e.path2sub_mean(order[r], f));
  }
  svg::write_file(dir / "top_pathways.tsv", top);

  const std::string who =
      fmt::format("cell {}, drug {}, fold {}: predicted ln(IC50) {:.3f}", e.cell_id, e.drug_name, e.fold, e.prediction);
  if (F > 0) {
    HeatmapSvg heat;
    heat.title = fmt::format("Path2Sub attention: {} on {}", e.drug_name, e.cell_id);
    heat.subtitle = fmt::format("{}\nmean over {} heads; {}", who, e.heads, rows_sum_note(e, e.lambda_path2sub));
    heat.row_axis = "pathway (query)";
    heat.column_axis = "BRICS fragment (key)";
    heat.value_label = "attention";
    for (size_t p = 0; p < P; ++p) heat.row_labels.push_back(pathway_label(e, p));
    heat.column_labels = columns;
    for (size_t p = 0; p < P; ++p)
      for (size_t f = 0; f < F; ++f) heat.values.push_back(e.path2sub_mean(p, f));
    svg::write_file(dir / "path2sub_heatmap.svg", heatmap_svg(heat));
  }

  BarChartSvg bars;
  std::vector<size_t> order(P);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return e.drug2path_mean(a) > e.drug2path_mean(b); });
  const size_t shown = std::min(P, size_t(std::max(top_bars, 1)));
  bars.title = fmt::format("Drug2Path attention: top {} of {} pathways", shown, P);
  bars.subtitle = fmt::format("{}\nmean over {} heads; {}", who, e.heads, rows_sum_note(e, e.lambda_drug2path));
  bars.value_label = "attention of the drug on the pathway";
  for (size_t i = 0; i < shown; ++i) {
    bars.labels.push_back(pathway_label(e, order[i]));
    bars.values.push_back(e.drug2path_mean(order[i]));
  }
  svg::write_file(dir / "drug2path.svg", bar_chart_svg(bars));

  nlohmann::json j = {{"cell_id", e.cell_id},
                      {"drug_name", e.drug_name},
                      {"fold", e.fold},
                      {"prediction", e.prediction},
                      {"attention", e.attention_kind},
                      {"heads", e.heads},
                      {"pathways", P},
                      {"fragments", e.fragments},
                      {"n_fragments_total", e.n_fragments_total}};
  if (e.attention_kind == "differential") {
    j["lambda_path2sub"] = e.lambda_path2sub;
    j["lambda_drug2path"] = e.lambda_drug2path;
  }
  svg::write_file(dir / "explanation.json", j.dump(2) + "\n");
}

namespace {

// Every cell of `expression` (or the first max_cells) with the drug: attributions aggregated.
void explain_all_cells(TrainedRun& run, const train::FeaturizedDataset& inputs, const ExplainOptions& o) {
  train::FeaturizedDataset data = inputs;
  const int64_t n = o.max_cells > 0 ? std::min<int64_t>(o.max_cells, int64_t(data.cell_ids.size()))
                                    : int64_t(data.cell_ids.size());
  std::vector<int64_t> pairs;
  std::vector<int32_t> cells;
  data.pairs.clear();
  for (int64_t c = 0; c < n; ++c) {
    data.pairs.push_back({int32_t(c), 0, 0.0f});
    pairs.push_back(c);
    cells.push_back(int32_t(c));
  }
  AttributionOptions ao;
  ao.ig_steps = o.ig_steps;
  Dispa& model = run.model(0);
  const Tensor baseline = mean_pathway_tokens(model, data, cells);
  const AggregatedAttribution agg = aggregate(attribute_pairs(model, data, pairs, baseline, ao));
  AttributionLabels labels{run.pathway_ids(), run.pathway_descriptions(), data.drug_fragments.at(0), data.drug_names.at(0),
                           {data.cell_ids.begin(), data.cell_ids.begin() + n}};
  write_aggregated_attributions(o.out_dir / "attributions", agg, labels, ao);
  logging::info("{} over {} cells (fold {}): attributions in {}", labels.drug_name, n, run.fold(0),
                (o.out_dir / "attributions").string());
}

}  // namespace

Explanation run_explain(const ExplainOptions& o) {
  DISPA_CHECK(!o.drug.empty(), "explain: --drug is required");
  DISPA_CHECK(o.all_cells != !o.cell.empty(), "explain: give either --cell ID or --all-cells");
  DISPA_CHECK(!o.out_dir.empty(), "explain: --out DIR is required");
  io::check_output_folder(o.out_dir, "--out");
  DISPA_CHECK(o.top_k >= 1, "explain: --top must be at least 1 (pathways per fragment), got {}", o.top_k);
  DISPA_CHECK(o.top_bars >= 1, "explain: --bars must be at least 1 (pathways in drug2path.svg), got {}", o.top_bars);
  DISPA_CHECK(!o.all_cells || !o.internals, "explain: --internals is for one pair (--cell), not --all-cells");
  DISPA_CHECK(o.ig_steps >= 1, "explain: --ig-steps must be >= 1, got {}", o.ig_steps);
  DISPA_CHECK(o.max_cells >= 0, "explain: --max-cells must be >= 0, got {}", o.max_cells);
  // A run folder explains with one model (its first fold, fold 0, unless asked): attention maps do not average
  // meaningfully across separately trained models.
  int fold = o.fold;
  if (fold < 0 && !fs::exists(o.run_dir / "run.json")) fold = TrainedRun::available_folds(o.run_dir).front();
  TrainedRun run = TrainedRun::load(o.run_dir, fold);
  const fs::path data_dir = run.data_options().data_dir;
  const fs::path expression_file = o.expression.empty() ? data_dir / "expression.tsv" : o.expression;
  const fs::path drugs_file = o.drugs.empty() ? data_dir / "drugs.tsv" : o.drugs;

  const bio::ExpressionMatrix expression = bio::read_expression(expression_file, run.data_options().expression);
  const int64_t cell = o.all_cells ? 0 : expression.find_sample(o.cell);
  DISPA_CHECK(cell >= 0, "explain: cell '{}' is not a sample of {}", o.cell, expression_file.string());
  const std::vector<chem::DrugRecord> drugs = train::read_drugs_for_inference(drugs_file);
  auto it = std::find_if(drugs.begin(), drugs.end(), [&](const chem::DrugRecord& d) { return d.name == o.drug; });
  DISPA_CHECK(it != drugs.end(), "explain: drug '{}' is not in {}", o.drug, drugs_file.string());

  train::InferenceInputs inputs = run.prepare(expression, {*it}, train::InvalidDrugs::error, drugs_file.string());
  // The fused CUDA kernels do not write their scores out, so internals are taken on the CPU.
  const Device device = o.internals ? Device::cpu() : o.device;
  if (o.internals && !o.device.is_cpu()) logging::info("explain: --internals runs the pair on the CPU");
  run.to(device);
  inputs.dataset.to(device);
  if (size_t(inputs.n_fragments_total.at(0)) > inputs.dataset.drug_fragments.at(0).size())
    logging::warn("drug '{}' has {} BRICS fragments; the model sees the {} largest (L = {})", it->name,
                  inputs.n_fragments_total.at(0), inputs.dataset.drug_fragments.at(0).size(),
                  run.config().max_substructures);
  if (o.all_cells) {
    DISPA_CHECK(o.attributions, "explain: --all-cells writes attributions: add --attributions");
    explain_all_cells(run, inputs.dataset, o);
    Explanation e;
    e.drug_name = it->name;
    e.fragments = inputs.dataset.drug_fragments.at(0);
    e.n_fragments_total = inputs.n_fragments_total.at(0);
    return e;
  }
  Explanation e = explain_pair(run, 0, inputs.dataset, int32_t(cell), 0);
  e.n_fragments_total = inputs.n_fragments_total.at(0);
  write_explanation(o.out_dir, e, o.top_k, o.top_bars);

  train::FeaturizedDataset one = inputs.dataset;
  one.pairs = {{int32_t(cell), 0, 0.0f}};
  if (o.internals) {
    const PairInternals internals = capture_internals(run.model(0), train::make_batch(one, {0}).inputs);
    write_internals(o.out_dir, internals,
                    {e.pathway_ids, e.pathway_names, e.fragments, e.cell_id, e.drug_name});
  }
  if (o.attributions) {
    AttributionOptions ao;
    ao.ig_steps = o.ig_steps;
    std::vector<int32_t> all(inputs.dataset.cell_ids.size());
    std::iota(all.begin(), all.end(), 0);
    const Tensor baseline = mean_pathway_tokens(run.model(0), one, all);
    const std::vector<PairAttribution> a = attribute_pairs(run.model(0), one, {0}, baseline, ao);
    write_pair_attributions(o.out_dir / "attributions", a.at(0),
                            {e.pathway_ids, e.pathway_names, e.fragments, e.drug_name, {e.cell_id}}, ao);
  }
  logging::info("{} x {} (fold {}): predicted ln(IC50) {:.4f}; {} fragments x {} pathways; files in {}", e.cell_id,
                e.drug_name, e.fold, e.prediction, e.fragments.size(), e.n_pathways(), o.out_dir.string());
  return e;
}

}  // namespace dispa::analysis
