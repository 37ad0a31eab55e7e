// Per-cell labels (bio/tenx_positions.h, parse_cell_labels). The input is the matrix's barcodes
// (one per line) and the TSV/CSV, separated by a `--8<--` line (fuzz/tenx_split.h); the table goes
// through io::decode_text (gzip, BOM) as read_cell_labels does. Labels that read have one entry
// per barcode, `names` lists each distinct non-empty label once (in file order, which the barcode
// order need not follow), `unlabelled` counts the empty ones and at least one barcode is labelled.
#include <set>

#include "bio/tenx_positions.h"
#include "engine/io/text.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/tenx_split.h"

DISPA_FUZZ_TARGET(cell_labels) {
  using dispa::fuzz::require;
  const auto parts = dispa::fuzz::split_parts<2>(data);
  const std::vector<std::string> barcodes = dispa::fuzz::barcode_list(parts[0]);
  const std::string text = dispa::io::decode_text(std::string(parts[1]), "labels.tsv");
  const dispa::bio::CellLabels l = dispa::bio::parse_cell_labels(text, "labels.tsv", barcodes);
  require(l.label.size() == barcodes.size(), "one label per barcode");
  std::set<std::string> used;
  int64_t empty = 0;
  for (const std::string& s : l.label) {
    if (s.empty())
      ++empty;
    else
      used.insert(s);
  }
  const std::set<std::string> names(l.names.begin(), l.names.end());
  require(names.size() == l.names.size() && names == used, "names lists each label given to a barcode once");
  require(l.unlabelled == empty, "unlabelled counts the barcodes without a label");
  require(empty < int64_t(barcodes.size()), "labels that read label at least one barcode");
  require(l.ignored >= 0, "ignored rows are counted, never negative");
}
