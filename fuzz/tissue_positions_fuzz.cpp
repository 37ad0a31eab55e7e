// Space Ranger tissue positions (bio/tenx_positions.h, parse_tissue_positions). The input is the
// matrix's barcodes (one per line) and the CSV, separated by a `--8<--` line (fuzz/tenx_split.h);
// the CSV goes through io::decode_text (gzip, BOM) as read_tissue_positions does. Positions that
// read give every barcode a finite x and y, and the ignored rows plus the barcodes fit in the
// file's lines.
#include <cmath>

#include "bio/tenx_positions.h"
#include "engine/io/text.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/tenx_split.h"

DISPA_FUZZ_TARGET(tissue_positions) {
  using dispa::fuzz::require;
  const auto parts = dispa::fuzz::split_parts<2>(data);
  const std::vector<std::string> barcodes = dispa::fuzz::barcode_list(parts[0]);
  const std::string text = dispa::io::decode_text(std::string(parts[1]), "tissue_positions.csv");
  const dispa::bio::SpotPositions p = dispa::bio::parse_tissue_positions(text, "tissue_positions.csv", barcodes);
  require(p.x.size() == barcodes.size() && p.y.size() == barcodes.size(), "one position per barcode");
  for (size_t i = 0; i < barcodes.size(); ++i)
    require(std::isfinite(p.x[i]) && std::isfinite(p.y[i]), "every barcode has a finite position");
  int64_t lines = 0;
  for (const char c : text) lines += c == '\n';
  require(p.ignored >= 0 && p.ignored + int64_t(barcodes.size()) <= lines + 1,
          "each position row is used once or counted as ignored");
}
