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


// What is read and matched before harmonising.
struct Inputs {
  std::unique_ptr<bio::CountSource> source;
  bio::GeneMatch match;
  std::vector<char> matched, in_pathway;   // per model gene
  std::optional<bio::SpotPositions> positions;
  std::optional<bio::CellLabels> labels;
  std::vector<int> label_of;               // per cell: label index or -1
};

Inputs read_inputs(const TransferOptions& o, const train::TrainedRun& run) {
  Inputs in;
  in.source = bio::open_counts(o.counts, o.read);
  logging::info("{}", in.source->describe());
  const bio::CountSource& s = *in.source;
  const int64_t N = s.n_cells(), G = int64_t(run.genes().size());
  bio::GeneAliasTable aliases;
  if (!o.aliases.empty()) aliases.add_file(o.aliases);
  in.match = bio::match_genes(run.genes(), s.features(), aliases);
  if (in.match.matched == 0) {
    std::vector<std::string> have;
    for (size_t i = 0; i < s.features().size() && have.size() < 4; ++i) have.push_back(s.features()[i].symbol);
    fail("{}: none of the run's {} genes is among its {} features (the data set has e.g. {}; the model wants e.g. {}, "
         "{}): are the features gene symbols of human genes?",
         s.source(), G, s.n_features(), fmt::join(have, ", "), run.genes().front(), run.genes().back());
  }
  in.matched.assign(size_t(G), 0);
  in.in_pathway.assign(size_t(G), 0);
  for (int64_t g = 0; g < G; ++g) in.matched[size_t(g)] = !in.match.features_of_gene[size_t(g)].empty();
  for (int32_t g : run.pathway_gene_indices().to_vector<int32_t>())
    if (g >= 0) in.in_pathway[size_t(g)] = 1;
  if (!o.positions.empty()) in.positions = bio::read_tissue_positions(o.positions, s.barcodes());
  in.label_of.assign(size_t(N), -1);
  if (!o.labels.empty()) {
    in.labels = bio::read_cell_labels(o.labels, s.barcodes());
    const bio::CellLabels& l = *in.labels;
    logging::info("{}: {} labels over {} cells ({} cells unlabelled, {} rows for other barcodes ignored)",
                  o.labels.string(), l.names.size(), N - l.unlabelled, l.unlabelled, l.ignored);
    std::unordered_map<std::string, int> index;
    for (size_t i = 0; i < l.names.size(); ++i) index.emplace(l.names[i], int(i));
    for (int64_t c = 0; c < N; ++c)
      if (!l.label[size_t(c)].empty()) in.label_of[size_t(c)] = index.at(l.label[size_t(c)]);
  }
  return in;
}

// Harmonisation and prediction of every unit into the sink; `detected` counts, per model gene,
// the cells with a count > 0; `pooled_cells` (pseudobulk) the cells of each label.
class UnitPipeline {
 public:
  UnitPipeline(const TransferOptions& o, const HarmoniseOptions& h, Inputs& in, UnitPredictor& predictor,
               PredictionSink& sink, std::vector<std::string> unit_ids, std::vector<int> unit_label, int64_t G)
      : o_(o), h_(h), in_(in), predictor_(predictor), sink_(sink), unit_ids_(std::move(unit_ids)),
        unit_label_(std::move(unit_label)), G_(G),
        gatherer_(in.match, in.source->features(), in.source->source()), detected_(size_t(G), 0),
        cell_stats_(G), unit_stats_(G) {}

  // No pooling: two streaming passes (gene statistics, then harmonised batches into the models).
  void run_streamed() {
    bio::CountSource& s = *in_.source;
    logging::Progress read("statistics", s.n_cells());
    s.scan(o_.batch_cells, [&](const bio::CountBatch& b) {
      gather(b, true);
      for (int64_t c = 0; c < b.n_cells(); ++c) {
        transform(counts_.data() + c * G_, library_[size_t(c)]);
        unit_stats_.add(counts_.data() + c * G_);
      }
      read.update(b.first_cell + b.n_cells());
    });
    read.finish();
    logging::Progress progress("transfer", s.n_cells());
    s.scan(o_.batch_cells, [&](const bio::CountBatch& b) {
      gather(b, false);
      for (int64_t c = 0; c < b.n_cells(); ++c) transform(counts_.data() + c * G_, library_[size_t(c)]);
      predict(b.first_cell, counts_, unit_stats_);
      progress.update(b.first_cell + b.n_cells());
    });
    progress.finish();
  }

