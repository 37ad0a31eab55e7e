// response.tsv (train/response.h): a table that reads has finite values, unique (cell, drug)
// pairs, and interned ids that index back to their names.
#include <cmath>
#include <set>

#include "fuzz/fuzz_target.h"
#include "train/response.h"

DISPA_FUZZ_TARGET(response_tsv) {
  using dispa::fuzz::require;
  const dispa::train::ResponseData r = dispa::train::parse_response(std::string(data), "response.tsv");
  std::set<std::pair<int32_t, int32_t>> seen;
  for (const auto& p : r.table.pairs) {
    require(std::isfinite(p.ln_ic50), "ln_ic50 is finite");
    require(p.cell >= 0 && p.cell < r.table.num_cells() && p.drug >= 0 && p.drug < r.table.num_drugs(),
            "pair indices are in range");
    require(seen.emplace(p.cell, p.drug).second, "pairs are unique");
  }
  for (int32_t c = 0; c < r.table.num_cells(); ++c)
    require(r.table.find_cell(r.table.cell_ids[size_t(c)]) == c, "cell lookup is consistent");
  require(r.excluded.total == 0, "nothing is excluded without known sets");
}
