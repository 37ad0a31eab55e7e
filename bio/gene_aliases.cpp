// Gene aliases and matching (see gene_aliases.h).
#include "bio/gene_aliases.h"

#include <unordered_set>

#include "bio/gene_symbols.h"
#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::bio {

const std::vector<GeneAlias>& builtin_gene_aliases() {
  static const std::vector<GeneAlias> table = {
      // gdsc2/genes.tsv: symbol_hgnc_2019 -> symbol (org.Hs.eg.db 3.16)
      {"SEPT9", "SEPTIN9"}, {"FGFR1OP", "CEP43"}, {"C15orf65", "PIERCE2"}, {"SEPT6", "SEPTIN6"},
      {"H3F3A", "H3-3A"}, {"H3F3B", "H3-3B"}, {"SEPT5", "SEPTIN5"}, {"HIST1H4I", "H4C9"}, {"CARS", "CARS1"},
      // spatial/README.md: older symbols found in the Moncada 2020 and Stahl 2016 data
      {"MKL1", "MRTFA"}, {"FAM46C", "TENT5C"}, {"MLLT4", "AFDN"}, {"CASC5", "KNL1"}, {"LHFP", "LHFPL6"},
      {"WHSC1", "NSD2"}, {"WHSC1L1", "NSD3"}, {"C2orf44", "WDCP"},
  };
  return table;
}

GeneAliasTable::GeneAliasTable() {
  for (const GeneAlias& a : builtin_gene_aliases()) add(a.previous, a.current, "built-in alias table");
}

void GeneAliasTable::add(const std::string& previous_raw, const std::string& current_raw, const std::string& where) {
  const std::string previous = normalize_symbol(previous_raw), current = normalize_symbol(current_raw);
  DISPA_CHECK(!previous.empty() && !current.empty(), "{}: empty symbol in an alias pair", where);
  if (previous == current) return;
  const auto [it, added] = current_of_.emplace(previous, current);
  if (!added) {
    DISPA_CHECK(it->second == current, "{}: '{}' is already an alias of '{}', cannot also stand for '{}'", where,
                previous, it->second, current);
    return;
  }
  aliases_[current].push_back(previous);
  aliases_[previous].push_back(current);
  ++pairs_;
}

void GeneAliasTable::add_file(const std::filesystem::path& path) {
  const std::string text = io::read_text_file(path);
  io::LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  std::vector<std::string_view> fields;
  while (lines.next(line, number)) {
    if (io::is_blank(line) || line[0] == '#') continue;
    io::split_tabs(line, fields);
    const std::string where = io::location(path.string(), number);
    DISPA_CHECK(fields.size() >= 2, "{}: expected 'previous<TAB>current', got '{}'", where, line.substr(0, 60));
    if (number == 1 && (io::trim(fields[0]) == "previous" || io::trim(fields[0]) == "previous_symbol")) continue;
    add(std::string(io::trim(fields[0])), std::string(io::trim(fields[1])), where);
  }
}

const std::vector<std::string>& GeneAliasTable::aliases_of(const std::string& symbol) const {
  static const std::vector<std::string> none;
  const auto it = aliases_.find(symbol);
  return it == aliases_.end() ? none : it->second;
}

GeneMatch match_genes(const std::vector<std::string>& model_genes, const std::vector<Feature>& features,
                      const GeneAliasTable& aliases) {
  std::unordered_map<std::string, std::vector<int32_t>> by_symbol;
  for (size_t i = 0; i < features.size(); ++i)
    if (features[i].is_gene()) by_symbol[normalize_symbol(features[i].symbol)].push_back(int32_t(i));
  GeneMatch m;
  m.features_of_gene.resize(model_genes.size());
  m.via_alias.assign(model_genes.size(), 0);
  std::unordered_set<std::string> model_set;
  for (const std::string& g : model_genes) model_set.insert(normalize_symbol(g));
  for (size_t g = 0; g < model_genes.size(); ++g) {
    const std::string symbol = normalize_symbol(model_genes[g]);
    if (auto it = by_symbol.find(symbol); it != by_symbol.end()) {
      m.features_of_gene[g] = it->second;
      ++m.matched;
      continue;
    }
    for (const std::string& alias : aliases.aliases_of(symbol)) {
      // A spelling that is itself a model gene belongs to that gene.
      if (model_set.count(alias)) continue;
      if (auto it = by_symbol.find(alias); it != by_symbol.end()) {
        m.features_of_gene[g] = it->second;
        m.via_alias[g] = 1;
        ++m.matched;
        ++m.matched_via_alias;
        m.alias_examples.push_back(model_genes[g] + " (as " + features[size_t(it->second[0])].symbol + ")");
        break;
      }
    }
  }
  return m;
}

}  // namespace dispa::bio
