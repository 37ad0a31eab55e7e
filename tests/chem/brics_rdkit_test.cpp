// Agreement with RDKit 2022.09.3 (the reference BRICS implementation) on the 170 GDSC drugs:
// ../shared/data/brics/gdsc170_rdkit_brics.tsv holds RDKit's broken bonds and the fragments of
// Chem.BreakBRICSBonds (fragments_multiset). Both sides are canonicalised with the same toolkit
// (chem::canonical_smiles: OpenBabel, dummy labels included in the ranking), so the comparison
// is label-aware and independent of the two toolkits' SMILES writers.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "chem/brics.h"
#include "chem/drug_table.h"
#include "engine/io/text.h"
#include "tests/support/shared_data.h"

using namespace dispa::chem;

namespace {

struct RdkitRow {
  std::string name, smiles;
  int n_heavy = 0;
  std::string broken_bonds;  // "i-j:a,b;..." or "-"
  std::vector<std::string> fragments_multiset;
};

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + sep.size();
  }
}

std::vector<RdkitRow> read_rdkit(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  REQUIRE(line == "drug_name\tsmiles\tn_heavy\tn_bonds_broken\tbroken_bonds\tfragments_unique\tfragments_multiset");
  std::vector<RdkitRow> rows;
  while (std::getline(in, line)) {
    const auto f = dispa::io::split_tab_fields(line);
    REQUIRE(f.size() == 7);
    rows.push_back({f[0], f[1], std::stoi(f[2]), f[4], split(f[6], " . ")});
  }
  return rows;
}

// RDKit's FindBRICSBonds labels bonds with the FIRST matching pair, BreakBRICSBonds (and we) with
// the LAST (see ../shared/data/brics/README.md). The two differ on exactly these drugs; the
// fragments still agree because fragments_multiset comes from BreakBRICSBonds.
const std::set<std::string> kFirstVersusLastPairLabels = {
    "GNE-317",  // O-C where the ring carbon is L4 and L15: FindBRICSBonds says 4, we (and BreakBRICSBonds) 15
};

// Drugs whose fragment multisets may differ from RDKit's, each with the reason. With OpenBabel
// 3.1.1 there are none: every aromaticity and SMARTS difference that could matter for these 170
// inputs (pyridones/uracils such as 5-fluorouracil, Obatoclax's conjugated rings, boron in
// Bortezomib) comes out the same in both toolkits, and the stereo of every fragment survives.
// A difference added here must be a real toolkit difference (aromaticity model, SMARTS semantics),
// not a bug, and the 98 % floor below still applies.
const std::map<std::string, std::string> kExplainedDifferences = {};

}  // namespace

TEST_CASE("brics: fragment multisets agree with RDKit on the 170 GDSC drugs") {
  const auto path = dispa::test::shared_path_or_skip("data/brics/gdsc170_rdkit_brics.tsv");
  if (path.empty()) return;
  const std::vector<RdkitRow> rows = read_rdkit(path);
  REQUIRE(rows.size() == 170);
  BricsFragmenter fragmenter;
  int agree = 0;
  for (const RdkitRow& row : rows) {
    CAPTURE(row.name);
    // RDKit keeps every component (salt counter-ions become fragments): compare like with like.
    const Molecule mol = parse_smiles(row.smiles, row.name, ComponentPolicy::keep_all).molecule;
    CHECK(mol.num_heavy_atoms() == row.n_heavy);
    const BricsDecomposition d = fragmenter.decompose(mol);

    std::vector<std::string> ours = d.multiset(), theirs;
    for (const std::string& f : ours) CHECK(canonical_smiles(f) == f);  // our output is canonical
    for (const std::string& f : row.fragments_multiset) theirs.push_back(canonical_smiles(f));
    std::sort(theirs.begin(), theirs.end());
    if (ours == theirs) {
      ++agree;
    } else {
      MESSAGE(row.name << "\n  ours:  " << fmt::format("{}", fmt::join(ours, " . "))
                       << "\n  RDKit: " << fmt::format("{}", fmt::join(theirs, " . ")));
      CHECK_MESSAGE(kExplainedDifferences.count(row.name) == 1, "unexplained difference for " << row.name);
    }
  }
  MESSAGE("identical fragment multisets: " << agree << " / " << rows.size());
  CHECK(agree * 100 >= static_cast<int>(rows.size()) * 98);
}

TEST_CASE("brics: broken bonds and their labels agree with RDKit's FindBRICSBonds") {
  const auto path = dispa::test::shared_path_or_skip("data/brics/gdsc170_rdkit_brics.tsv");
  if (path.empty()) return;
  BricsFragmenter fragmenter;
  int label_differences = 0;
  for (const RdkitRow& row : read_rdkit(path)) {
    CAPTURE(row.name);
    const Molecule mol = parse_smiles(row.smiles, row.name, ComponentPolicy::keep_all).molecule;
    // atom pair -> labels of (lower index, higher index)
    std::map<std::pair<int, int>, std::pair<int, int>> theirs, ours;
    if (row.broken_bonds != "-") {
      for (const std::string& b : split(row.broken_bonds, ";")) {
        int i = 0, j = 0, a = 0, c = 0;
        REQUIRE(std::sscanf(b.c_str(), "%d-%d:%d,%d", &i, &j, &a, &c) == 4);
        theirs[{std::min(i, j), std::max(i, j)}] = i < j ? std::pair(a, c) : std::pair(c, a);
      }
    }
    const auto bonds = fragmenter.find_bonds(mol);
    for (const BricsBond& b : bonds) ours[{b.atom_a, b.atom_b}] = {b.label_a, b.label_b};
    // OpenBabel keeps the input atom order, so atom indices compare directly.
    std::set<std::pair<int, int>> our_pairs, their_pairs;
    for (const auto& [k, v] : ours) our_pairs.insert(k);
    for (const auto& [k, v] : theirs) their_pairs.insert(k);
    CHECK(our_pairs == their_pairs);
    if (ours != theirs && our_pairs == their_pairs) {
      ++label_differences;
      CHECK_MESSAGE(kFirstVersusLastPairLabels.count(row.name) == 1, "label difference for " << row.name);
    }
    // The fast finder (one SMARTS per environment) equals the reference (one SMARTS per pair).
    CHECK(bonds == fragmenter.find_bonds_by_pair_smarts(mol));
  }
  CHECK(label_differences == static_cast<int>(kFirstVersusLastPairLabels.size()));
}
