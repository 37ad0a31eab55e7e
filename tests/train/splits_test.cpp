// Splits: no leakage between roles for the blind schemes, every pair tested exactly once across
// folds, determinism for a seed, stratification proportions, and the split file round trip.
#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>

#include <doctest/doctest.h>

#include "engine/error.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "train/splits.h"

using namespace dispa;
using namespace dispa::train;
using dispa::test::error_of;

namespace {

// 30 cells x 12 drugs, about 86 % of the pairs measured (a fixed pattern of holes).
ResponseTable synthetic_table(int cells = 30, int drugs = 12) {
  ResponseTable t;
  for (int c = 0; c < cells; ++c)
    for (int d = 0; d < drugs; ++d)
      if ((c * 7 + d * 3) % 7 != 0 || d == 0) t.add(fmt::format("C{:02d}", c), fmt::format("D{:02d}", d), 0.1 * c - d);
  return t;
}

// Lineage sizes 10, 8, 6, 3, 2, 1 (a singleton stratum on purpose).
std::unordered_map<std::string, std::string> lineages() {
  const int sizes[] = {10, 8, 6, 3, 2, 1};
  std::unordered_map<std::string, std::string> m;
  int c = 0;
  for (int l = 0; l < 6; ++l)
    for (int k = 0; k < sizes[l]; ++k) m[fmt::format("C{:02d}", c++)] = fmt::format("lineage{}", l);
  return m;
}

std::unordered_map<std::string, std::string> scaffolds() {
  const char* s[] = {"s1", "s1", "s1", "s2", "s2", "s3", "", "", "s4", "s5", "s6", "s7"};
  std::unordered_map<std::string, std::string> m;
  for (int d = 0; d < 12; ++d) m[fmt::format("D{:02d}", d)] = s[d];
  return m;
}

// The ids (cells or drugs) that appear with a role in a fold.
std::set<int32_t> ids_with(const ResponseTable& t, const Split& s, int fold, Role role, bool cells) {
  std::set<int32_t> out;
  for (const int64_t i : s.indices(fold, role))
    out.insert(cells ? t.pairs[static_cast<size_t>(i)].cell : t.pairs[static_cast<size_t>(i)].drug);
  return out;
}

bool disjoint_sets(const std::set<int32_t>& a, const std::set<int32_t>& b) {
  return std::none_of(a.begin(), a.end(), [&](int32_t x) { return b.count(x) > 0; });
}

// Every pair is a test pair in exactly one fold (or at most one, for disjoint).
std::vector<int> test_counts(const Split& s) {
  std::vector<int> n(static_cast<size_t>(s.num_pairs()), 0);
  for (int f = 0; f < s.folds(); ++f)
    for (const int64_t i : s.indices(f, Role::test)) ++n[static_cast<size_t>(i)];
  return n;
}

}  // namespace

TEST_CASE("philox_permutation: a permutation, deterministic, stream-dependent, pinned") {
  const auto p = philox_permutation(1000, 42, 7);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) CHECK(sorted[static_cast<size_t>(i)] == i);
  CHECK(philox_permutation(1000, 42, 7) == p);
  CHECK(philox_permutation(1000, 42, 8) != p);
  CHECK(philox_permutation(1000, 43, 7) != p);
  CHECK(philox_permutation(0, 1, 1).empty());
  CHECK(philox_permutation(1, 1, 1) == std::vector<int64_t>{0});
  // Pinned: a change here changes every saved split; bump deliberately, never by accident.
  CHECK(philox_permutation(8, 0, 1) == std::vector<int64_t>{3, 0, 6, 4, 2, 1, 5, 7});
}

TEST_CASE("k-fold random: each pair tested once, roles fill the table, validation fraction") {
  const ResponseTable t = synthetic_table();
  const Split s = kfold_split(t, {SplitScheme::random, 5, 7, 0.1});
  REQUIRE(s.folds() == 5);
  for (const int n : test_counts(s)) CHECK(n == 1);
  for (int f = 0; f < 5; ++f) {
    const int64_t n_test = s.count(f, Role::test), n_val = s.count(f, Role::val);
    CHECK(s.count(f, Role::unused) == 0);
    CHECK(std::abs(n_test - t.size() / 5) <= 1);
    CHECK(n_val == std::llround(0.1 * static_cast<double>(t.size() - n_test)));
  }
}

