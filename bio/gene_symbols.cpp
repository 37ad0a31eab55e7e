#include "bio/gene_symbols.h"

#include "engine/io/text.h"
#include "engine/error.h"

namespace dispa::bio {

using namespace dispa::io;  // the shared text scanning (engine/io/text.h)

std::string normalize_symbol(std::string_view raw, SymbolCase symbol_case) {
  std::string_view s = trim(raw);
  // Every enclosing pair, not just one: the result must normalise to itself, or a matrix could
  // not find its own gene '"X"' (read from '""X""') by name (found by fuzz/expression_tsv_fuzz).
  while (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim(s.substr(1, s.size() - 2));
  std::string out(s);
  if (symbol_case == SymbolCase::upper)
    for (char& c : out)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

SymbolCase parse_symbol_case(std::string_view text) {
  if (text == "upper") return SymbolCase::upper;
  if (text == "keep") return SymbolCase::keep;
  fail("unknown symbol case '{}' (expected upper or keep)", text);
}

}  // namespace dispa::bio
