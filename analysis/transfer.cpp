// `dispa transfer` (see transfer.h): reading, matching, pooling, harmonising, predicting, writing.
#include "analysis/transfer.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/spatial_map.h"
#include "analysis/transfer_report.h"
#include "bio/tenx_positions.h"
#include "engine/log.h"
#include "train/metrics.h"
#include "train/predict.h"
#include "train/svg_text.h"

namespace dispa::analysis {
namespace fs = std::filesystem;

Pooling parse_pooling(const std::string& text) {
  if (text == "none") return Pooling::none;
  if (text == "knn") return Pooling::knn;
  if (text == "pseudobulk") return Pooling::pseudobulk;
  fail("unknown pooling '{}' (expected none, knn or pseudobulk)", text);
}

namespace {

const char* pooling_name(Pooling p) { return p == Pooling::none ? "none" : p == Pooling::knn ? "knn" : "pseudobulk"; }

// Running summary of one series of predictions (sample sd).
struct Accumulator {
  int64_t n = 0;
  double sum = 0, sumsq = 0, min = INFINITY, max = -INFINITY;
  void add(double v) {
    ++n;
    sum += v;
    sumsq += v * v;
    min = std::min(min, v);
    max = std::max(max, v);
  }
  double mean() const { return n ? sum / double(n) : NAN; }
  double sd() const { return n > 1 ? std::sqrt(std::max(0.0, (sumsq - sum * sum / double(n)) / double(n - 1))) : NAN; }
};

std::string fmt_or_na(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "NA"; }

// Drug tables prepared once; each batch of units is predicted for every drug by every model.
class UnitPredictor {
 public:
  UnitPredictor(train::TrainedRun& run, const std::vector<chem::DrugRecord>& drugs, const TransferOptions& o)
      : run_(run), options_(o) {
    const int64_t G = int64_t(run.genes().size());
    // A zero row with exactly the model's genes: prepare() then only featurises the drugs.
    const bio::ExpressionMatrix probe({"probe"}, run.genes(), Tensor::zeros({1, G}), "transfer");
    inputs_ = run.prepare(probe, drugs, o.invalid_drugs, o.drugs.string());
    inputs_.dataset.to(o.device);
  }
  const std::vector<std::string>& drug_names() const { return inputs_.dataset.drug_names; }
  const std::vector<std::string>& skipped_drugs() const { return inputs_.skipped_drugs; }

  // rows: [n, G] on the training scale. Returns [model][unit * D + drug].
  std::vector<std::vector<float>> predict(const std::vector<std::string>& ids, const std::vector<float>& rows) {
    train::FeaturizedDataset& ds = inputs_.dataset;
    const int64_t n = int64_t(ids.size()), G = int64_t(run_.genes().size()), D = int64_t(ds.drug_names.size());
    ds.cell_ids = ids;
    ds.cell_expression = Tensor::from_vector(rows, {n, G}).to(options_.device);
    ds.pairs.clear();
    for (int64_t c = 0; c < n; ++c)
      for (int64_t d = 0; d < D; ++d) ds.pairs.push_back({int32_t(c), int32_t(d), 0.0f});
    return train::predict_with_run(run_, ds, options_.batch_size);
  }