TEST_CASE("k-fold cell-blind and drug-blind: no leakage, each pair tested once") {
  const ResponseTable t = synthetic_table();
  for (const SplitScheme scheme : {SplitScheme::cell_blind, SplitScheme::drug_blind}) {
    CAPTURE(scheme_name(scheme));
    const bool cells = scheme == SplitScheme::cell_blind;
    const Split s = kfold_split(t, {scheme, 4, 3, 0.2});
    for (const int n : test_counts(s)) CHECK(n == 1);
    std::set<int32_t> tested;
    for (int f = 0; f < 4; ++f) {
      const auto tr = ids_with(t, s, f, Role::train, cells), va = ids_with(t, s, f, Role::val, cells),
                 te = ids_with(t, s, f, Role::test, cells);
      CHECK(disjoint_sets(te, tr));
      CHECK(disjoint_sets(te, va));
      CHECK(disjoint_sets(va, tr));
      CHECK(!va.empty());
      for (const int32_t id : te) CHECK(tested.insert(id).second);  // each id tested in one fold
    }
    CHECK(tested.size() == static_cast<size_t>(cells ? t.num_cells() : t.num_drugs()));
  }
}

TEST_CASE("k-fold disjoint: unseen cells and unseen drugs") {
  const ResponseTable t = synthetic_table();
  const Split s = kfold_split(t, {SplitScheme::disjoint, 3, 11, 0.2});
  for (const int n : test_counts(s)) CHECK(n <= 1);
  for (int f = 0; f < 3; ++f) {
    CHECK(s.count(f, Role::test) > 0);
    CHECK(s.count(f, Role::val) > 0);
    for (const bool cells : {true, false}) {
      const auto tr = ids_with(t, s, f, Role::train, cells), va = ids_with(t, s, f, Role::val, cells),
                 te = ids_with(t, s, f, Role::test, cells);
      CHECK(disjoint_sets(te, tr));
      CHECK(disjoint_sets(te, va));
      CHECK(disjoint_sets(va, tr));
    }
  }
}

TEST_CASE("k-fold: deterministic for a seed, different for another") {
  const ResponseTable t = synthetic_table();
  for (const SplitScheme scheme :
       {SplitScheme::random, SplitScheme::cell_blind, SplitScheme::drug_blind, SplitScheme::disjoint}) {
    CAPTURE(scheme_name(scheme));
    CHECK(kfold_split(t, {scheme, 3, 5, 0.1}).roles == kfold_split(t, {scheme, 3, 5, 0.1}).roles);
    CHECK(kfold_split(t, {scheme, 3, 5, 0.1}).roles != kfold_split(t, {scheme, 3, 6, 0.1}).roles);
  }
}

TEST_CASE("k-fold: argument errors") {
  const ResponseTable t = synthetic_table(4, 3);
  CHECK(error_of([&] { kfold_split(t, {SplitScheme::random, 1, 0, 0.1}); }).find("folds must be >= 2") !=
        std::string::npos);
  CHECK(error_of([&] { kfold_split(t, {SplitScheme::drug_blind, 5, 0, 0.1}); }).find("3 drugs cannot fill 5 folds") !=
        std::string::npos);
  CHECK(error_of([&] { kfold_split(t, {SplitScheme::random, 2, 0, 1.0}); }).find("val_fraction") != std::string::npos);
  CHECK(error_of([&] { kfold_split(t, {SplitScheme::tgsa_mixed, 2, 0, 0.1}); }).find("not a k-fold scheme") !=
        std::string::npos);
  CHECK(error_of([] { parse_scheme("blind"); }).find("cell-blind") != std::string::npos);
  CHECK(parse_scheme("tgsa-drug-blind") == SplitScheme::tgsa_drug_blind);
}

