// GMT reader (format and duplicate rule in gmt.h).
#include "bio/gmt.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/io/text.h"
#include "engine/error.h"

namespace dispa::bio {

using namespace dispa::io;  // the shared text scanning (engine/io/text.h)

std::vector<GeneSet> parse_gmt(std::string_view text, const std::string& source, SymbolCase symbol_case) {
  std::vector<GeneSet> sets;
  std::unordered_map<std::string, int64_t> line_of_id;
  std::unordered_set<std::string> seen;
  std::vector<std::string_view> fields;
  LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  while (lines.next(line, number)) {
    if (is_blank(line)) continue;
    split_tabs(line, fields);
    DISPA_CHECK(fields.size() >= 2,
                "{}: expected 'id<TAB>description<TAB>gene...', found no tab in '{}'", location(source, number),
                shorten(line));
    GeneSet set;
    set.id = std::string(trim(fields[0]));
    DISPA_CHECK(!set.id.empty(), "{}: empty gene-set id", location(source, number, 1));
    const auto [it, inserted] = line_of_id.emplace(set.id, number);
    DISPA_CHECK(inserted, "{}: gene set '{}' is defined twice (lines {} and {})", location(source, number, 1),
                shorten(set.id), it->second, number);
    set.description = std::string(trim(fields[1]));
    set.line = number;
    seen.clear();
    for (size_t i = 2; i < fields.size(); ++i) {
      std::string symbol = normalize_symbol(fields[i], symbol_case);
      // An empty field, blank or only quotes ("" normalises to nothing; found by fuzz/gmt_fuzz).
      if (symbol.empty()) continue;
      ++set.n_listed;
      if (seen.insert(symbol).second) set.genes.push_back(std::move(symbol));
    }
    sets.push_back(std::move(set));
  }
  DISPA_CHECK(!sets.empty(), "{}: no gene sets (empty file?)", source);
  return sets;
}

std::vector<GeneSet> read_gmt(const std::filesystem::path& path, SymbolCase symbol_case) {
  const std::string text = read_text_file(path);
  return parse_gmt(text, path.string(), symbol_case);
}

}  // namespace dispa::bio
