// GMT gene sets (bio/gmt.h): a parse that succeeds gives non-empty ids, unique ids, unique genes
// per set and n_listed >= the kept genes.
#include <set>

#include "bio/gmt.h"
#include "engine/io/text.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(gmt) {
  using dispa::fuzz::require;
  const std::string text = dispa::io::decode_text(std::string(data), "g.gmt");
  const auto sets = dispa::bio::parse_gmt(text, "g.gmt");
  require(!sets.empty(), "a GMT that reads has a set");
  std::set<std::string> ids;
  for (const auto& s : sets) {
    require(!s.id.empty() && ids.insert(s.id).second, "set ids are non-empty and unique");
    require(std::set<std::string>(s.genes.begin(), s.genes.end()).size() == s.genes.size(), "genes unique per set");
    require(s.n_listed >= int64_t(s.genes.size()), "n_listed counts duplicates too");
    for (const auto& g : s.genes) require(!g.empty(), "no empty gene symbol");
  }
}