  // Pooled units ([units, G] in memory): pseudobulk per label, or kNN-smoothed spots.
  void run_pooled(bool pseudobulk) {
    bio::CountSource& s = *in_.source;
    const int64_t units = int64_t(unit_ids_.size()), N = s.n_cells();
    std::vector<double> pooled(pseudobulk ? size_t(units * G_) : 0, 0.0), pooled_library(size_t(units), 0.0);
    std::vector<float> spot_rows(pseudobulk ? 0 : size_t(N * G_));
    if (pseudobulk) pooled_cells_.assign(size_t(units), 0);
    logging::Progress read("reading", N);
    s.scan(o_.batch_cells, [&](const bio::CountBatch& b) {
      gather(b, true);
      for (int64_t c = 0; c < b.n_cells(); ++c) {
        const int64_t cell = b.first_cell + c;
        float* row = counts_.data() + c * G_;
        if (pseudobulk && in_.label_of[size_t(cell)] >= 0) {  // raw counts add up per label
          const size_t u = size_t(in_.label_of[size_t(cell)]);
          for (int64_t g = 0; g < G_; ++g) pooled[u * size_t(G_) + size_t(g)] += row[g];
          pooled_library[u] += library_[size_t(c)];
          ++pooled_cells_[u];
        }
        normalise_library(row, G_, library_[size_t(c)], h_.target_sum);
        if (!pseudobulk) std::copy_n(row, G_, spot_rows.begin() + cell * G_);
        if (h_.standardize == Standardize::cells) {
          log_transform(row, G_, h_.log1p);
          cell_stats_.add(row);
        }
      }
      read.update(b.first_cell + b.n_cells());
    });
    read.finish();
    std::vector<float> rows(size_t(units * G_));
    if (pseudobulk) {
      for (int64_t u = 0; u < units; ++u) {
        for (int64_t g = 0; g < G_; ++g) rows[size_t(u * G_ + g)] = float(pooled[size_t(u * G_ + g)]);
        transform(rows.data() + u * G_, pooled_library[size_t(u)]);
      }
      logging::info("pseudobulk: {} labels, cells per label {}", units, fmt::join(pooled_cells_, ", "));
    } else {
      smooth(spot_rows, rows);
    }
    for (int64_t u = 0; u < units; ++u) unit_stats_.add(rows.data() + u * G_);
    const GeneStats& stats = h_.standardize == Standardize::cells ? cell_stats_ : unit_stats_;
    logging::Progress progress("transfer", units);
    for (int64_t first = 0; first < units; first += o_.batch_cells) {
      const int64_t n = std::min(o_.batch_cells, units - first);
      std::vector<float> batch(rows.begin() + first * G_, rows.begin() + (first + n) * G_);
      predict(first, batch, stats);
      progress.update(first + n);
    }
    progress.finish();
  }

  const std::vector<int64_t>& detected() const { return detected_; }
  const std::vector<int64_t>& pooled_cells() const { return pooled_cells_; }

 private:
  void gather(const bio::CountBatch& b, bool count_detected) {
    gatherer_.gather(b, counts_, library_, in_.source->barcodes(), h_.target_sum > 0 || h_.log1p);
    if (!count_detected) return;
    for (int64_t c = 0; c < b.n_cells(); ++c)
      for (int64_t g = 0; g < G_; ++g) detected_[size_t(g)] += counts_[size_t(c * G_ + g)] > 0;
  }
  void transform(float* row, double library) const {
    normalise_library(row, G_, library, h_.target_sum);
    log_transform(row, G_, h_.log1p);
  }
  // Each spot: the mean normalised profile of itself and its k nearest spots, then log1p.
  void smooth(const std::vector<float>& spot_rows, std::vector<float>& rows) const {
    const auto neighbours = nearest_neighbours(in_.positions->x, in_.positions->y, o_.knn);
    for (size_t u = 0; u < neighbours.size(); ++u) {
      float* out = rows.data() + int64_t(u) * G_;
      std::copy_n(spot_rows.begin() + int64_t(u) * G_, G_, out);
      for (int32_t v : neighbours[u])
        for (int64_t g = 0; g < G_; ++g) out[g] += spot_rows[size_t(v) * size_t(G_) + size_t(g)];
      const float k = float(neighbours[u].size() + 1);
      for (int64_t g = 0; g < G_; ++g) out[g] /= k;
      log_transform(out, G_, h_.log1p);
    }
    logging::info("k-nearest-neighbour smoothing: each spot averaged with its {} nearest spots", o_.knn);
  }
  // Units [first, first + n) whose harmonised rows (before standardisation) are `rows`.
  void predict(int64_t first, std::vector<float>& rows, const GeneStats& stats) {
    const int64_t n = int64_t(rows.size()) / G_;
    for (int64_t i = 0; i < n; ++i) standardise(rows.data() + i * G_, stats, in_.matched, h_.standardize != Standardize::none);
    const std::vector<std::string> ids(unit_ids_.begin() + first, unit_ids_.begin() + first + n);
    const std::vector<int> labels(unit_label_.begin() + first, unit_label_.begin() + first + n);
    sink_.add(first, ids, labels, predictor_.predict(ids, rows));
  }