TEST_CASE("tgsa-mixed: 80/10/10 within every cell line") {
  const ResponseTable t = synthetic_table(40, 30);
  const Split s = tgsa_mixed_split(t, 1);
  REQUIRE(s.folds() == 1);
  CHECK(s.count(0, Role::unused) == 0);
  const double n = static_cast<double>(t.size());
  CHECK(std::abs(static_cast<double>(s.count(0, Role::test)) - 0.1 * n) <= 1.0);
  CHECK(std::abs(static_cast<double>(s.count(0, Role::val)) - 0.1 * n) <= 1.0);
  std::map<int32_t, std::array<int, 4>> per_cell;
  for (size_t i = 0; i < t.pairs.size(); ++i) ++per_cell[t.pairs[i].cell][static_cast<size_t>(s.roles[0][i])];
  for (const auto& [cell, c] : per_cell) {
    const double total = c[1] + c[2] + c[3];
    CAPTURE(cell);
    CHECK(std::abs(c[3] - 0.1 * total) < 1.0 + 1e-9);
    CHECK(std::abs(c[2] - 0.1 * total) < 1.0 + 1e-9);
  }
  CHECK(tgsa_mixed_split(t, 1).roles == s.roles);
  CHECK(tgsa_mixed_split(t, 2).roles != s.roles);
}

TEST_CASE("tgsa-cell-blind: 60/20/20 of cell lines, stratified by lineage, no leakage") {
  const ResponseTable t = synthetic_table();
  const auto lin = lineages();
  const Split s = tgsa_cell_blind_split(t, lin, 3);
  const auto tr = ids_with(t, s, 0, Role::train, true), va = ids_with(t, s, 0, Role::val, true),
             te = ids_with(t, s, 0, Role::test, true);
  CHECK(disjoint_sets(te, tr));
  CHECK(disjoint_sets(te, va));
  CHECK(disjoint_sets(va, tr));
  CHECK(tr.size() + va.size() + te.size() == 30);
  CHECK(te.size() == 6);  // round(0.2 * 30), totals are exact to within one
  CHECK(va.size() == 6);
  // Per lineage: test and validation cells within one of 20 %.
  std::map<std::string, std::array<int, 4>> per_lineage;
  for (const int32_t c : tr) ++per_lineage[lin.at(t.cell_ids[static_cast<size_t>(c)])][1];
  for (const int32_t c : va) ++per_lineage[lin.at(t.cell_ids[static_cast<size_t>(c)])][2];
  for (const int32_t c : te) ++per_lineage[lin.at(t.cell_ids[static_cast<size_t>(c)])][3];
  for (const auto& [name, c] : per_lineage) {
    CAPTURE(name);
    const double total = c[1] + c[2] + c[3];
    CHECK(std::abs(c[3] - 0.2 * total) < 1.0 + 1e-9);
    CHECK(std::abs(c[2] - 0.2 * total) < 1.0 + 1e-9);
  }
  auto missing = lin;
  missing.erase("C05");
  CHECK(error_of([&] { tgsa_cell_blind_split(t, missing, 3); }).find("no lineage given for 'C05'") != std::string::npos);
}

TEST_CASE("tgsa-drug-blind: scaffold groups never straddle roles; greedy 60/20/20 of drugs") {
  const ResponseTable t = synthetic_table();
  const auto scaf = scaffolds();
  for (const uint64_t seed : {0, 1, 2, 3, 4}) {
    CAPTURE(seed);
    const Split s = tgsa_drug_blind_split(t, scaf, seed);
    std::map<std::string, std::set<Role>> roles_of_scaffold;
    std::array<std::set<int32_t>, 4> drugs_by_role;
    for (size_t i = 0; i < t.pairs.size(); ++i) {
      const int32_t d = t.pairs[i].drug;
      roles_of_scaffold[scaf.at(t.drug_names[static_cast<size_t>(d)])].insert(s.roles[0][i]);
      drugs_by_role[static_cast<size_t>(s.roles[0][i])].insert(d);
    }
    for (const auto& [scaffold, roles] : roles_of_scaffold) CHECK(roles.size() == 1);
    CHECK(drugs_by_role[0].empty());
    CHECK(drugs_by_role[1].size() <= 7);                          // floor(0.6 * 12)
    CHECK(drugs_by_role[1].size() + drugs_by_role[2].size() <= 9);  // floor(0.8 * 12)
    // A group is refused by train only if it does not fit; groups have <= 3 drugs, so train ends >= 5.
    CHECK(drugs_by_role[1].size() >= 5);
    CHECK(!drugs_by_role[3].empty());
  }
  CHECK(tgsa_drug_blind_split(t, scaf, 9).roles == tgsa_drug_blind_split(t, scaf, 9).roles);
}

