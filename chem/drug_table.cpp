// Reading drugs.tsv (columns drug_name and smiles located by header). Rules: drug_table.h.
#include "chem/drug_table.h"

#include <unordered_map>

#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::chem {

DrugTable read_drug_table(const std::string& path) {
  return parse_drug_table(io::read_text_file(path), path);
}

DrugTable parse_drug_table(std::string_view text, const std::string& source) {
  DrugTable table;
  table.path = source;
  io::LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  DISPA_CHECK(lines.next(line, number), "drugs: '{}' is empty (expected a header line)", source);
  const std::vector<std::string> header = io::split_tab_fields(line);
  size_t name_col = header.size(), smiles_col = header.size();
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "drug_name" && name_col == header.size()) name_col = i;
    if (header[i] == "smiles" && smiles_col == header.size()) smiles_col = i;
  }
  DISPA_CHECK(name_col < header.size() && smiles_col < header.size(),
              "drugs: {}:1: the header must name the columns 'drug_name' and 'smiles', got [{}]", source,
              io::shorten(fmt::format("{}", fmt::join(header, ", ")), 200));
  const size_t needed = std::max(name_col, smiles_col) + 1;
  std::unordered_map<std::string, int64_t> first_line;
  while (lines.next(line, number)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> fields = io::split_tab_fields(line);
    if (fields.size() < needed) {
      table.problems.push_back({number, fmt::format("{} fields, the header needs at least {}", fields.size(), needed)});
      continue;
    }
    DrugRecord record{fields[name_col], fields[smiles_col], number};
    if (record.name.empty()) {
      table.problems.push_back({number, "empty drug_name"});
      continue;
    }
    if (record.smiles.empty()) {
      table.problems.push_back({number, fmt::format("drug '{}' has an empty smiles field", io::shorten(record.name))});
      continue;
    }
    if (auto [it, inserted] = first_line.emplace(record.name, number); !inserted) {
      table.problems.push_back(
          {number, fmt::format("drug '{}' is already defined on line {}", io::shorten(record.name), it->second)});
      continue;
    }
    table.drugs.push_back(std::move(record));
  }
  return table;
}

}  // namespace dispa::chem
