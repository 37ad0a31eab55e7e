// Expression tables, TSV in either layout (bio/expression.h; the layout is detected from the
// header, as `dispa predict` does), read twice: strict (errors on NA, duplicates) and lenient
// (mean imputation, duplicate genes averaged, f64). A table that reads has the promised shape,
// finite values and lookups that find every sample and gene.
#include "bio/expression.h"
#include "engine/io/text.h"
#include "fuzz/expression_checks.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(expression_tsv) {
  const std::string text = dispa::io::decode_text(std::string(data), "e.tsv");
  dispa::fuzz::read_expression_both_ways(text, "e.tsv");
}