TEST_CASE("check_split: catches leakage in a hand-edited split") {
  const ResponseTable t = synthetic_table();
  Split s = kfold_split(t, {SplitScheme::cell_blind, 3, 1, 0.0});
  const int64_t i = s.indices(0, Role::test).front();
  const int32_t cell = t.pairs[static_cast<size_t>(i)].cell;
  // Move one other pair of the same cell to training.
  for (size_t k = 0; k < t.pairs.size(); ++k)
    if (t.pairs[k].cell == cell && static_cast<int64_t>(k) != i) {
      s.roles[0][k] = Role::train;
      break;
    }
  CHECK(error_of([&] { check_split(t, s); }).find("test cell '" + t.cell_ids[static_cast<size_t>(cell)] +
                                                  "' also in training") != std::string::npos);
}

TEST_CASE("write_split / read_split: round trip and errors") {
  const ResponseTable t = synthetic_table();
  test::TempDir dir("splits_io");
  const Split s = kfold_split(t, {SplitScheme::disjoint, 3, 99, 0.2});
  const auto file = dir.path() / "split.tsv";
  write_split(file, t, s);
  const Split back = read_split(file, t);
  CHECK(back.scheme == SplitScheme::disjoint);
  CHECK(back.seed == 99);
  CHECK(back.roles == s.roles);

  // The file is keyed by ids: a table with the same pairs in another order reads the same roles.
  ResponseTable reversed;
  for (auto it = t.pairs.rbegin(); it != t.pairs.rend(); ++it)
    reversed.add(t.cell_ids[static_cast<size_t>(it->cell)], t.drug_names[static_cast<size_t>(it->drug)], it->ln_ic50);
  const Split rev = read_split(file, reversed);
  for (size_t k = 0; k < t.pairs.size(); ++k) CHECK(rev.roles[1][t.pairs.size() - 1 - k] == s.roles[1][k]);

  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string copy = text;
    copy.replace(copy.find(from), from.size(), to);
    return dir.write("edited.tsv", copy);
  };
  CHECK(error_of([&] { read_split(edited("C00\tD00", "C00\tD99"), t); }).find("pair C00 / D99 is not in the response") !=
        std::string::npos);
  CHECK(error_of([&] { read_split(edited("seed=99", "seed=x"), t); }).find("seed 'x'") != std::string::npos);
  CHECK(error_of([&] { read_split(edited("folds=3", "folds=4"), t); }).find("folds=4") != std::string::npos);
  const std::string first_row = text.substr(text.find("C00\tD00"));
  const std::string role_field = first_row.substr(8, first_row.find('\t', 8) - 8);
  CHECK(error_of([&] { read_split(edited("C00\tD00\t" + role_field, "C00\tD00\tmaybe"), t); })
            .find("role 'maybe'") != std::string::npos);
  // A missing pair.
  const size_t row = text.find("C00\tD00");
  std::string dropped = text;
  dropped.erase(row, text.find('\n', row) - row + 1);
  CHECK(error_of([&] { read_split(dir.write("dropped.tsv", dropped), t); }).find("C00 / D00 of the response table is missing") !=
        std::string::npos);
}

TEST_CASE("splits on gdsc2-mini: every scheme passes its own leakage check") {
  const auto dir = test::shared_path_or_skip("data/gdsc2-mini");
  if (dir.empty()) return;
  const ResponseTable t = read_response_folder(dir).table;
  for (const SplitScheme scheme :
       {SplitScheme::random, SplitScheme::cell_blind, SplitScheme::drug_blind, SplitScheme::disjoint}) {
    CAPTURE(scheme_name(scheme));
    const Split s = kfold_split(t, {scheme, 3, 0, 0.1});
    CHECK(s.folds() == 3);
  }
  const Split c = tgsa_cell_blind_split(t, read_cell_annotations(dir / "cells.tsv").lineage_map(), 0);
  CHECK(c.count(0, Role::test) > 0);
}