 private:
  train::TrainedRun& run_;
  const TransferOptions& options_;
  train::InferenceInputs inputs_;
};

// predictions.tsv, written as batches arrive, and the summaries kept alongside.
class PredictionSink {
 public:
  PredictionSink(const fs::path& file, const std::string& id_header, std::vector<std::string> drugs, size_t models,
                 size_t labels, int64_t keep_units)
      : file_(file), tmp_(file.string() + ".tmp"), out_(tmp_), drugs_(std::move(drugs)), ensemble_(models > 1),
        by_drug_(drugs_.size()), by_label_(labels * drugs_.size()) {
    DISPA_CHECK(out_.good(), "cannot write '{}'", tmp_.string());
    out_ << id_header << (ensemble_ ? "\tdrug_name\tprediction\tprediction_sd\n" : "\tdrug_name\tprediction\n");
    if (keep_units > 0) all_.assign(size_t(keep_units) * drugs_.size(), NAN);
  }
  // Units [first, first + ids.size()); label[i] = label index of unit i or -1.
  void add(int64_t first, const std::vector<std::string>& ids, const std::vector<int>& label,
           const std::vector<std::vector<float>>& per_model) {
    const size_t D = drugs_.size(), models = per_model.size();
    for (size_t u = 0; u < ids.size(); ++u)
      for (size_t d = 0; d < D; ++d) {
        const size_t i = u * D + d;
        double mean = 0, ss = 0;
        for (size_t m = 0; m < models; ++m) mean += per_model[m][i];
        mean /= double(models);
        for (size_t m = 0; m < models; ++m) ss += (per_model[m][i] - mean) * (per_model[m][i] - mean);
        out_ << ids[u] << '\t' << drugs_[d] << '\t' << fmt::format("{:.6f}", mean);
        if (ensemble_) out_ << '\t' << fmt::format("{:.6f}", std::sqrt(ss / double(models - 1)));
        out_ << '\n';
        by_drug_[d].add(mean);
        if (label[u] >= 0) by_label_[size_t(label[u]) * D + d].add(mean);
        if (!all_.empty()) all_[size_t(first + int64_t(u)) * D + d] = float(mean);
      }
  }
  void close() {
    out_.flush();
    DISPA_CHECK(out_.good(), "error writing '{}'", tmp_.string());
    out_.close();
    fs::rename(tmp_, file_);
  }
  const std::vector<std::string>& drugs() const { return drugs_; }
  const Accumulator& drug(size_t d) const { return by_drug_[d]; }
  const Accumulator& label(size_t l, size_t d) const { return by_label_[l * drugs_.size() + d]; }
  // Predictions of drug d for every unit (keep_units > 0 only).
  std::vector<float> column(size_t d) const {
    std::vector<float> out;
    for (size_t u = 0; u < all_.size() / drugs_.size(); ++u) out.push_back(all_[u * drugs_.size() + d]);
    return out;
  }

 private:
  fs::path file_, tmp_;
  std::ofstream out_;
  std::vector<std::string> drugs_;
  bool ensemble_;
  std::vector<Accumulator> by_drug_, by_label_;
  std::vector<float> all_;
};

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out.empty() ? "drug" : out;
}

}  // namespace