  const TransferOptions& o_;
  const HarmoniseOptions& h_;
  Inputs& in_;
  UnitPredictor& predictor_;
  PredictionSink& sink_;
  std::vector<std::string> unit_ids_;
  std::vector<int> unit_label_;
  int64_t G_;
  GeneGatherer gatherer_;
  std::vector<int64_t> detected_, pooled_cells_;
  std::vector<float> counts_;
  std::vector<double> library_;
  GeneStats cell_stats_, unit_stats_;
};

struct Coverage {
  int64_t found_detected = 0, pathway_genes = 0, pathway_found = 0, pathway_detected = 0;
  double share = 0;  // pathway genes detected / pathway genes
  std::string line;
};

Coverage coverage_of(const Inputs& in, const std::vector<int64_t>& detected) {
  Coverage c;
  for (size_t g = 0; g < in.matched.size(); ++g) {
    const bool det = in.matched[g] && detected[g] > 0;
    c.found_detected += det;
    if (!in.in_pathway[g]) continue;
    ++c.pathway_genes;
    c.pathway_found += in.matched[g];
    c.pathway_detected += det;
  }
  c.share = c.pathway_genes ? double(c.pathway_detected) / double(c.pathway_genes) : 0.0;
  const bio::GeneMatch& m = in.match;
  c.line = fmt::format(
      "genes: {} of the model's {} found ({} under another symbol{}{}), {} detected (a count > 0 somewhere); pathway "
      "genes: {} of {} found, {} detected ({:.1f}%)",
      m.matched, in.matched.size(), m.matched_via_alias, m.alias_examples.empty() ? "" : ": ",
      fmt::join(m.alias_examples, ", "), c.found_detected, c.pathway_found, c.pathway_genes, c.pathway_detected,
      100.0 * c.share);
  return c;
}

// summary_by_drug.tsv and summary_by_label.tsv (and the report's tables); drugs by mean prediction.
void write_tables(const TransferOptions& o, const Inputs& in, const PredictionSink& sink, bool pseudobulk,
                  const std::vector<size_t>& order, TransferReport& report, std::vector<std::string>& files) {
  const std::vector<std::string>& drugs = sink.drugs();
  std::string t = "drug_name\tn\tmean_prediction\tsd\tmin\tmax\n";
  for (size_t d : order) {
    const Accumulator& a = sink.drug(d);
    t += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", drugs[d], a.n, fmt_or_na(a.mean()), fmt_or_na(a.sd()), fmt_or_na(a.min),
                     fmt_or_na(a.max));
    report.drugs.push_back({drugs[d], a.n, a.mean(), a.sd(), a.min, a.max});
  }
  train::svg::write_file(o.out / "summary_by_drug.tsv", t);
  files.push_back("summary_by_drug.tsv");
  if (!in.labels) return;
  const std::vector<std::string>& names = in.labels->names;
  std::vector<int64_t> cells_per_label(names.size(), 0);
  for (int l : in.label_of)
    if (l >= 0) ++cells_per_label[size_t(l)];
  t = "label\tdrug_name\tn\tmean_prediction\tsd\n";
  for (size_t l = 0; l < names.size(); ++l)
    for (size_t d = 0; d < drugs.size(); ++d) {
      const Accumulator& a = sink.label(l, d);
      t += fmt::format("{}\t{}\t{}\t{}\t{}\n", names[l], drugs[d], pseudobulk ? cells_per_label[l] : a.n,
                       fmt_or_na(a.mean()), pseudobulk ? "NA" : fmt_or_na(a.sd()));
    }
  train::svg::write_file(o.out / "summary_by_label.tsv", t);
  files.push_back("summary_by_label.tsv");
  report.labels = names;
  for (size_t d : order) {
    report.label_means.emplace_back();
    for (size_t l = 0; l < names.size(); ++l) report.label_means.back().push_back(sink.label(l, d).mean());
  }
}

