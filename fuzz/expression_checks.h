// What a successfully read expression matrix must satisfy, shared by the TSV and GCT targets.
#pragma once
#include <cmath>
#include <string>
#include <string_view>

#include "bio/expression.h"
#include "engine/error.h"
#include "fuzz/fuzz_target.h"

namespace dispa::fuzz {

inline void check_matrix(const bio::ExpressionMatrix& m) {
  require(m.n_samples() > 0 && m.n_genes() > 0, "a matrix that reads has samples and genes");
  require(m.values().shape() == Shape({m.n_samples(), m.n_genes()}), "values are [samples, genes]");
  for (int64_t i = 0; i < m.n_samples(); ++i) {
    require(m.find_sample(m.samples()[size_t(i)]) == i, "every sample is found at its row");
    for (int64_t j = 0; j < m.n_genes(); ++j) require(std::isfinite(m.at(i, j)), "values are finite after reading");
  }
  for (int64_t j = 0; j < m.n_genes(); ++j)
    require(m.find_gene(m.genes()[size_t(j)]) == j, "every gene is found at its column");
}

// Strict (the defaults), then lenient; each may reject the input independently.
inline void read_expression_both_ways(const std::string& text, const std::string& source) {
  try {
    check_matrix(bio::parse_expression(text, source));
  } catch (const Error&) {
  }
  bio::ExpressionReadOptions lenient;
  lenient.missing = bio::MissingValues::impute_gene_mean;
  lenient.duplicates = bio::DuplicateGenes::mean;
  lenient.dtype = DType::f64;
  lenient.gct_description_as_symbol = text.size() % 2 == 1;  // both GCT symbol columns, input by input
  check_matrix(bio::parse_expression(text, source, lenient));
}

}  // namespace dispa::fuzz
