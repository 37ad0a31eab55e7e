// 10x Genomics matrix folders (Cell Ranger / Space Ranger `filtered_feature_bc_matrix/`):
//   matrix.mtx[.gz]    MatrixMarket `coordinate integer|real|pattern general`, genes x cells, 1-based
//   features.tsv[.gz]  no header; id, symbol, type (Cell Ranger 3+); genes.tsv[.gz] with id,
//                      symbol (Cell Ranger 2); a single column is taken as the symbol
//   barcodes.tsv[.gz]  no header; one barcode per line (extra columns ignored)
// Gzip is detected from the bytes (gzip_lines.h). open_tenx_folder validates the whole matrix once
// (header, dimensions against the two lists, every index in range, values finite, no entry twice,
// the promised number of entries: a truncated file is an error, not fewer cells) and notes whether
// entries are sorted by cell, as Cell Ranger and Space Ranger write them. Sorted matrices are then
// streamed by batches of cells (memory ~ one batch); an unsorted one is loaded once, cell-major,
// into memory (12 bytes per non-zero entry), which the log says.
// The header's entry count is never used to size an allocation, so a header claiming 10^12
// entries costs nothing until the entries are actually there.
#pragma once
#include <filesystem>
#include <memory>
#include <string_view>

#include "bio/count_matrix.h"

namespace dispa::bio {

// `dir` holds the three files, or a filtered_feature_bc_matrix/ folder that does.
std::unique_ptr<CountSource> open_tenx_folder(const std::filesystem::path& dir);

// The same from bytes in memory (possibly gzip-compressed each); the views must outlive the source.
std::unique_ptr<CountSource> parse_tenx_buffers(std::string_view matrix, std::string_view features,
                                                std::string_view barcodes, const std::string& source = "<memory>");

}  // namespace dispa::bio
