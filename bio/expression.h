// Expression matrices: samples x genes values with sample-id and gene-symbol lookup, read from
//  - TSV, samples x genes (DiSPA's expression.tsv): header "cell_id<TAB>GENE1<TAB>GENE2...", then
//    one row per sample: its id, then one value per gene;
//  - TSV, genes x samples (the usual layout of other transcriptomes): header "gene<TAB>S1<TAB>S2...",
//    then one row per gene;
//  - GCT 1.2 (GenePattern/Broad): "#1.2", "<genes><TAB><samples>", "Name<TAB>Description<TAB>S1...",
//    then "<name><TAB><description><TAB>values..." per gene.
// Whatever the file layout, the matrix is held samples x genes ([N, G], row-major), the layout
// every consumer (training, pathway scoring) wants. Values are finite after reading: missing
// values are an error unless imputation is asked for; infinities are always an error.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bio/gene_symbols.h"
#include "engine/tensor.h"

namespace dispa::bio {

// detect: GCT when the file name ends in ".gct" or the first line starts with "#1.2"; otherwise
// genes x samples when the first header field (trimmed, lower-cased) is one of gene, genes, symbol,
// gene_symbol, gene_symbols, gene_name, gene_id, hugo_symbol, name; otherwise samples x genes.
enum class ExpressionLayout { detect, samples_by_genes, genes_by_samples, gct };

// Missing values are the fields "", "NA", "NaN" (any case). error: the first one is reported with
// file, line and column (and the total count). impute_gene_mean: replaced by the mean of that
// gene's present values over all samples (a gene with no value at all is still an error).
enum class MissingValues { error, impute_gene_mean };

// Two columns whose symbols are equal after normalisation (gene_symbols.h). error: report both
// columns. keep_first: keep the first column, drop the later ones (counted in the log).
// mean: average them value by value (after imputation). Duplicate sample ids are always an error.
enum class DuplicateGenes { error, keep_first, mean };

struct ExpressionReadOptions {
  ExpressionLayout layout = ExpressionLayout::detect;
  MissingValues missing = MissingValues::error;
  DuplicateGenes duplicates = DuplicateGenes::error;
  SymbolCase symbol_case = SymbolCase::upper;
  DType dtype = DType::f32;        // f32 for training; f64 keeps R-level agreement in scoring
  bool gct_description_as_symbol = false;  // GCT: take symbols from Description, not Name
  // Errors about missing values and duplicate genes end with a hint. true: name the command-line
  // flags (--na impute-mean, --duplicates first|mean), for commands that offer them (dispa
  // pathways); false: say that the file must be fixed, since the command takes the table as is.
  bool hint_read_flags = false;
};

ExpressionLayout parse_expression_layout(std::string_view text);  // detect|samples-by-genes|genes-by-samples|gct
MissingValues parse_missing_values(std::string_view text);        // error|impute-mean
DuplicateGenes parse_duplicate_genes(std::string_view text);      // error|first|mean
std::string_view layout_name(ExpressionLayout layout);

class ExpressionMatrix {
 public:
  ExpressionMatrix() = default;
  // values: [N, G] f32 or f64 on the CPU; samples unique; genes unique (already normalised).
  ExpressionMatrix(std::vector<std::string> samples, std::vector<std::string> genes, Tensor values,
                   std::string source = "<memory>", std::string id_column = "sample_id",
                   SymbolCase symbol_case = SymbolCase::upper);

  int64_t n_samples() const { return static_cast<int64_t>(samples_.size()); }
  int64_t n_genes() const { return static_cast<int64_t>(genes_.size()); }
  const std::vector<std::string>& samples() const { return samples_; }
  const std::vector<std::string>& genes() const { return genes_; }
  const Tensor& values() const { return values_; }  // [N, G]
  const std::string& source() const { return source_; }
  const std::string& id_column() const { return id_column_; }  // header of the sample-id column
  SymbolCase symbol_case() const { return symbol_case_; }
  double at(int64_t sample, int64_t gene) const;

  // -1 when absent. Gene queries are normalised with this matrix's symbol case first.
  int64_t find_sample(const std::string& id) const;
  int64_t find_gene(std::string_view symbol) const;
  // Throw dispa::Error naming the source when absent.
  int64_t sample_index(const std::string& id) const;
  int64_t gene_index(std::string_view symbol) const;

  // A matrix with only the given gene columns, in the given order.
  ExpressionMatrix select_genes(const std::vector<int64_t>& columns) const;

 private:
  std::vector<std::string> samples_, genes_;
  Tensor values_;
  std::string source_, id_column_;
  SymbolCase symbol_case_ = SymbolCase::upper;
  std::unordered_map<std::string, int64_t> sample_lookup_, gene_lookup_;
};

ExpressionMatrix read_expression(const std::filesystem::path& path,
                                 const ExpressionReadOptions& options = {});
// The same from text in memory; `source` names it in error messages (and in detection of ".gct").
ExpressionMatrix parse_expression(std::string_view text, const std::string& source,
                                  const ExpressionReadOptions& options = {});

}  // namespace dispa::bio
