// Expression tables in GCT 1.2 (the ".gct" name selects the GCT reader), read strict and lenient
// with the invariants of expression_checks.h; with Name and with Description as the symbol.
#include "bio/expression.h"
#include "engine/io/text.h"
#include "fuzz/expression_checks.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(expression_gct) {
  const std::string text = dispa::io::decode_text(std::string(data), "e.gct");
  dispa::fuzz::read_expression_both_ways(text, "e.gct");
}
