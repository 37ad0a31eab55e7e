// Expression readers (layouts and rules in expression.h). One pass over the file: fields are split
// with memchr and numbers parsed with std::from_chars (no locale, no allocation per value), then
// the table is turned samples x genes, missing values resolved and duplicate genes merged.
#include "bio/expression.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "engine/io/text.h"
#include "engine/error.h"
#include "engine/log.h"

namespace dispa::bio {

using namespace dispa::io;  // the shared text scanning (engine/io/text.h)
namespace {

constexpr size_t kProgressMinBytes = size_t(64) << 20;  // show a progress line above 64 MB

// The table as it stands in the file: rows x cols values, row names (first field of each data
// line), column names (header), and where each came from for error messages.
template <typename T>
struct FileTable {
  std::vector<std::string> row_names, col_names;
  std::vector<int64_t> row_lines;  // line number of each data row
  int64_t header_line = 1;
  int64_t first_value_field = 2;   // 1-based field of the first value (3 in GCT)
  std::vector<T> values;           // [rows, cols]
  std::vector<int64_t> missing;    // flat indices of missing values
  bool rows_are_genes = false;
};

bool is_missing_token(std::string_view f) {
  if (f.empty()) return true;
  if (f.size() == 2) return (f[0] == 'N' || f[0] == 'n') && (f[1] == 'A' || f[1] == 'a');
  if (f.size() == 3)
    return (f[0] == 'N' || f[0] == 'n') && (f[1] == 'A' || f[1] == 'a') && (f[2] == 'N' || f[2] == 'n');
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool ends_with_gct(const std::string& source) {
  const std::string l = lower(source);
  return l.size() >= 4 && l.compare(l.size() - 4, 4, ".gct") == 0;
}

ExpressionLayout detect_layout(std::string_view text, const std::string& source) {
  if (ends_with_gct(source) || text.substr(0, 4) == "#1.2") return ExpressionLayout::gct;
  const size_t end = text.find_first_of("\t\r\n");
  const std::string first = lower(trim(text.substr(0, end)));
  static const char* kGeneHeaders[] = {"gene",      "genes",   "symbol",  "gene_symbol", "gene_symbols",
                                       "gene_name", "gene_id", "hugo_symbol", "name"};
  for (const char* h : kGeneHeaders)
    if (first == h) return ExpressionLayout::genes_by_samples;
  return ExpressionLayout::samples_by_genes;
}

// Parses the data lines that follow the header: `name_field` (0-based) holds the row name, values
// start at `first_value` (0-based) and there are exactly `n_cols` of them on every line.
template <typename T>
void parse_rows(LineScanner& lines, const std::string& source, size_t n_cols, size_t name_field,
                size_t first_value, FileTable<T>& table, bool normalise_names, SymbolCase symbol_case,
                size_t total_bytes) {
  std::vector<std::string_view> fields;
  std::string_view line;
  int64_t number = 0;
  const size_t n_fields = first_value + n_cols;
  std::unique_ptr<logging::Progress> progress;
  if (total_bytes >= kProgressMinBytes)
    progress = std::make_unique<logging::Progress>(fmt::format("reading {} (MB)", source), int64_t(total_bytes >> 20));
  while (lines.next(line, number)) {
    if (is_blank(line)) continue;
    split_tabs(line, fields);
    DISPA_CHECK(fields.size() == n_fields, "{}: {} fields, but the header has {} (a missing or extra tab?)",
                location(source, number), fields.size(), n_fields);
    const std::string_view raw_name = fields[name_field];
    std::string name = normalise_names ? normalize_symbol(raw_name, symbol_case) : std::string(trim(raw_name));
    DISPA_CHECK(!name.empty(), "{}: empty {} in the first column", location(source, number, int64_t(name_field) + 1),
                table.rows_are_genes ? "gene symbol" : "sample id");
    table.row_names.push_back(std::move(name));
    table.row_lines.push_back(number);
    const size_t row_offset = table.values.size();
    table.values.resize(row_offset + n_cols);
    T* out = table.values.data() + row_offset;
    for (size_t c = 0; c < n_cols; ++c) {
      std::string_view f = fields[first_value + c];
      if (!f.empty() && (f.front() == ' ' || f.back() == ' ' || f.back() == '\r')) f = trim(f);
      T v{};
      if (is_missing_token(f)) {
        table.missing.push_back(int64_t(row_offset + c));
        v = T(0);
      } else if (!parse_number(f, v)) {
        fail("{}: cannot parse '{}' as a number ({} '{}', {} '{}')",
             location(source, number, int64_t(first_value + c) + 1), shorten(f),
             table.rows_are_genes ? "gene" : "sample", shorten(table.row_names.back()),
             table.rows_are_genes ? "sample" : "gene", shorten(table.col_names[c]));
      } else if (std::isnan(v)) {
        table.missing.push_back(int64_t(row_offset + c));
        v = T(0);
      } else if (!std::isfinite(v)) {
        fail("{}: infinite value '{}' ({} '{}', {} '{}')", location(source, number, int64_t(first_value + c) + 1),
             shorten(f), table.rows_are_genes ? "gene" : "sample", shorten(table.row_names.back()),
             table.rows_are_genes ? "sample" : "gene", shorten(table.col_names[c]));
      }
      out[c] = v;
    }
    if (progress) progress->update(int64_t(lines.offset() >> 20));
  }
  if (progress) progress->finish();
  DISPA_CHECK(!table.row_names.empty(), "{}: no data rows after the header", source);
}

// Header names from fields[first..]; genes are normalised, sample ids only trimmed.
std::vector<std::string> header_names(const std::vector<std::string_view>& fields, size_t first,
                                      const std::string& source, int64_t line, bool genes, SymbolCase symbol_case) {
  std::vector<std::string> names;
  names.reserve(fields.size() - first);
  for (size_t i = first; i < fields.size(); ++i) {
    std::string name = genes ? normalize_symbol(fields[i], symbol_case) : std::string(trim(fields[i]));
    DISPA_CHECK(!name.empty(), "{}: empty {} in the header", location(source, line, int64_t(i) + 1),
                genes ? "gene symbol" : "sample id");
    names.push_back(std::move(name));
  }
  DISPA_CHECK(!names.empty(), "{}: the header has no {} columns", location(source, line),
              genes ? "gene" : "sample");
  return names;
}

template <typename T>
FileTable<T> parse_tsv(std::string_view text, const std::string& source, bool genes_in_rows, SymbolCase symbol_case) {
  FileTable<T> table;
  table.rows_are_genes = genes_in_rows;
  LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  do {
    DISPA_CHECK(lines.next(line, number), "{}: empty file (expected a header line)", source);
  } while (is_blank(line));
  table.header_line = number;
  std::vector<std::string_view> fields;
  split_tabs(line, fields);
  DISPA_CHECK(fields.size() >= 2, "{}: the header has {} field(s); expected an id column and at least one {} column",
              location(source, number), fields.size(), genes_in_rows ? "sample" : "gene");
  table.col_names = header_names(fields, 1, source, number, !genes_in_rows, symbol_case);
  table.first_value_field = 2;
  parse_rows(lines, source, table.col_names.size(), 0, 1, table, genes_in_rows, symbol_case, text.size());
  return table;
}

template <typename T>
FileTable<T> parse_gct(std::string_view text, const std::string& source, bool description_as_symbol,
                       SymbolCase symbol_case) {
  FileTable<T> table;
  table.rows_are_genes = true;
  LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  std::vector<std::string_view> fields;
  DISPA_CHECK(lines.next(line, number) && trim(line) == "#1.2",
              "{}: a GCT file starts with the line '#1.2' (GCT 1.3 is not supported)", location(source, 1));
  DISPA_CHECK(lines.next(line, number), "{}: missing the '<genes><TAB><samples>' line", location(source, 2));
  split_tabs(line, fields);
  int64_t n_rows = 0, n_cols = 0;
  DISPA_CHECK(fields.size() >= 2 && parse_integer(trim(fields[0]), n_rows) && parse_integer(trim(fields[1]), n_cols) &&
                  n_rows > 0 && n_cols > 0,
              "{}: expected '<genes><TAB><samples>' (two positive integers), found '{}'", location(source, 2),
              shorten(line));
  DISPA_CHECK(lines.next(line, number), "{}: missing the header 'Name<TAB>Description<TAB>samples...'",
              location(source, 3));
  table.header_line = number;
  split_tabs(line, fields);
  DISPA_CHECK(fields.size() >= 3, "{}: the GCT header needs Name, Description and sample columns", location(source, 3));
  table.col_names = header_names(fields, 2, source, number, false, symbol_case);
  DISPA_CHECK(int64_t(table.col_names.size()) == n_cols, "{}: the header has {} samples but line 2 says {}",
              location(source, 3), table.col_names.size(), n_cols);
  table.first_value_field = 3;
  parse_rows(lines, source, size_t(n_cols), description_as_symbol ? 1 : 0, 2, table, true, symbol_case, text.size());
  DISPA_CHECK(int64_t(table.row_names.size()) == n_rows, "{}: {} gene rows, but line 2 says {}", source,
              table.row_names.size(), n_rows);
  return table;
}

// Error on the first duplicated sample id (naming where both occur).
template <typename T>
void check_unique_samples(const FileTable<T>& t, const std::string& source) {
  const std::vector<std::string>& names = t.rows_are_genes ? t.col_names : t.row_names;
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    auto [it, inserted] = seen.emplace(names[i], i);
    if (inserted) continue;
    if (t.rows_are_genes)
      fail("{}: sample '{}' appears twice in the header (columns {} and {})", location(source, t.header_line),
           shorten(names[i]), it->second + t.first_value_field, i + t.first_value_field);
    fail("{}: sample '{}' appears twice (lines {} and {})", location(source, t.row_lines[i]), shorten(names[i]),
         t.row_lines[it->second], t.row_lines[i]);
  }
}

// "line 12, column 5" of a value given as (file row, file column).
template <typename T>
std::string value_location(const FileTable<T>& t, const std::string& source, size_t row, size_t col) {
  return location(source, t.row_lines[row], int64_t(col) + t.first_value_field);
}

}  // namespace

// ---- parsing options --------------------------------------------------------------------------

ExpressionLayout parse_expression_layout(std::string_view text) {
  if (text == "detect" || text == "auto") return ExpressionLayout::detect;
  if (text == "samples-by-genes") return ExpressionLayout::samples_by_genes;
  if (text == "genes-by-samples") return ExpressionLayout::genes_by_samples;
  if (text == "gct") return ExpressionLayout::gct;
  fail("unknown expression layout '{}' (expected detect, samples-by-genes, genes-by-samples or gct)", text);
}

MissingValues parse_missing_values(std::string_view text) {
  if (text == "error") return MissingValues::error;
  if (text == "impute-mean") return MissingValues::impute_gene_mean;
  fail("unknown missing-value rule '{}' (expected error or impute-mean)", text);
}

DuplicateGenes parse_duplicate_genes(std::string_view text) {
  if (text == "error") return DuplicateGenes::error;
  if (text == "first") return DuplicateGenes::keep_first;
  if (text == "mean") return DuplicateGenes::mean;
  fail("unknown duplicate-gene rule '{}' (expected error, first or mean)", text);
}

std::string_view layout_name(ExpressionLayout layout) {
  switch (layout) {
    case ExpressionLayout::detect: return "detect";
    case ExpressionLayout::samples_by_genes: return "samples-by-genes";
    case ExpressionLayout::genes_by_samples: return "genes-by-samples";
    case ExpressionLayout::gct: return "gct";
  }
  return "?";
}

// ---- ExpressionMatrix -------------------------------------------------------------------------

ExpressionMatrix::ExpressionMatrix(std::vector<std::string> samples, std::vector<std::string> genes, Tensor values,
                                   std::string source, std::string id_column, SymbolCase symbol_case)
    : samples_(std::move(samples)),
      genes_(std::move(genes)),
      values_(std::move(values)),
      source_(std::move(source)),
      id_column_(std::move(id_column)),
      symbol_case_(symbol_case) {
  DISPA_CHECK(values_.defined() && values_.is_cpu() && is_floating(values_.dtype()) && values_.ndim() == 2,
              "ExpressionMatrix ({}): values must be a [samples, genes] f32/f64 CPU tensor, got {}", source_,
              values_.defined() ? values_.describe() : "undefined");
  DISPA_CHECK(values_.dim(0) == n_samples() && values_.dim(1) == n_genes(),
              "ExpressionMatrix ({}): values are {} but there are {} samples and {} genes", source_,
              values_.describe(), n_samples(), n_genes());
  sample_lookup_.reserve(samples_.size());
  for (size_t i = 0; i < samples_.size(); ++i)
    DISPA_CHECK(sample_lookup_.emplace(samples_[i], int64_t(i)).second, "ExpressionMatrix ({}): duplicate sample '{}'",
                source_, samples_[i]);
  gene_lookup_.reserve(genes_.size());
  for (size_t i = 0; i < genes_.size(); ++i)
    DISPA_CHECK(gene_lookup_.emplace(genes_[i], int64_t(i)).second, "ExpressionMatrix ({}): duplicate gene '{}'",
                source_, genes_[i]);
}

double ExpressionMatrix::at(int64_t sample, int64_t gene) const {
  DISPA_CHECK(sample >= 0 && sample < n_samples() && gene >= 0 && gene < n_genes(),
              "ExpressionMatrix::at({}, {}) out of range for {} samples x {} genes", sample, gene, n_samples(),
              n_genes());
  const int64_t i = sample * n_genes() + gene;
  return values_.dtype() == DType::f32 ? double(values_.data<float>()[i]) : values_.data<double>()[i];
}

int64_t ExpressionMatrix::find_sample(const std::string& id) const {
  const auto it = sample_lookup_.find(id);
  return it == sample_lookup_.end() ? -1 : it->second;
}

int64_t ExpressionMatrix::find_gene(std::string_view symbol) const {
  const auto it = gene_lookup_.find(normalize_symbol(symbol, symbol_case_));
  return it == gene_lookup_.end() ? -1 : it->second;
}

int64_t ExpressionMatrix::sample_index(const std::string& id) const {
  const int64_t i = find_sample(id);
  DISPA_CHECK(i >= 0, "sample '{}' is not in the expression matrix {} ({} samples)", shorten(id), source_, n_samples());
  return i;
}

int64_t ExpressionMatrix::gene_index(std::string_view symbol) const {
  const int64_t i = find_gene(symbol);
  DISPA_CHECK(i >= 0, "gene '{}' is not in the expression matrix {} ({} genes)", shorten(symbol), source_, n_genes());
  return i;
}

ExpressionMatrix ExpressionMatrix::select_genes(const std::vector<int64_t>& columns) const {
  const int64_t n = n_samples(), g = n_genes(), k = int64_t(columns.size());
  std::vector<std::string> genes;
  genes.reserve(columns.size());
  for (int64_t c : columns) {
    DISPA_CHECK(c >= 0 && c < g, "select_genes: column {} out of range for {} genes", c, g);
    genes.push_back(genes_[c]);
  }
  Tensor out = Tensor::empty({n, k}, values_.dtype());
  const size_t esize = dtype_size(values_.dtype());
  const char* src = static_cast<const char*>(values_.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(dst + (i * k + j) * esize, src + (i * g + columns[j]) * esize, esize);
  return ExpressionMatrix(samples_, std::move(genes), std::move(out), source_, id_column_, symbol_case_);
}

// ---- reading ----------------------------------------------------------------------------------

namespace {

template <typename T>
ExpressionMatrix build_matrix(FileTable<T> t, const std::string& source, const ExpressionReadOptions& options,
                              std::string id_column) {
  check_unique_samples(t, source);
  const size_t rows = t.row_names.size(), cols = t.col_names.size();
  const size_t n = t.rows_are_genes ? cols : rows;  // samples
  const size_t g = t.rows_are_genes ? rows : cols;  // genes
  std::vector<std::string>& samples = t.rows_are_genes ? t.col_names : t.row_names;
  std::vector<std::string>& genes = t.rows_are_genes ? t.row_names : t.col_names;
  // File position of the value of (sample i, gene j), for messages.
  auto where = [&](size_t i, size_t j) {
    return t.rows_are_genes ? value_location(t, source, j, i) : value_location(t, source, i, j);
  };

  // Samples x genes values.
  std::vector<T> x(n * g);
  if (t.rows_are_genes) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) x[c * g + r] = t.values[r * cols + c];
  } else {
    x = std::move(t.values);
  }
  auto to_sg = [&](int64_t flat) {  // file flat index -> (sample, gene)
    const size_t r = size_t(flat) / cols, c = size_t(flat) % cols;
    return t.rows_are_genes ? std::pair{c, r} : std::pair{r, c};
  };

  if (!t.missing.empty()) {
    const auto [s0, g0] = to_sg(t.missing.front());
    DISPA_CHECK(options.missing == MissingValues::impute_gene_mean,
                "{}: missing value (sample '{}', gene '{}'); {} missing value(s) in all. {}", where(s0, g0),
                shorten(samples[s0]), shorten(genes[g0]), t.missing.size(),
                options.hint_read_flags ? "Use --na impute-mean to replace them by the gene's mean"
                                        : "This command needs complete expression: fill in or remove them in the "
                                          "file (e.g. each gene's mean)");
    std::vector<char> is_missing(n * g, 0);
    for (int64_t flat : t.missing) {
      const auto [s, gi] = to_sg(flat);
      is_missing[s * g + gi] = 1;
    }
    for (size_t j = 0; j < g; ++j) {
      double sum = 0;
      size_t present = 0;
      for (size_t i = 0; i < n; ++i)
        if (!is_missing[i * g + j]) sum += double(x[i * g + j]), ++present;
      DISPA_CHECK(present > 0, "{}: gene '{}' has no value in any sample; cannot impute its mean", source,
                  shorten(genes[j]));
      const T mean = T(sum / double(present));
      for (size_t i = 0; i < n; ++i)
        if (is_missing[i * g + j]) x[i * g + j] = mean;
    }
    logging::info("{}: imputed {} missing value(s) with the gene mean", source, t.missing.size());
  }

  // Duplicate genes (after symbol normalisation).
  std::unordered_map<std::string, size_t> first_of;
  std::vector<std::vector<size_t>> groups;  // column groups, in order of first appearance
  std::vector<std::string> kept_genes;
  for (size_t j = 0; j < g; ++j) {
    auto [it, inserted] = first_of.emplace(genes[j], groups.size());
    if (inserted) {
      groups.push_back({j});
      kept_genes.push_back(genes[j]);
      continue;
    }
    const size_t first = groups[it->second].front();
    if (options.duplicates == DuplicateGenes::error) {
      const std::string a = t.rows_are_genes ? fmt::format("lines {} and {}", t.row_lines[first], t.row_lines[j])
                                             : fmt::format("columns {} and {}", first + 2, j + 2);
      fail("{}: gene '{}' appears twice ({}; symbols compare after trimming{}). {}",
           t.rows_are_genes ? location(source, t.row_lines[j]) : location(source, t.header_line), shorten(genes[j]), a,
           options.symbol_case == SymbolCase::upper ? " and upper-casing" : "",
           options.hint_read_flags ? "Choose a rule with --duplicates first|mean"
                                   : "This command needs unique genes: remove or merge the duplicates in the file");
    }
    groups[it->second].push_back(j);
  }
  if (groups.size() != g) {
    const size_t g2 = groups.size();
    std::vector<T> merged(n * g2);
    for (size_t k = 0; k < g2; ++k) {
      const auto& cols_k = groups[k];
      for (size_t i = 0; i < n; ++i) {
        if (options.duplicates == DuplicateGenes::keep_first) {
          merged[i * g2 + k] = x[i * g + cols_k.front()];
        } else {
          double sum = 0;
          for (size_t c : cols_k) sum += double(x[i * g + c]);
          merged[i * g2 + k] = T(sum / double(cols_k.size()));
        }
      }
    }
    logging::info("{}: {} duplicated gene column(s) {} ({} genes remain)", source, g - g2,
              options.duplicates == DuplicateGenes::keep_first ? "dropped (first kept)" : "averaged", g2);
    x = std::move(merged);
    genes = std::move(kept_genes);
  }
  const int64_t n_genes = int64_t(genes.size());
  Tensor values = Tensor::from_vector(x, {int64_t(n), n_genes});
  return ExpressionMatrix(std::move(samples), std::move(genes), std::move(values), source, std::move(id_column),
                          options.symbol_case);
}

template <typename T>
ExpressionMatrix parse_as(std::string_view text, const std::string& source, const ExpressionReadOptions& options,
                          ExpressionLayout layout) {
  FileTable<T> table;
  std::string id_column = "sample_id";
  if (layout == ExpressionLayout::gct) {
    table = parse_gct<T>(text, source, options.gct_description_as_symbol, options.symbol_case);
  } else {
    table = parse_tsv<T>(text, source, layout == ExpressionLayout::genes_by_samples, options.symbol_case);
    if (layout == ExpressionLayout::samples_by_genes) {
      LineScanner lines(text);
      std::string_view line;
      int64_t number = 0;
      while (lines.next(line, number) && is_blank(line)) {
      }
      id_column = std::string(trim(line.substr(0, line.find('\t'))));
      if (id_column.empty()) id_column = "sample_id";
    }
  }
  return build_matrix(std::move(table), source, options, std::move(id_column));
}

}  // namespace

ExpressionMatrix parse_expression(std::string_view text, const std::string& source,
                                  const ExpressionReadOptions& options) {
  text = strip_bom(text);  // read_expression's text has none; text given in memory may
  const ExpressionLayout layout =
      options.layout == ExpressionLayout::detect ? detect_layout(text, source) : options.layout;
  switch (options.dtype) {
    case DType::f32: return parse_as<float>(text, source, options, layout);
    case DType::f64: return parse_as<double>(text, source, options, layout);
    default: fail("read_expression: dtype must be f32 or f64, got {}", options.dtype);
  }
}

ExpressionMatrix read_expression(const std::filesystem::path& path, const ExpressionReadOptions& options) {
  const std::string text = read_text_file(path);
  return parse_expression(text, path.string(), options);
}

}  // namespace dispa::bio
