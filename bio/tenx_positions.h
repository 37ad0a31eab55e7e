// Spot positions and per-cell labels, the two side tables of a spatial or single-cell data set.
//
// Positions: Space Ranger's spatial/tissue_positions.csv (Space Ranger 2+, with the header
// barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres) or
// tissue_positions_list.csv (1.x, the same columns without a header). x = pxl_col_in_fullres,
// y = pxl_row_in_fullres (image convention: y grows downwards), in whatever unit the file uses.
// Every barcode of the matrix must have a position (else an error naming the missing barcodes);
// positions of barcodes the matrix does not have (Space Ranger lists all spots of the slide, the
// filtered matrix only those under tissue) are ignored and counted.
//
// Labels: a TSV whose first column is the barcode and second the label (more columns ignored;
// commas instead of tabs when a line has no tab). The first line is a header, whatever its
// names, unless its first field is a barcode of the matrix. Barcodes absent from the matrix are
// counted and ignored; a barcode twice or an empty label is an error naming the line.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dispa::bio {

struct SpotPositions {
  std::vector<double> x, y;   // per matrix barcode
  int64_t ignored = 0;        // rows for barcodes the matrix lacks
};

SpotPositions read_tissue_positions(const std::filesystem::path& path, const std::vector<std::string>& barcodes);
SpotPositions parse_tissue_positions(std::string_view text, const std::string& source,
                                     const std::vector<std::string>& barcodes);

struct CellLabels {
  std::vector<std::string> label;  // per matrix barcode; "" = no label given
  std::vector<std::string> names;  // distinct labels in order of first appearance
  int64_t unlabelled = 0;          // matrix barcodes without a row
  int64_t ignored = 0;             // rows for barcodes the matrix lacks
};

CellLabels read_cell_labels(const std::filesystem::path& path, const std::vector<std::string>& barcodes);
CellLabels parse_cell_labels(std::string_view text, const std::string& source, const std::vector<std::string>& barcodes);

}  // namespace dispa::bio