nlohmann::json run_transfer(const TransferOptions& o) {
  DISPA_CHECK(!o.out.empty(), "transfer: --out DIR is required");
  DISPA_CHECK(!o.counts.empty() && !o.drugs.empty(), "transfer: --counts and --drugs are required");
  DISPA_CHECK(o.batch_cells > 0 && o.batch_size > 0, "transfer: batch sizes must be positive");
  DISPA_CHECK(o.pooling != Pooling::pseudobulk || !o.labels.empty(), "transfer: --pool pseudobulk needs --labels");
  DISPA_CHECK(o.pooling != Pooling::knn || !o.positions.empty(), "transfer: --pool knn needs --positions");
  fs::create_directories(o.out);
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) {
    logging::warn("{}", w);
    warnings.push_back(w);
  };

  train::TrainedRun run = train::TrainedRun::load(o.run_dir, o.fold);
  run.to(o.device);
  const std::vector<chem::DrugRecord> drug_records = train::read_drugs_for_inference(o.drugs);
  std::unique_ptr<bio::CountSource> source = bio::open_counts(o.counts, o.read);
  logging::info("{}", source->describe());
  const std::vector<std::string>& barcodes = source->barcodes();
  const int64_t N = source->n_cells(), G = int64_t(run.genes().size());

  // Genes.
  bio::GeneAliasTable aliases;
  if (!o.aliases.empty()) aliases.add_file(o.aliases);
  const bio::GeneMatch match = bio::match_genes(run.genes(), source->features(), aliases);
  if (match.matched == 0) {
    std::vector<std::string> have;
    for (size_t i = 0; i < source->features().size() && have.size() < 4; ++i) have.push_back(source->features()[i].symbol);
    fail("{}: none of the run's {} genes is among its {} features (the data set has e.g. {}; the model wants e.g. {}, "
         "{}): are the features gene symbols of human genes?",
         source->source(), G, source->n_features(), fmt::join(have, ", "), run.genes().front(), run.genes().back());
  }
  std::vector<char> matched(size_t(G), 0), in_pathway(size_t(G), 0);
  for (int64_t g = 0; g < G; ++g) matched[size_t(g)] = !match.features_of_gene[size_t(g)].empty();
  for (int32_t g : run.pathway_gene_indices().to_vector<int32_t>())
    if (g >= 0) in_pathway[size_t(g)] = 1;

  std::optional<bio::SpotPositions> positions;
  if (!o.positions.empty()) positions = bio::read_tissue_positions(o.positions, barcodes);
  std::optional<bio::CellLabels> labels;
  if (!o.labels.empty()) {
    labels = bio::read_cell_labels(o.labels, barcodes);
    logging::info("{}: {} labels over {} cells ({} cells unlabelled, {} rows for other barcodes ignored)",
                  o.labels.string(), labels->names.size(), N - labels->unlabelled, labels->unlabelled, labels->ignored);
  }
  std::vector<int> label_of(size_t(N), -1);
  if (labels) {
    std::unordered_map<std::string, int> index;
    for (size_t i = 0; i < labels->names.size(); ++i) index.emplace(labels->names[i], int(i));
    for (int64_t c = 0; c < N; ++c)
      if (!labels->label[size_t(c)].empty()) label_of[size_t(c)] = index.at(labels->label[size_t(c)]);
  }

  HarmoniseOptions h = o.harmonise;
  if (h.standardize == Standardize::automatic)
    h.standardize = o.pooling == Pooling::pseudobulk ? Standardize::cells : Standardize::units;
  const GeneGatherer gatherer(match, source->features(), source->source());
  const bool need_counts = h.target_sum > 0 || h.log1p;
  std::vector<int64_t> detected(size_t(G), 0);  // cells with a count > 0, per model gene
  auto transform = [&](float* row, double library) {
    normalise_library(row, G, library, h.target_sum);
    log_transform(row, G, h.log1p);
  };

  UnitPredictor predictor(run, drug_records, o);
  const bool pseudobulk = o.pooling == Pooling::pseudobulk;
  const int64_t units = pseudobulk ? int64_t(labels->names.size()) : N;
  const bool keep_all = positions && !pseudobulk;
  PredictionSink sink(o.out / "predictions.tsv", pseudobulk ? "label" : "barcode", predictor.drug_names(), run.n_models(),
                      labels ? labels->names.size() : 0, keep_all ? units : 0);
  std::vector<std::string> unit_ids = pseudobulk ? labels->names : barcodes;
  std::vector<int> unit_label(size_t(units), -1);
  for (int64_t u = 0; u < units; ++u) unit_label[size_t(u)] = pseudobulk ? int(u) : label_of[size_t(u)];
  std::vector<int64_t> pooled_cells(pseudobulk ? size_t(units) : 0, 0);

  std::vector<float> counts;
  std::vector<double> library;
  GeneStats cell_stats(G), unit_stats(G);
  const bool standardize = h.standardize != Standardize::none;

  // Predicts units [first, first + n) whose harmonised rows (before standardisation) are `rows`.
  auto predict_rows = [&](int64_t first, std::vector<float>& rows, const GeneStats& stats) {
    const int64_t n = int64_t(rows.size()) / G;
    for (int64_t i = 0; i < n; ++i) standardise(rows.data() + i * G, stats, matched, standardize);
    const std::vector<std::string> ids(unit_ids.begin() + first, unit_ids.begin() + first + n);
    const std::vector<int> lab(unit_label.begin() + first, unit_label.begin() + first + n);
    sink.add(first, ids, lab, predictor.predict(ids, rows));
  };
  auto count_detected = [&](int64_t n) {
    for (int64_t c = 0; c < n; ++c)
      for (int64_t g = 0; g < G; ++g) detected[size_t(g)] += counts[size_t(c * G + g)] > 0;
  };

  if (o.pooling == Pooling::none) {
    // Two streaming passes: gene statistics, then harmonised batches straight into the models.
    logging::Progress read("statistics", N);
    source->scan(o.batch_cells, [&](const bio::CountBatch& b) {
      gatherer.gather(b, counts, library, barcodes, need_counts);
      count_detected(b.n_cells());
      for (int64_t c = 0; c < b.n_cells(); ++c) {
        transform(counts.data() + c * G, library[size_t(c)]);
        unit_stats.add(counts.data() + c * G);
      }
      read.update(b.first_cell + b.n_cells());
    });
    read.finish();
    logging::Progress progress("transfer", N);
    source->scan(o.batch_cells, [&](const bio::CountBatch& b) {
      gatherer.gather(b, counts, library, barcodes, need_counts);
      for (int64_t c = 0; c < b.n_cells(); ++c) transform(counts.data() + c * G, library[size_t(c)]);
      predict_rows(b.first_cell, counts, unit_stats);
      progress.update(b.first_cell + b.n_cells());
    });
    progress.finish();
  } else {
    // Pooled units are held in memory: [units, G] (pseudobulk: labels; knn: spots).
    std::vector<double> pooled(size_t(units * G), 0.0), pooled_library(size_t(units), 0.0);
    std::vector<float> spot_rows(pseudobulk ? 0 : size_t(N * G));
    logging::Progress read("reading", N);
    source->scan(o.batch_cells, [&](const bio::CountBatch& b) {
      gatherer.gather(b, counts, library, barcodes, need_counts);
      count_detected(b.n_cells());
      for (int64_t c = 0; c < b.n_cells(); ++c) {
        const int64_t cell = b.first_cell + c;
        float* row = counts.data() + c * G;
        if (pseudobulk && label_of[size_t(cell)] >= 0) {
          const size_t u = size_t(label_of[size_t(cell)]);
          for (int64_t g = 0; g < G; ++g) pooled[u * size_t(G) + size_t(g)] += row[g];
          pooled_library[u] += library[size_t(c)];
          ++pooled_cells[u];
        }
        normalise_library(row, G, library[size_t(c)], h.target_sum);
        if (!pseudobulk) std::copy_n(row, G, spot_rows.begin() + cell * G);
        if (h.standardize == Standardize::cells) {
          log_transform(row, G, h.log1p);
          cell_stats.add(row);
        }
      }
      read.update(b.first_cell + b.n_cells());
    });
    read.finish();
    std::vector<float> rows(size_t(units * G));
    if (pseudobulk) {
      for (int64_t u = 0; u < units; ++u) {
        for (int64_t g = 0; g < G; ++g) rows[size_t(u * G + g)] = float(pooled[size_t(u * G + g)]);
        transform(rows.data() + u * G, pooled_library[size_t(u)]);
      }
      logging::info("pseudobulk: {} labels, cells per label {}", units, fmt::join(pooled_cells, ", "));
    } else {
      const auto neighbours = nearest_neighbours(positions->x, positions->y, o.knn);
      for (int64_t u = 0; u < units; ++u) {
        float* out = rows.data() + u * G;
        std::copy_n(spot_rows.begin() + u * G, G, out);
        for (int32_t v : neighbours[size_t(u)])
          for (int64_t g = 0; g < G; ++g) out[g] += spot_rows[size_t(v) * size_t(G) + size_t(g)];
        const float k = float(neighbours[size_t(u)].size() + 1);
        for (int64_t g = 0; g < G; ++g) out[g] /= k;
        log_transform(out, G, h.log1p);
      }
      logging::info("k-nearest-neighbour smoothing: each spot averaged with its {} nearest spots", o.knn);
    }
    for (int64_t u = 0; u < units; ++u) unit_stats.add(rows.data() + u * G);
    const GeneStats& stats = h.standardize == Standardize::cells ? cell_stats : unit_stats;
    logging::Progress progress("transfer", units);
    for (int64_t first = 0; first < units; first += o.batch_cells) {
      const int64_t n = std::min(o.batch_cells, units - first);
      std::vector<float> batch(rows.begin() + first * G, rows.begin() + (first + n) * G);
      predict_rows(first, batch, stats);
      progress.update(first + n);
    }
    progress.finish();
  }
  sink.close();

  // Coverage, now that detection is known.
  int64_t pathway_genes = 0, pathway_found = 0, pathway_detected = 0, found_detected = 0;
  for (int64_t g = 0; g < G; ++g) {
    const bool det = matched[size_t(g)] && detected[size_t(g)] > 0;
    found_detected += det;
    if (!in_pathway[size_t(g)]) continue;
    ++pathway_genes;
    pathway_found += matched[size_t(g)];
    pathway_detected += det;
  }
  const double coverage = pathway_genes ? double(pathway_detected) / double(pathway_genes) : 0.0;
  const std::string coverage_line = fmt::format(
      "genes: {} of the model's {} found ({} under another symbol{}{}), {} detected (a count > 0 somewhere); pathway "
      "genes: {} of {} found, {} detected ({:.1f}%)",
      match.matched, G, match.matched_via_alias, match.alias_examples.empty() ? "" : ": ",
      fmt::join(match.alias_examples, ", "), found_detected, pathway_found, pathway_genes, pathway_detected,
      100.0 * coverage);
  logging::info("{}", coverage_line);
  if (coverage < o.low_coverage)
    warn(fmt::format("only {:.1f}% of the model's {} pathway genes are detected in {} (threshold {:.0f}%): missing genes "
                     "are set to the training mean, so predictions lean on fewer genes than the model was trained on",
                     100.0 * coverage, pathway_genes, source->source(), 100.0 * o.low_coverage));
  if (positions && pseudobulk) warn("positions are not used with --pool pseudobulk (units are labels, not spots): no maps");

  // Tables.
  const std::vector<std::string>& drugs = sink.drugs();
  std::vector<size_t> order(drugs.size());
  for (size_t d = 0; d < order.size(); ++d) order[d] = d;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sink.drug(a).mean() < sink.drug(b).mean(); });
  {
    std::string t = "drug_name\tn\tmean_prediction\tsd\tmin\tmax\n";
    for (size_t d : order)
      t += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", drugs[d], sink.drug(d).n, fmt_or_na(sink.drug(d).mean()),
                       fmt_or_na(sink.drug(d).sd()), fmt_or_na(sink.drug(d).min), fmt_or_na(sink.drug(d).max));
    train::svg::write_file(o.out / "summary_by_drug.tsv", t);
  }
  std::vector<std::string> files = {"predictions.tsv", "summary_by_drug.tsv"};
  TransferReport report;
  if (labels) {
    std::vector<int64_t> cells_per_label(labels->names.size(), 0);
    for (int l : label_of)
      if (l >= 0) ++cells_per_label[size_t(l)];
    std::string t = "label\tdrug_name\tn\tmean_prediction\tsd\n";
    for (size_t l = 0; l < labels->names.size(); ++l)
      for (size_t d = 0; d < drugs.size(); ++d) {
        const Accumulator& a = sink.label(l, d);
        t += fmt::format("{}\t{}\t{}\t{}\t{}\n", labels->names[l], drugs[d], pseudobulk ? cells_per_label[l] : a.n,
                         fmt_or_na(a.mean()), pseudobulk ? "NA" : fmt_or_na(a.sd()));
      }
    train::svg::write_file(o.out / "summary_by_label.tsv", t);
    files.push_back("summary_by_label.tsv");
    report.labels = labels->names;
    for (size_t d : order) {
      report.label_means.emplace_back();
      for (size_t l = 0; l < labels->names.size(); ++l) report.label_means.back().push_back(sink.label(l, d).mean());
    }
  }

  // Maps.
  nlohmann::json maps = nlohmann::json::array();
  if (keep_all) {
    std::vector<size_t> chosen;
    if (!o.map_drugs.empty()) {
      for (const std::string& name : o.map_drugs) {
        const auto it = std::find(drugs.begin(), drugs.end(), name);
        DISPA_CHECK(it != drugs.end(), "transfer: --map-drugs names '{}', which is not a drug of {}", name, o.drugs.string());
        chosen.push_back(size_t(it - drugs.begin()));
      }
    } else {
      std::vector<size_t> by_sd(drugs.size());
      for (size_t d = 0; d < by_sd.size(); ++d) by_sd[d] = d;
      std::stable_sort(by_sd.begin(), by_sd.end(), [&](size_t a, size_t b) { return sink.drug(a).sd() > sink.drug(b).sd(); });
      by_sd.resize(std::min(by_sd.size(), size_t(std::max(0, o.auto_maps))));
      chosen = by_sd;
    }
    fs::create_directories(o.out / "maps");
    for (size_t d : chosen) {
      SpatialMap m;
      m.title = fmt::format("{}: predicted ln IC50", drugs[d]);
      m.subtitle = fmt::format("{} spots of {}; mean {:.2f}, sd {:.2f}", units, o.title.empty() ? o.counts.string() : o.title,
                               sink.drug(d).mean(), sink.drug(d).sd());
      m.ids = barcodes;
      m.x = positions->x;
      m.y = positions->y;
      m.values = sink.column(d);
      const std::string name = slug(drugs[d]);
      const std::string svg = spatial_map_svg(m);
      train::svg::write_file(o.out / "maps" / (name + ".svg"), svg);
      write_png(o.out / "maps" / (name + ".png"), spatial_map_image(m));
      report.maps.push_back({drugs[d], svg, "maps/" + name + ".png"});
      maps.push_back({{"drug", drugs[d]}, {"svg", "maps/" + name + ".svg"}, {"png", "maps/" + name + ".png"}});
      files.push_back("maps/" + name + ".svg");
      files.push_back("maps/" + name + ".png");
    }
  }

  // Report and transfer.json.
  const std::string harmonise_line = fmt::format(
      "{}{}standardised per gene over {}", h.target_sum > 0 ? fmt::format("library size scaled to {:g}, ", h.target_sum) : "",
      h.log1p ? "log1p, " : "", h.standardize == Standardize::none ? "nothing (as given)" : standardize_name(h.standardize));
  report.title = o.title.empty() ? fmt::format("DiSPA zero-shot transfer: {}", o.counts.filename().string()) : o.title;
  report.facts = {{"run", fmt::format("{} ({} model{})", o.run_dir.string(), run.n_models(), run.n_models() > 1 ? "s" : "")},
                  {"counts", source->describe()},
                  {"units predicted", fmt::format("{} ({})", units, pseudobulk ? "pseudobulk per label" : o.pooling == Pooling::knn ? fmt::format("spots, smoothed over {} nearest neighbours", o.knn) : "cells / spots")},
                  {"harmonisation", harmonise_line},
                  {"gene coverage", coverage_line},
                  {"drugs", fmt::format("{} ({})", drugs.size(), o.drugs.string())}};
  if (labels) report.facts.push_back({"labels", fmt::format("{} from {}", labels->names.size(), o.labels.string())});
  report.warnings = warnings;
  for (size_t d : order) {
    const Accumulator& a = sink.drug(d);
    report.drugs.push_back({drugs[d], a.n, a.mean(), a.sd(), a.min, a.max});
  }
  report.notes = {
      "The model was trained on bulk expression of cancer cell lines; a spot or a cell is a different object (a tissue "
      "mixture of tumour, stroma and immune cells, or one sparse cell), so predictions are extrapolations.",
      "Per-gene standardisation within this data set centres it on the training mean: predictions rank units within the "
      "data set; they do not say how sensitive the tissue is in absolute terms.",
      "There is no measured response for spots or single cells: nothing on this page is validated against ground truth."};
  train::svg::write_file(o.out / "report.html", transfer_report_html(report));
  files.push_back("report.html");
  files.push_back("transfer.json");

  nlohmann::json j = {
      {"format", "dispa transfer 1"},
      {"run", o.run_dir.string()},
      {"folds", [&] { std::vector<int> f; for (size_t m = 0; m < run.n_models(); ++m) f.push_back(run.fold(m)); return f; }()},
      {"counts", o.counts.string()},
      {"counts_format", source->format()},
      {"cells", N},
      {"features", source->n_features()},
      {"units", units},
      {"pooling", pooling_name(o.pooling)},
      {"harmonise", {{"target_sum", h.target_sum}, {"log1p", h.log1p}, {"standardize", standardize_name(h.standardize)}}},
      {"genes", {{"model", G}, {"found", match.matched}, {"found_via_alias", match.matched_via_alias},
                 {"alias_examples", match.alias_examples}, {"detected", found_detected}, {"pathway_genes", pathway_genes},
                 {"pathway_found", pathway_found}, {"pathway_detected", pathway_detected}, {"pathway_coverage", coverage}}},
      {"drugs", drugs.size()},
      {"skipped_drugs", predictor.skipped_drugs()},
      {"maps", maps},
      {"files", files},
      {"warnings", warnings}};
  if (pseudobulk) j["cells_per_label"] = pooled_cells;
  if (labels) j["labels"] = {{"names", labels->names}, {"unlabelled", labels->unlabelled}, {"ignored", labels->ignored}};
  if (positions) j["positions"] = {{"file", o.positions.string()}, {"ignored", positions->ignored}};
  train::write_json_file(o.out / "transfer.json", j);
  logging::info("wrote {} predictions ({} units x {} drugs) and {} files to {}", units * int64_t(drugs.size()), units,
                drugs.size(), files.size(), o.out.string());
  return j;
}

}  // namespace dispa::analysis
