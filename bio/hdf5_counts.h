// Count matrices stored in HDF5 (hdf5_file.h):
//   * 10x Genomics .h5 (Cell Ranger 3+): group `matrix` with data, indices, indptr, shape
//     ([genes, cells]), barcodes and features/{id, name, feature_type}: CSC genes x cells, i.e.
//     indptr runs over cells. Cell Ranger 2: one group per genome with genes and gene_names.
//   * AnnData .h5ad (anndata >= 0.7 on-disk format): X as a dense [cells, genes] dataset or a
//     group with attributes encoding-type (csr_matrix / csc_matrix; older files: h5sparse_format
//     csr / csc) and shape (h5sparse_shape), holding data, indices, indptr; obs/var indexes from
//     the group attribute _index (default dataset `_index`); string or categorical var columns.
// Cell-major layouts (10x .h5, AnnData CSR and dense) are streamed by batches of cells; AnnData CSC
// is gene-major and is loaded whole and transposed (12 bytes per non-zero entry; the log says so).
// Checked: shape against barcodes and features, indptr length, start, monotonicity and end
// against data and indices, every index in range, finite values, no gene twice in one cell.
#pragma once
#include <filesystem>
#include <memory>
#include <string_view>

#include "bio/count_matrix.h"

namespace dispa::bio {

std::unique_ptr<CountSource> open_tenx_h5(const std::filesystem::path& path);
std::unique_ptr<CountSource> open_h5ad(const std::filesystem::path& path, const CountReadOptions& options = {});
// True when the HDF5 file has the AnnData groups X, obs and var.
bool is_h5ad(const std::filesystem::path& path);

// The same from a file image in memory (fuzzing); `name` appears in messages.
std::unique_ptr<CountSource> parse_tenx_h5(std::string_view bytes, const std::string& name = "<memory>.h5");
std::unique_ptr<CountSource> parse_h5ad(std::string_view bytes, const CountReadOptions& options = {},
                                        const std::string& name = "<memory>.h5ad");

}  // namespace dispa::bio
