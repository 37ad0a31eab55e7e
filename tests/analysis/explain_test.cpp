// dispa explain as a library call on a tiny run trained on gdsc2-mini (2 folds, 1 epoch, about 2 s;
// skipped without the shared data): the maps match the model's forward on the training tensors,
// rows sum to 1 − λ, every file is written; --internals and --attributions write their files, and
// --all-cells aggregates over cells. The SVG helpers are checked on their own.
#include <fstream>
#include <map>

#include <doctest/doctest.h>

#include "analysis/analyze.h"
#include "analysis/attention_svg.h"
#include "analysis/explain.h"
#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "tests/train/tiny_run.h"
#include "train/data_pipeline.h"
#include "train/train_run.h"
#include "train/tsv_reader.h"

using namespace dispa;
using namespace dispa::analysis;
using namespace dispa::train;
using dispa::test::error_of;
namespace fs = std::filesystem;

namespace {

// The tiny run (tests/train/tiny_run.h), trained on first use and shared by this binary's tests.
const test::TinyRun& tiny_run() {
  static const test::TinyRun t = test::train_tiny_run("analysis_explain_run", 0);
  return t;
}


}  // namespace

TEST_CASE("explain: attention maps match the model's forward; rows sum to 1 - lambda; files written") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("explain");
  ExplainOptions o;
  o.run_dir = t.run;  // fold 0 of the run; expression and drugs from the run's data folder
  o.cell = "ACH-000030";
  o.drug = "Docetaxel";
  o.out_dir = tmp.path() / "out";
  o.top_k = 5;
  const Explanation e = run_explain(o);
  CHECK(e.fold == 0);
  const size_t P = e.n_pathways(), F = e.fragments.size();
  REQUIRE(P == 32);
  REQUIRE(F >= 2);

  // Reference: the training tensors (prepare_data), the fold-0 weights, Dispa::forward directly.
  DataOptions data;
  data.data_dir = t.data;
  data.gmt = t.data / "pathways_kegg34.gmt";
  PreparedData prepared = prepare_data(data);
  FeaturizedDataset& ds = prepared.dataset;
  const auto cell = std::find(ds.cell_ids.begin(), ds.cell_ids.end(), o.cell) - ds.cell_ids.begin();
  const auto drug = std::find(ds.drug_names.begin(), ds.drug_names.end(), o.drug) - ds.drug_names.begin();
  CHECK(ds.drug_fragments[size_t(drug)] == e.fragments);
  ds.pairs = {{int32_t(cell), int32_t(drug), 0.0f}};
  TrainedRun run = TrainedRun::load(t.run / "fold_0");
  NoGrad no_grad;
  const DispaOutputs want = run.model(0).forward(make_batch(ds, {0}).inputs);
  CHECK(std::abs(want.prediction.item() - e.prediction) < 1e-6);
  const std::vector<float> a = want.path2sub_attention.to_vector<float>();  // [1, H, P, L]
  const size_t L = size_t(run.config().max_substructures);
  for (int h = 0; h < e.heads; ++h)
    for (size_t p = 0; p < P; ++p) {
      double row = 0;
      for (size_t f = 0; f < F; ++f) {
        CHECK(e.path2sub_at(h, p, f) == a[(size_t(h) * P + p) * L + f]);
        row += e.path2sub_at(h, p, f);
      }
      CHECK(std::abs(row - (1.0 - e.lambda_path2sub)) < 1e-5);
      for (size_t f = F; f < L; ++f) CHECK(a[(size_t(h) * P + p) * L + f] == 0.0f);  // padding keys
    }
  CHECK(e.drug2path == want.drug2path_attention.to_vector<float>());
  for (int h = 0; h < e.heads; ++h) {
    double row = 0;
    for (size_t p = 0; p < P; ++p) row += e.drug2path[size_t(h) * P + p];
    CHECK(std::abs(row - (1.0 - e.lambda_drug2path)) < 1e-5);
  }
  CHECK(std::abs(e.lambda_path2sub - run.model(0).path2sub.lambda().item()) < 1e-7);

  for (const char* f : {"path2sub_attention.tsv", "path2sub_attention_by_head.tsv", "drug2path_attention.tsv",
                        "top_pathways.tsv", "path2sub_heatmap.svg", "drug2path.svg", "explanation.json"})
    CHECK_MESSAGE(fs::exists(o.out_dir / f), f);
  std::vector<std::string> header;
  const auto mean = test::read_pair_table(o.out_dir / "path2sub_attention.tsv", &header);
  CHECK(mean.size() == P);
  REQUIRE(header.size() == 2 + F);
  CHECK(header[2] == e.fragments[0]);
  const auto d2p = test::read_pair_table(o.out_dir / "drug2path_attention.tsv", &header);
  CHECK(header == std::vector<std::string>{"pathway_id", "pathway_name", "head_0", "head_1", "mean"});
  TsvReader top(o.out_dir / "top_pathways.tsv");
  int64_t n = 0;
  while (top.next()) ++n;
  CHECK(n == int64_t(5 * F));
  std::ifstream svg(o.out_dir / "path2sub_heatmap.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK(text.find("MAPK signaling pathway") != std::string::npos);
  CHECK(text.find("</svg>") != std::string::npos);

  o.cell = "NO-SUCH-CELL";
  const std::string err = error_of([&] { run_explain(o); });
  CHECK_MESSAGE(err.find("cell 'NO-SUCH-CELL' is not a sample of") != std::string::npos, err);
}

