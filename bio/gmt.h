// Gene sets in GMT (MSigDB "Gene Matrix Transposed"): one set per line,
// "id<TAB>description<TAB>gene1<TAB>gene2...". Blank lines are skipped; empty gene fields (a
// trailing tab, or a field that is empty once normalised, such as "") are ignored; symbols are
// normalised as in gene_symbols.h.
// Duplicate rule: a symbol listed twice in one set counts once (the later copies are dropped and
// counted in GeneSet::n_listed); a set id that appears on two lines is an error naming both.
// (R's GSVA would keep a duplicated symbol twice; the shared GMT files have none.)
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "bio/gene_symbols.h"

namespace dispa::bio {

struct GeneSet {
  std::string id;
  std::string description;
  std::vector<std::string> genes;  // normalised, unique, in file order
  int64_t n_listed = 0;            // gene fields on the line (duplicates included)
  int64_t line = 0;                // where it was read (0 when built in memory)
};

std::vector<GeneSet> read_gmt(const std::filesystem::path& path, SymbolCase symbol_case = SymbolCase::upper);
// The same from text in memory; `source` names it in error messages.
std::vector<GeneSet> parse_gmt(std::string_view text, const std::string& source,
                               SymbolCase symbol_case = SymbolCase::upper);

}  // namespace dispa::bio
