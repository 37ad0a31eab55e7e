// cells.tsv (train/response.h, read_cell_annotations): unique non-empty ids, a lineage each.
#include "fuzz/fuzz_target.h"
#include "train/response.h"

DISPA_FUZZ_TARGET(cells_tsv) {
  using dispa::fuzz::require;
  const dispa::train::CellAnnotations a = dispa::train::parse_cell_annotations(std::string(data), "cells.tsv");
  require(a.cell_ids.size() == a.lineages.size() && a.index.size() == a.cell_ids.size(), "one lineage per unique cell");
  for (size_t i = 0; i < a.cell_ids.size(); ++i) {
    require(!a.cell_ids[i].empty() && !a.lineages[i].empty(), "ids and lineages are non-empty");
    require(a.lineage(a.cell_ids[i]) == a.lineages[i], "lookup returns the row's lineage");
  }
}
