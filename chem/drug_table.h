// drugs.tsv: one drug per row, tab-separated, a header naming at least the columns `drug_name`
// and `smiles` (other columns, e.g. pubchem_cid, targets, are ignored). Shared by `dispa fragment`
// and by train/ (which maps response.tsv's drug names onto these rows).
//
// A missing file or a header without the two columns is an error (dispa::Error naming the file).
// Row-level problems are collected with their 1-based line numbers, and the row is skipped: too
// few fields, an empty name or SMILES, a name already used on an earlier line. Blank lines are
// skipped silently. Callers decide whether problems are fatal (`dispa fragment` reports them and
// fails at the end; training should refuse to start).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dispa::chem {

struct DrugRecord {
  std::string name;
  std::string smiles;
  int64_t line = 0;  // 1-based line in the file (the header is line 1)
};

struct DrugTableProblem {
  int64_t line = 0;
  std::string message;  // without the "file:line: " prefix
};

struct DrugTable {
  std::string path;
  std::vector<DrugRecord> drugs;
  std::vector<DrugTableProblem> problems;
};

DrugTable read_drug_table(const std::string& path);
// The same over text in memory; `source` names it (DrugTable::path) in messages.
DrugTable parse_drug_table(std::string_view text, const std::string& source);

}  // namespace dispa::chem