TEST_CASE("explain --internals --attributions: files for the pair; --all-cells aggregates over cells") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("explain_internals");
  ExplainOptions o;
  o.run_dir = t.run;
  o.cell = "ACH-000030";
  o.drug = "Docetaxel";
  o.out_dir = tmp.path() / "pair";
  o.internals = true;
  o.attributions = true;
  o.ig_steps = 4;
  const Explanation e = run_explain(o);
  const size_t P = e.n_pathways(), F = e.fragments.size();
  const SafetensorsFile file = load_safetensors((o.out_dir / "internals.safetensors").string());
  CHECK(file.tensors.at("path2sub.0.attention").shape() == Shape({2, int64_t(P), 17}));
  CHECK(file.tensors.at("drug2path.0.lambda").shape() == Shape({2}));
  CHECK(std::abs(std::stod(file.metadata.at("prediction")) - e.prediction) < 1e-6);
  // The internals' attention is the map explain reports (same forward, head 0).
  const std::vector<float> a = file.tensors.at("path2sub.0.attention").to_vector<float>();
  for (size_t p = 0; p < P; ++p)
    for (size_t f = 0; f < F; ++f) CHECK(a[p * 17 + f] == e.path2sub_at(0, p, f));
  for (const char* f : {"path2sub.0.head0.tsv", "path2sub.0.head1.svg", "drug2path.0.head1.tsv", "drug2path.0.head0.svg"})
    CHECK_MESSAGE(fs::exists(o.out_dir / "internals" / f), f);
  std::vector<std::string> header;
  const auto pathways = test::read_pair_table(o.out_dir / "attributions" / "pathways.tsv", &header);
  CHECK(pathways.size() == P);
  CHECK(header == std::vector<std::string>{"pathway_id", "pathway_name", "attention", "attention_rollout", "grad_input",
                                           "integrated_gradients", "occlusion"});
  const auto occlusion = test::read_pair_table(o.out_dir / "attributions" / "occlusion.tsv", &header);
  CHECK(header.size() == 2 + F);
  CHECK(fs::exists(o.out_dir / "attributions" / "fragments.tsv"));

  ExplainOptions all = o;
  all.cell.clear();
  all.all_cells = true;
  all.max_cells = 3;
  all.internals = false;
  all.out_dir = tmp.path() / "all";
  run_explain(all);
  const auto agg = test::read_pair_table(all.out_dir / "attributions" / "pathways.tsv", &header);
  CHECK(agg.size() == P);
  CHECK(header.size() == 2 + 2 * 5);
  CHECK(header[2] == "attention_mean");
  CHECK(header[3] == "attention_mean_abs");
  std::ifstream summary(all.out_dir / "attributions" / "summary.json");
  const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"pairs\": 3") != std::string::npos);

  all.all_cells = false;
  CHECK(error_of([&] { run_explain(all); }).find("give either --cell ID or --all-cells") != std::string::npos);
  all.all_cells = true;
  all.internals = true;
  CHECK(error_of([&] { run_explain(all); }).find("--internals is for one pair") != std::string::npos);
}

