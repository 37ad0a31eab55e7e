// File-level pathway scoring and the `dispa pathways` entry points (see pathway_scores.h).
#include "bio/pathway_scores.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"

namespace dispa::bio {
namespace {

constexpr double kConstantSd = 1e-10;  // R's .filterFeatures: genes with sd below this are constant

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A table writer to stdout or, atomically, to `path` (engine/io/atomic_file.h).
class TableFile {
 public:
  explicit TableFile(const std::filesystem::path& path) {
    if (!path.empty()) file_.emplace(path);
  }
  void write(std::string_view text) {
    if (file_) {
      file_->write(text);
      return;
    }
    DISPA_CHECK(std::fwrite(text.data(), 1, text.size(), stdout) == text.size(), "cannot write to stdout: {}",
                std::strerror(errno));
  }
  void commit() {
    if (file_)
      file_->commit();
    else
      std::fflush(stdout);
  }

 private:
  std::optional<io::AtomicFile> file_;  // not committed when an error unwinds: nothing is left behind
};

// Columns of genes whose sd over the samples is below R's threshold (R's rowSds; the exact value
// does not matter, only the comparison with 1e-10).
std::vector<int64_t> constant_columns(const ExpressionMatrix& m) {
  const int64_t n = m.n_samples(), g = m.n_genes();
  const std::vector<double> v = m.values().to_f64_vector();
  std::vector<double> mean(size_t(g), 0.0), sq(size_t(g), 0.0);
  for (int64_t i = 0; i < n; ++i)  // row by row: the matrix is [N, G] row-major
    for (int64_t j = 0; j < g; ++j) mean[size_t(j)] += v[size_t(i * g + j)];
  for (double& x : mean) x /= double(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < g; ++j) {
      const double c = v[size_t(i * g + j)] - mean[size_t(j)];
      sq[size_t(j)] += c * c;
    }
  std::vector<int64_t> out;
  for (int64_t j = 0; j < g; ++j) {
    const double sd = n > 1 ? std::sqrt(sq[size_t(j)] / double(n - 1)) : 0.0;
    if (!(sd >= kConstantSd)) out.push_back(j);
  }
  return out;
}

}  // namespace

ScoreMethod parse_score_method(std::string_view text) {
  if (text == "ssgsea") return ScoreMethod::ssgsea;
  if (text == "ssgsea-raw") return ScoreMethod::ssgsea_raw;
  if (text == "gsva") return ScoreMethod::gsva;
  if (text == "zscore") return ScoreMethod::zscore;
  fail("unknown scoring method '{}' (expected ssgsea, ssgsea-raw, gsva or zscore)", text);
}

std::string_view method_name(ScoreMethod method) {
  switch (method) {
    case ScoreMethod::ssgsea: return "ssgsea";
    case ScoreMethod::ssgsea_raw: return "ssgsea-raw";
    case ScoreMethod::gsva: return "gsva";
    case ScoreMethod::zscore: return "zscore";
  }
  return "?";
}

PathwayScores score_gene_sets(const ExpressionMatrix& expression, const std::vector<GeneSet>& gene_sets,
                              const ScoreOptions& options) {
  PathwayScores out;
  out.samples = expression.samples();
  out.id_column = expression.id_column();
  const bool drops_constant = options.method == ScoreMethod::gsva || options.method == ScoreMethod::zscore;
  const ExpressionMatrix* scored = &expression;
  ExpressionMatrix filtered;
  if (drops_constant) {
    DISPA_CHECK(expression.n_samples() >= 2, "pathways {}: needs at least 2 samples, {} has {}",
                method_name(options.method), expression.source(), expression.n_samples());
    const std::vector<int64_t> constant = constant_columns(expression);
    if (!constant.empty()) {
      std::vector<int64_t> keep;
      size_t c = 0;
      for (int64_t j = 0; j < expression.n_genes(); ++j) {
        if (c < constant.size() && constant[c] == j) {
          out.dropped_constant_genes.push_back(expression.genes()[size_t(j)]);
          ++c;
        } else {
          keep.push_back(j);
        }
      }
      DISPA_CHECK(!keep.empty(), "pathways {}: every gene of {} is constant over the samples",
                  method_name(options.method), expression.source());
      logging::warn("{}: {} gene(s) constant over the {} samples are left out of {} (as R's gsva does), e.g. {}",
                expression.source(), constant.size(), expression.n_samples(), method_name(options.method),
                out.dropped_constant_genes.front());
      filtered = expression.select_genes(keep);
      scored = &filtered;
    }
  }
  out.scored_genes = scored->genes();
  out.sets = build_pathway_index(gene_sets, out.scored_genes, options.sets);
  const GeneSetColumns& members = out.sets.members;
  switch (options.method) {
    case ScoreMethod::ssgsea:
    case ScoreMethod::ssgsea_raw: {
      SsgseaOptions o;
      o.tau = options.tau.value_or(0.25);
      o.normalize = options.method == ScoreMethod::ssgsea;
      o.dtype = options.dtype;
      out.scores = ssgsea(scored->values(), members, o);
      break;
    }
    case ScoreMethod::gsva: {
      GsvaOptions o;
      o.tau = options.tau.value_or(1.0);
      o.dtype = options.dtype;
      out.scores = gsva(scored->values(), members, o);
      break;
    }
    case ScoreMethod::zscore: out.scores = combined_zscore(scored->values(), members, options.dtype); break;
  }
  return out;
}

std::string format_fixed(double value, int significant) {
  if (value == 0 || !std::isfinite(value)) return value == 0 ? "0" : fmt::format("{}", value);
  const int exponent = int(std::floor(std::log10(std::fabs(value))));
  const int decimals = std::clamp(significant - 1 - exponent, 0, 40);
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

void write_scores_tsv(const PathwayScores& scores, const std::filesystem::path& out) {
  const Tensor& t = scores.scores;
  const int64_t n = t.dim(0), p = t.dim(1);
  DISPA_CHECK(n == int64_t(scores.samples.size()) && p == scores.sets.n_pathways(),
              "write_scores_tsv: scores are {} for {} samples and {} sets", t.describe(), scores.samples.size(),
              scores.sets.n_pathways());
  const int digits = t.dtype() == DType::f64 ? 15 : 9;
  const std::vector<double> v = t.to_f64_vector();
  TableFile file(out);
  std::string line = scores.id_column;
  for (const std::string& id : scores.sets.ids) line += "\t" + id;
  line += "\n";
  file.write(line);
  for (int64_t i = 0; i < n; ++i) {
    line = scores.samples[size_t(i)];
    for (int64_t s = 0; s < p; ++s) {
      line += '\t';
      line += format_fixed(v[size_t(i * p + s)], digits);
    }
    line += '\n';
    file.write(line);
  }
  file.commit();
}

void write_coverage_tsv(const std::vector<GeneSetCoverage>& coverage, const std::filesystem::path& out) {
  TableFile file(out);
  file.write("set_id\tdescription\tn_genes_gmt\tn_genes_in_expression\tn_genes_used\tkept\treason\n");
  for (const GeneSetCoverage& c : coverage)
    file.write(fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", c.id, c.description, c.n_genes_gmt, c.n_genes_in_expression,
                           c.n_genes_used, c.kept ? 1 : 0, c.reason));
  file.commit();
}

namespace {

struct Inputs {
  ExpressionMatrix expression;
  std::vector<GeneSet> sets;
};

Inputs read_inputs(const PathwaysCommandOptions& o) {
  DISPA_CHECK(!o.expression.empty(), "pathways: --expression is required");
  DISPA_CHECK(!o.gmt.empty(), "pathways: --gmt is required");
  auto start = std::chrono::steady_clock::now();
  Inputs in{read_expression(o.expression, o.read), {}};
  logging::info("read {}: {} samples x {} genes in {:.0f} ms", o.expression.string(), in.expression.n_samples(),
            in.expression.n_genes(), 1e3 * seconds_since(start));
  in.sets = read_gmt(o.gmt, o.read.symbol_case);
  logging::info("read {}: {} gene sets", o.gmt.string(), in.sets.size());
  return in;
}

}  // namespace

void run_pathways_score(const PathwaysCommandOptions& options) {
  io::check_output_file(options.out, "--out");
  PathwaysCommandOptions o = options;
  // f64 values keep the ranks and kernel-CDF table indices identical to R's; the matrix is small.
  o.read.dtype = DType::f64;
  o.score.dtype = DType::f64;  // the table is written with 15 significant digits
  Inputs in = read_inputs(o);
  const auto start = std::chrono::steady_clock::now();
  const PathwayScores scores = score_gene_sets(in.expression, in.sets, o.score);
  logging::info("scored {} gene sets x {} samples with {} in {:.0f} ms", scores.sets.n_pathways(), scores.samples.size(),
            method_name(o.score.method), 1e3 * seconds_since(start));
  write_scores_tsv(scores, o.out);
  if (!o.out.empty()) logging::info("wrote {}", o.out.string());
}

void run_pathways_coverage(const PathwaysCommandOptions& options) {
  io::check_output_file(options.out, "--out");
  Inputs in = read_inputs(options);
  const std::vector<GeneSetCoverage> coverage =
      compute_coverage(in.sets, in.expression.genes(), options.score.sets);
  logging::info("{}", describe_selection(coverage, options.score.sets));
  write_coverage_tsv(coverage, options.out);
  if (!options.out.empty()) logging::info("wrote {}", options.out.string());
}

}  // namespace dispa::bio
