// `dispa fragment` as a library function: drugs.tsv -> BRICS fragments -> TSV/JSON. Formats and
// failure handling: fragment_table.h.
#include "chem/fragment_table.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chem/brics.h"
#include "chem/drug_table.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace dispa::chem {
namespace {

FragmentRow fragment_one(const std::string& name, const std::string& smiles, int64_t line,
                         const FragmentTableOptions& options) {
  ParsedMolecule parsed = parse_smiles(smiles, name, options.components);
  BricsDecomposition d = brics_decompose(parsed.molecule);
  return {name, line, options.unique ? d.unique() : d.multiset(), std::move(parsed.dropped)};
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

}  // namespace

FragmentTable fragment_drugs(const FragmentTableOptions& options) {
  DISPA_CHECK(options.drugs_path.empty() != options.smiles.empty(),
              "fragment: give either a drugs file or one SMILES (got {})",
              options.smiles.empty() ? "neither" : "both");
  FragmentTable table;
  if (!options.smiles.empty()) {
    table.source = "--smiles";
    const std::string name = options.name.empty() ? options.smiles : options.name;
    try {
      table.rows.push_back(fragment_one(name, options.smiles, 0, options));
    } catch (const Error& e) {
      table.failures.push_back({0, name, e.what()});
    }
    return table;
  }
  DrugTable drugs = read_drug_table(options.drugs_path);
  table.source = options.drugs_path;
  for (const DrugTableProblem& p : drugs.problems) table.failures.push_back({p.line, "", p.message});
  for (const DrugRecord& drug : drugs.drugs) {
    try {
      table.rows.push_back(fragment_one(drug.name, drug.smiles, drug.line, options));
    } catch (const Error& e) {
      table.failures.push_back({drug.line, drug.name, e.what()});
    }
  }
  std::sort(table.failures.begin(), table.failures.end(),
            [](const FragmentFailure& a, const FragmentFailure& b) { return a.line < b.line; });
  return table;
}

void write_fragment_table(const FragmentTable& table, const FragmentTableOptions& options, std::ostream& out) {
  if (options.json) {
    nlohmann::ordered_json doc;
    doc["molecules"] = nlohmann::ordered_json::array();
    for (const FragmentRow& row : table.rows) {
      nlohmann::ordered_json m;
      m["name"] = row.name;
      m["line"] = row.line;
      m["n_fragments"] = row.fragments.size();
      m["fragments"] = row.fragments;
      m["dropped_components"] = row.dropped;
      doc["molecules"].push_back(std::move(m));
    }
    doc["errors"] = nlohmann::ordered_json::array();
    for (const FragmentFailure& f : table.failures)
      doc["errors"].push_back({{"line", f.line}, {"name", f.name}, {"message", f.message}});
    out << doc.dump(2) << '\n';
    return;
  }
  out << "name\tn_fragments\tfragments\n";
  for (const FragmentRow& row : table.rows)
    out << row.name << '\t' << row.fragments.size() << '\t' << join(row.fragments, " . ") << '\n';
}

FragmentTable run_fragment(const FragmentTableOptions& options) {
  const bool to_stdout = options.out_path.empty() || options.out_path == "-";
  if (!to_stdout) io::check_output_file(options.out_path, "--out");
  FragmentTable table = fragment_drugs(options);
  if (!table.failures.empty() && !options.skip_invalid) return table;
  std::ostringstream text;
  write_fragment_table(table, options, text);
  if (to_stdout) {
    std::cout << text.str();
    std::cout.flush();
  } else {
    io::write_file_atomically(options.out_path, text.str());
  }
  table.written = true;
  return table;
}

}  // namespace dispa::chem
