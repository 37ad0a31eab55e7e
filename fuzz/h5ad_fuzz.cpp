// AnnData .h5ad from a file image in memory (bio/hdf5_counts.h, parse_h5ad): X dense, CSR or CSC,
// obs/var indexes, categorical columns. Each input is read twice: with the defaults (X, symbols
// from the var index or, for Ensembl ids, a symbol column) and as raw/X with var's gene_symbols
// column, so the raw/ and named-column paths see the same bytes. A file that opens passes
// check_count_source. libhdf5 crashes: see tenx_h5_fuzz.cpp.
#include "bio/hdf5_counts.h"
#include "engine/error.h"
#include "fuzz/count_checks.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(h5ad) {
  dispa::bio::CountReadOptions other;
  other.h5ad_matrix = "raw/X";
  other.h5ad_gene_column = "gene_symbols";
  try {
    auto raw = dispa::bio::parse_h5ad(data, other, "a.h5ad");
    dispa::fuzz::check_count_source(*raw);
  } catch (const dispa::Error&) {
  }
  auto s = dispa::bio::parse_h5ad(data, {}, "a.h5ad");
  dispa::fuzz::check_count_source(*s);
}
