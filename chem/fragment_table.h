// The library side of `dispa fragment`: BRICS fragments for every drug of a drugs.tsv (or for one
// SMILES), written as TSV or JSON.
//
// TSV output: header "name\tn_fragments\tfragments"; one row per drug that could be fragmented,
// in input order; fragments are canonical SMILES joined by " . " (multiset: one entry per
// occurrence, sorted; --unique: each distinct fragment once, and n_fragments counts those).
// JSON output: {"molecules": [{"name", "line", "n_fragments", "fragments": [...],
// "dropped_components": [...]}], "errors": [{"line", "name", "message"}]}.
// Rows that fail (bad TSV row, unparsable SMILES) are returned as failures with their line numbers
// for the caller to report, and the rest are still processed. With failures nothing is written
// (a table missing rows must not look complete) unless skip_invalid is set: then the TSV holds
// the good rows and the JSON lists the failures under "errors".
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "chem/molecule.h"

namespace dispa::chem {

struct FragmentTableOptions {
  std::string drugs_path;   // drugs.tsv (columns drug_name, smiles); or
  std::string smiles;       // a single molecule
  std::string name;         // its name (default: the SMILES itself)
  std::string out_path;     // "" or "-": standard output
  bool json = false;
  bool unique = false;
  bool skip_invalid = false;  // write the good rows even when some rows failed
  ComponentPolicy components = ComponentPolicy::largest_organic;
};

struct FragmentRow {
  std::string name;
  int64_t line = 0;                       // 0 for --smiles
  std::vector<std::string> fragments;     // multiset or unique set, sorted
  std::vector<std::string> dropped;       // components removed by the component policy
};

struct FragmentFailure {
  int64_t line = 0;
  std::string name;
  std::string message;
};

struct FragmentTable {
  std::string source;                     // the drugs path, or "--smiles"
  std::vector<FragmentRow> rows;
  std::vector<FragmentFailure> failures;
  bool written = false;                   // run_fragment wrote the output
};

// Fragments every drug (nothing is written).
FragmentTable fragment_drugs(const FragmentTableOptions& options);
// Writes rows (TSV) or rows and failures (JSON) in the documented format.
void write_fragment_table(const FragmentTable& table, const FragmentTableOptions& options, std::ostream& out);
// fragment_drugs + write_fragment_table to options.out_path (atomically) or stdout. Throws
// dispa::Error when the input cannot be read at all or the output cannot be written (an output
// path that is a folder is refused before any work); row failures are returned, and with
// failures and no skip_invalid nothing is written (FragmentTable::written says whether it was).
FragmentTable run_fragment(const FragmentTableOptions& options);

}  // namespace dispa::chem