// maps/<drug>.svg and .png of the requested drugs, or of the most variable ones.
nlohmann::json write_maps(const TransferOptions& o, const Inputs& in, const PredictionSink& sink, TransferReport& report,
                          std::vector<std::string>& files) {
  const std::vector<std::string>& drugs = sink.drugs();
  std::vector<size_t> chosen;
  if (!o.map_drugs.empty()) {
    for (const std::string& name : o.map_drugs) {
      const auto it = std::find(drugs.begin(), drugs.end(), name);
      DISPA_CHECK(it != drugs.end(), "transfer: --map-drugs names '{}', which is not a drug of {}", name, o.drugs.string());
      chosen.push_back(size_t(it - drugs.begin()));
    }
  } else {
    for (size_t d = 0; d < drugs.size(); ++d) chosen.push_back(d);
    std::stable_sort(chosen.begin(), chosen.end(), [&](size_t a, size_t b) { return sink.drug(a).sd() > sink.drug(b).sd(); });
    chosen.resize(std::min(chosen.size(), size_t(std::max(0, o.auto_maps))));
  }
  nlohmann::json maps = nlohmann::json::array();
  fs::create_directories(o.out / "maps");
  for (size_t d : chosen) {
    SpatialMap m;
    m.title = fmt::format("{}: predicted ln IC50", drugs[d]);
    m.subtitle = fmt::format("{} spots of {}; mean {:.2f}, sd {:.2f}", in.source->n_cells(),
                             o.title.empty() ? o.counts.string() : o.title, sink.drug(d).mean(), sink.drug(d).sd());
    m.ids = in.source->barcodes();
    m.x = in.positions->x;
    m.y = in.positions->y;
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
  return maps;
}

const char* kLimits[] = {
    "The model was trained on bulk expression of cancer cell lines; a spot or a cell is a different object (a tissue "
    "mixture of tumour, stroma and immune cells, or one sparse cell), so predictions are extrapolations.",
    "Per-gene standardisation within this data set centres it on the training mean: predictions rank units within the "
    "data set; they do not say how sensitive the tissue is in absolute terms.",
    "There is no measured response for spots or single cells: nothing on this page is validated against ground truth."};

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
  Inputs in = read_inputs(o, run);
  const int64_t N = in.source->n_cells(), G = int64_t(run.genes().size());
  HarmoniseOptions h = o.harmonise;
  if (h.standardize == Standardize::automatic)
    h.standardize = o.pooling == Pooling::pseudobulk ? Standardize::cells : Standardize::units;

  // Units: cells or spots, or (pseudobulk) labels.
  const bool pseudobulk = o.pooling == Pooling::pseudobulk;
  const std::vector<std::string> unit_ids = pseudobulk ? in.labels->names : in.source->barcodes();
  const int64_t units = int64_t(unit_ids.size());
  std::vector<int> unit_label(size_t(units), -1);
  for (int64_t u = 0; u < units; ++u) unit_label[size_t(u)] = pseudobulk ? int(u) : in.label_of[size_t(u)];
  const bool maps_wanted = in.positions && !pseudobulk;

  UnitPredictor predictor(run, drug_records, o);
  PredictionSink sink(o.out / "predictions.tsv", pseudobulk ? "label" : "barcode", predictor.drug_names(), run.n_models(),
                      in.labels ? in.labels->names.size() : 0, maps_wanted ? units : 0);
  UnitPipeline pipeline(o, h, in, predictor, sink, unit_ids, unit_label, G);
  if (o.pooling == Pooling::none)
    pipeline.run_streamed();
  else
    pipeline.run_pooled(pseudobulk);
  sink.close();

  const Coverage coverage = coverage_of(in, pipeline.detected());
  logging::info("{}", coverage.line);
  if (coverage.share < o.low_coverage)
    warn(fmt::format("only {:.1f}% of the model's {} pathway genes are detected in {} (threshold {:.0f}%): missing genes "
                     "are set to the training mean, so predictions lean on fewer genes than the model was trained on",
                     100.0 * coverage.share, coverage.pathway_genes, in.source->source(), 100.0 * o.low_coverage));
  if (in.positions && pseudobulk) warn("positions are not used with --pool pseudobulk (units are labels, not spots): no maps");

  // Files.
  std::vector<std::string> files = {"predictions.tsv"};
  std::vector<size_t> order(sink.drugs().size());
  for (size_t d = 0; d < order.size(); ++d) order[d] = d;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sink.drug(a).mean() < sink.drug(b).mean(); });
  TransferReport report;
  write_tables(o, in, sink, pseudobulk, order, report, files);
  const nlohmann::json maps = maps_wanted ? write_maps(o, in, sink, report, files) : nlohmann::json::array();

  const std::string harmonise_line = fmt::format(
      "{}{}standardised per gene over {}", h.target_sum > 0 ? fmt::format("library size scaled to {:g}, ", h.target_sum) : "",
      h.log1p ? "log1p, " : "", h.standardize == Standardize::none ? "nothing (as given)" : standardize_name(h.standardize));
  const std::string units_line =
      pseudobulk ? "pseudobulk per label"
                 : o.pooling == Pooling::knn ? fmt::format("spots, smoothed over {} nearest neighbours", o.knn) : "cells / spots";
  report.title = o.title.empty() ? fmt::format("DiSPA zero-shot transfer: {}", o.counts.filename().string()) : o.title;
  report.facts = {{"run", fmt::format("{} ({} model{})", o.run_dir.string(), run.n_models(), run.n_models() > 1 ? "s" : "")},
                  {"counts", in.source->describe()},
                  {"units predicted", fmt::format("{} ({})", units, units_line)},
                  {"harmonisation", harmonise_line},
                  {"gene coverage", coverage.line},
                  {"drugs", fmt::format("{} ({})", sink.drugs().size(), o.drugs.string())}};
  if (in.labels) report.facts.push_back({"labels", fmt::format("{} from {}", in.labels->names.size(), o.labels.string())});
  report.warnings = warnings;
  report.notes.assign(std::begin(kLimits), std::end(kLimits));
  train::svg::write_file(o.out / "report.html", transfer_report_html(report));
  files.push_back("report.html");
  files.push_back("transfer.json");

  std::vector<int> folds;
  for (size_t m = 0; m < run.n_models(); ++m) folds.push_back(run.fold(m));
  const bio::GeneMatch& match = in.match;
  nlohmann::json j = {
      {"format", "dispa transfer 1"},
      {"run", o.run_dir.string()},
      {"folds", folds},
      {"counts", o.counts.string()},
      {"counts_format", in.source->format()},
      {"cells", N},
      {"features", in.source->n_features()},
      {"units", units},
      {"pooling", pooling_name(o.pooling)},
      {"harmonise", {{"target_sum", h.target_sum}, {"log1p", h.log1p}, {"standardize", standardize_name(h.standardize)}}},
      {"genes", {{"model", G}, {"found", match.matched}, {"found_via_alias", match.matched_via_alias},
                 {"alias_examples", match.alias_examples}, {"detected", coverage.found_detected},
                 {"pathway_genes", coverage.pathway_genes}, {"pathway_found", coverage.pathway_found},
                 {"pathway_detected", coverage.pathway_detected}, {"pathway_coverage", coverage.share}}},
      {"drugs", sink.drugs().size()},
      {"skipped_drugs", predictor.skipped_drugs()},
      {"maps", maps},
      {"files", files},
      {"warnings", warnings}};
  if (pseudobulk) j["cells_per_label"] = pipeline.pooled_cells();
  if (in.labels) j["labels"] = {{"names", in.labels->names}, {"unlabelled", in.labels->unlabelled}, {"ignored", in.labels->ignored}};
  if (in.positions) j["positions"] = {{"file", o.positions.string()}, {"ignored", in.positions->ignored}};
  train::write_json_file(o.out / "transfer.json", j);
  logging::info("wrote {} predictions ({} units x {} drugs) and {} files to {}", units * int64_t(sink.drugs().size()),
                units, sink.drugs().size(), files.size(), o.out.string());
  return j;
}

}  // namespace dispa::analysis
