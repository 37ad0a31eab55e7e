// Gene aliases and matching (bio/gene_aliases.h): the input is an alias TSV, the model's genes
// and the data set's features (`symbol[<TAB>type]`), one per line, separated by `--8<--` lines
// (fuzz/tenx_split.h). GeneAliasTable::add_file takes a path, so the TSV goes through a file in
// /dev/shm (or the temp folder). A table that reads is symmetric (b is an alias of a iff a is one
// of b); match_genes then gives each model gene either every gene feature spelled like it or,
// only when there is none, features spelled like one of its aliases that is not itself a model
// gene; indices are in range, non-gene features are never matched and the counts add up.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "bio/gene_aliases.h"
#include "bio/gene_symbols.h"
#include "engine/io/text.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/tenx_split.h"

namespace {

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  dispa::io::LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  while (lines.next(line, number)) out.emplace_back(line);
  return out;
}

}  // namespace

DISPA_FUZZ_TARGET(gene_aliases) {
  using dispa::bio::normalize_symbol;
  using dispa::fuzz::require;
  static const std::filesystem::path file = [] {
    const std::filesystem::path shm = "/dev/shm";
    const auto dir = std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
    return dir / ("dispa_fuzz_aliases_" + std::to_string(::getpid()) + ".tsv");
  }();
  const auto parts = dispa::fuzz::split_parts<3>(data);
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(parts[0].data(), std::streamsize(parts[0].size()));
  }
  dispa::bio::GeneAliasTable table;
  table.add_file(file);
  const std::vector<std::string> genes = lines_of(parts[1]);
  std::vector<dispa::bio::Feature> features;
  for (const std::string& line : lines_of(parts[2])) {
    const size_t tab = line.find('\t');
    features.push_back({line, line.substr(0, tab), tab == std::string::npos ? "" : line.substr(tab + 1)});
  }
  std::set<std::string> model;
  for (const std::string& g : genes) {
    const std::string s = normalize_symbol(g);
    model.insert(s);
    for (const std::string& a : table.aliases_of(s)) {
      const auto& back = table.aliases_of(a);
      require(std::find(back.begin(), back.end(), s) != back.end(), "aliases are symmetric");
    }
  }
  const dispa::bio::GeneMatch m = dispa::bio::match_genes(genes, features, table);
  require(m.features_of_gene.size() == genes.size() && m.via_alias.size() == genes.size(), "one entry per gene");
  int64_t matched = 0, via_alias = 0;
  for (size_t g = 0; g < genes.size(); ++g) {
    const std::string symbol = normalize_symbol(genes[g]);
    std::vector<int32_t> exact;
    for (size_t i = 0; i < features.size(); ++i)
      if (features[i].is_gene() && normalize_symbol(features[i].symbol) == symbol) exact.push_back(int32_t(i));
    const auto& got = m.features_of_gene[g];
    matched += !got.empty();
    via_alias += m.via_alias[g];
    for (const int32_t i : got)
      require(i >= 0 && size_t(i) < features.size() && features[size_t(i)].is_gene(), "matches are gene features");
    if (!exact.empty()) {
      require(got == exact && !m.via_alias[g], "a gene takes every feature spelled like it");
      continue;
    }
    if (got.empty()) continue;
    require(m.via_alias[g] == 1, "a gene without an exact feature is matched only through an alias");
    const std::string other = normalize_symbol(features[size_t(got[0])].symbol);
    const auto& aliases = table.aliases_of(symbol);
    require(std::find(aliases.begin(), aliases.end(), other) != aliases.end() && !model.count(other),
            "an alias match uses an alias of the gene that is not a model gene itself");
    for (const int32_t i : got) require(normalize_symbol(features[size_t(i)].symbol) == other, "one alias per gene");
  }
  require(m.matched == matched && m.matched_via_alias == via_alias &&
              int64_t(m.alias_examples.size()) == via_alias,
          "match counts add up");
}
