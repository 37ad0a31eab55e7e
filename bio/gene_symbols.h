// Gene-symbol normalisation shared by the expression readers and the GMT reader, so that both
// sides of an intersection are spelled the same way.
//
// Rule: surrounding ASCII whitespace and enclosing double quotes (every pair, with the whitespace
// inside them) are removed, then
// (SymbolCase::upper, the default) letters are upper-cased. HGNC human symbols are upper case by
// convention, so upper-casing makes "Tp53", "tp53 " and "TP53" one gene; SymbolCase::keep leaves
// the case alone (e.g. to keep mouse and human symbols apart). Nothing else is rewritten: aliases
// and retired symbols (SEPT9 vs SEPTIN9) are not resolved. Normalising twice changes nothing.
#pragma once
#include <string>
#include <string_view>

namespace dispa::bio {

enum class SymbolCase { upper, keep };

std::string normalize_symbol(std::string_view raw, SymbolCase symbol_case = SymbolCase::upper);

// Parses "upper" / "keep"; throws dispa::Error otherwise.
SymbolCase parse_symbol_case(std::string_view text);

}  // namespace dispa::bio
