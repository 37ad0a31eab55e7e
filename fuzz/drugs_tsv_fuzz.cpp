// drugs.tsv (chem/drug_table.h): rows are kept or reported as problems with their line; kept
// names are unique and non-empty, kept SMILES non-empty, lines increase.
#include <set>

#include "chem/drug_table.h"
#include "engine/io/text.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(drugs_tsv) {
  using dispa::fuzz::require;
  const std::string text = dispa::io::decode_text(std::string(data), "drugs.tsv");
  const dispa::chem::DrugTable t = dispa::chem::parse_drug_table(text, "drugs.tsv");
  std::set<std::string> names;
  int64_t last = 1;
  for (const auto& d : t.drugs) {
    require(!d.name.empty() && !d.smiles.empty(), "kept rows have a name and a SMILES");
    require(names.insert(d.name).second, "kept names are unique");
    require(d.line > last, "kept rows are in line order after the header");
    last = d.line;
  }
  for (const auto& p : t.problems) require(p.line > 1 && !p.message.empty(), "problems name a data line");
}