TEST_CASE("analyze: every table and a self-contained report.html from the tiny run's test pairs") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("analyze");
  AnalyzeOptions o;
  o.run_dir = t.run;
  o.out_dir = tmp.path() / "out";
  o.cells_per_drug = 3;
  o.ig_steps = 2;
  o.permutations = 20;
  const nlohmann::json summary = run_analyze(o);
  CHECK(summary.at("fold") == 0);
  CHECK(summary.at("drugs").get<int>() == 12);
  for (const char* f : {"report.html", "summary.json", "target_map.tsv", "drug_pathway_occlusion.tsv", "concordance.tsv",
                        "concordance_drugs.tsv", "drug_modes.tsv", "clustering.tsv"})
    CHECK_MESSAGE(fs::exists(o.out_dir / f), f);
  const double p = summary.at("concordance").at("class").at("integrated_gradients").at("p").get<double>();
  CHECK(p > 0.0);
  CHECK(p <= 1.0);
  TsvReader modes(o.out_dir / "drug_modes.tsv");
  const int share = modes.column("context_share"), cells = modes.column("cells");
  int rows = 0;
  while (modes.next()) {
    ++rows;
    CHECK(modes.finite_double(share) >= 0.0);
    CHECK(modes.finite_double(share) <= 1.0);
    CHECK(modes.finite_double(cells) <= 3.0);
  }
  CHECK(rows == 12);
  std::ifstream in(o.out_dir / "report.html");
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<svg") != std::string::npos);
  for (const char* external : {"<script", " src=", " href=", "<link"}) CHECK_MESSAGE(html.find(external) == std::string::npos, external);
  CHECK(html.find("Target concordance") != std::string::npos);

  o.run_dir = tmp.path();
  CHECK(error_of([&] { run_analyze(o); }).find("is not a dispa run") != std::string::npos);
}

TEST_CASE("attention SVG: diverging colours by sign, one cell per value, labels escaped") {
  CHECK(diverging_colour(0.0) == "#f7f7f7");
  CHECK(diverging_colour(1.0) == "#b2182b");
  CHECK(diverging_colour(-1.0) == "#2166ac");
  CHECK(diverging_colour(-5.0) == "#2166ac");  // clamped
  HeatmapSvg h;
  h.row_labels = {"a & b", "c"};
  h.column_labels = {"[1*]C<O", "N", "O"};
  h.values = {0.5f, -0.25f, 0.0f, 0.1f, 0.2f, -0.5f};
  const std::string s = heatmap_svg(h);
  size_t cells = 0;
  for (size_t at = s.find("<rect x="); at != std::string::npos; at = s.find("<rect x=", at + 1))
    if (s.find("<title>", at) < s.find("/>", at)) ++cells;
  CHECK(cells == 6);
  CHECK(s.find("a &amp; b") != std::string::npos);
  CHECK(s.find("[1*]C&lt;O") != std::string::npos);
  CHECK(s.find(diverging_colour(1.0)) != std::string::npos);   // 0.5 is the max |value|
  CHECK(s.find(diverging_colour(-1.0)) != std::string::npos);  // -0.5
  h.values.pop_back();
  CHECK_THROWS_AS(heatmap_svg(h), Error);
  BarChartSvg b;
  b.labels = {"x", "y"};
  b.values = {0.3f, -0.1f};
  CHECK(bar_chart_svg(b).find("</svg>") != std::string::npos);
}

TEST_CASE("explain: a negative or zero --top / --bars is an error naming the flag and the value") {
  ExplainOptions o;
  o.run_dir = "unused";
  o.cell = "ACH-000030";
  o.drug = "Olaparib";
  o.out_dir = "unused";
  o.top_k = -3;
  std::string e = error_of([&] { run_explain(o); });
  CHECK_MESSAGE(e.find("--top must be at least 1") != std::string::npos, e);
  CHECK_MESSAGE(e.find("got -3") != std::string::npos, e);
  o.top_k = 10;
  o.top_bars = 0;
  e = error_of([&] { run_explain(o); });
  CHECK_MESSAGE(e.find("--bars must be at least 1") != std::string::npos, e);
}
