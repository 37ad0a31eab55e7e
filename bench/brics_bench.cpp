// Molecules per second for the drug side of DiSPA over the 170 GDSC drugs: SMILES parsing,
// + BRICS fragmentation (bonds, cuts, canonical fragment SMILES), + Morgan count fingerprints of the
// molecule and of every fragment, + descriptors. items_per_second = molecules/s.
// bench/compare_rdkit.sh runs this next to bench/rdkit_brics.py (RDKit's BRICS on the same input)
// and prints the ratios. Input: $DISPA_SHARED/data/gdsc2/drugs.tsv (column `smiles`).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chem/brics.h"
#include "chem/fingerprint.h"

namespace {

using namespace dispa::chem;

std::string shared_dir() {
  if (const char* env = std::getenv("DISPA_SHARED"); env && *env) return env;
  return DISPA_SHARED_DEFAULT;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, sep)) out.push_back(field);
  return out;
}

// The SMILES column of a TSV with a header.
std::vector<std::string> read_smiles(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto header = split(line, '\t');
  size_t col = header.size();
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == "smiles") col = i;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    const auto fields = split(line, '\t');
    if (col < fields.size()) out.push_back(fields[col]);
  }
  return out;
}

const std::vector<std::string>& drugs() {
  static const std::vector<std::string> smiles = read_smiles(shared_dir() + "/data/gdsc2/drugs.tsv");
  return smiles;
}

// A benchmark of wrong code is worthless: fragment counts must match RDKit's BreakBRICSBonds
// (fragments_multiset) for at least 98% of the drugs before anything is timed.
std::string check_against_rdkit() {
  const auto rows = [] {
    std::ifstream in(shared_dir() + "/data/brics/gdsc170_rdkit_brics.tsv");
    std::vector<std::vector<std::string>> out;
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) out.push_back(split(line, '\t'));
    return out;
  }();
  if (rows.empty()) return "no RDKit reference (set DISPA_SHARED)";
  size_t agree = 0;
  for (const auto& row : rows) {
    const auto mol = parse_smiles(row[1], row[0], ComponentPolicy::keep_all).molecule;
    size_t n_ref = 1;
    for (size_t p = row[6].find(" . "); p != std::string::npos; p = row[6].find(" . ", p + 3)) ++n_ref;
    if (brics_decompose(mol).fragments.size() == n_ref) ++agree;
  }
  if (agree * 100 < rows.size() * 98)
    return "fragment counts agree with RDKit for only " + std::to_string(agree) + " drugs";
  return {};
}

enum class Stage { parse, brics, fingerprints, descriptors };

void run(benchmark::State& state, Stage stage) {
  const auto& smiles = drugs();
  if (smiles.empty()) {
    state.SkipWithError("no drugs.tsv under $DISPA_SHARED/data/gdsc2");
    return;
  }
  static const std::string problem = check_against_rdkit();
  if (!problem.empty()) {
    state.SkipWithError(problem.c_str());
    return;
  }
  BricsFragmenter fragmenter;
  const FingerprintOptions options{2, 2048};
  for (auto _ : state) {
    for (const std::string& s : smiles) {
      // keep_all, as RDKit: the comparison script does not strip salts either.
      Molecule mol = parse_smiles(s, {}, ComponentPolicy::keep_all).molecule;
      if (stage == Stage::parse) {
        benchmark::DoNotOptimize(mol.num_atoms());
        continue;
      }
      BricsDecomposition d = fragmenter.decompose(mol);
      benchmark::DoNotOptimize(d.fragments.data());
      if (stage == Stage::brics) continue;
      benchmark::DoNotOptimize(morgan_counts(mol, options).data());
      for (const BricsFragment& f : d.fragments) benchmark::DoNotOptimize(morgan_counts(f.molecule, options).data());
      if (stage == Stage::fingerprints) continue;
      benchmark::DoNotOptimize(descriptors(mol).data());
      for (const BricsFragment& f : d.fragments) benchmark::DoNotOptimize(descriptors(f.molecule).data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(smiles.size()));
  state.counters["molecules"] = static_cast<double>(smiles.size());
}

}  // namespace

BENCHMARK_CAPTURE(run, parse, Stage::parse)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, parse_brics, Stage::brics)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, parse_brics_fingerprints, Stage::fingerprints)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, parse_brics_fingerprints_descriptors, Stage::descriptors)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
