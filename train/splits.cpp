// Splits: k-fold schemes, the TGSA protocols, leakage checks and the split file (see splits.h).
#include "train/splits.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/text.h"
#include "train/tsv_reader.h"

namespace dispa::train {

namespace {

// Philox stream numbers, one per independent use, so that changing e.g. the validation draw of
// fold 3 cannot change the fold assignment.
constexpr uint64_t kStreamUnitsA = 1;      // pairs, cells or drugs (disjoint: cells)
constexpr uint64_t kStreamUnitsB = 2;      // disjoint: drugs
constexpr uint64_t kStreamValBase = 1000;  // + 2 * fold (+ 1 for disjoint drugs)
constexpr uint64_t kStreamStrataOrder = 3;
constexpr uint64_t kStreamStratumBase = 1u << 20;  // + stratum index
constexpr uint64_t kStreamScaffolds = 4;

struct Fractions {
  double train, val, test;
};

// Units of a table for a unit kind: 0 pairs, 1 cells, 2 drugs.
int64_t unit_count(const ResponseTable& t, int kind) {
  return kind == 0 ? t.size() : kind == 1 ? t.num_cells() : t.num_drugs();
}

// Deal shuffled units round-robin into folds: fold_of[unit].
std::vector<int> deal_folds(int64_t n, int folds, uint64_t seed, uint64_t stream) {
  const std::vector<int64_t> perm = philox_permutation(n, seed, stream);
  std::vector<int> fold_of(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) fold_of[static_cast<size_t>(perm[static_cast<size_t>(j)])] = static_cast<int>(j % folds);
  return fold_of;
}

// Per unit: test (in fold f), val (a val_fraction of the others), else train.
std::vector<Role> unit_roles(const std::vector<int>& fold_of, int fold, double val_fraction, uint64_t seed,
                             uint64_t stream) {
  std::vector<Role> role(fold_of.size(), Role::train);
  std::vector<int64_t> rest;
  for (size_t u = 0; u < fold_of.size(); ++u) {
    if (fold_of[u] == fold) role[u] = Role::test;
    else rest.push_back(static_cast<int64_t>(u));
  }
  const auto n_val = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(rest.size())));
  const std::vector<int64_t> perm = philox_permutation(static_cast<int64_t>(rest.size()), seed, stream);
  for (int64_t j = 0; j < n_val; ++j) role[static_cast<size_t>(rest[static_cast<size_t>(perm[static_cast<size_t>(j)])])] = Role::val;
  return role;
}

// Deals the items of every stratum into roles (see "Stratified allocation" in splits.h).
std::vector<Role> stratified_roles(const std::vector<std::vector<int64_t>>& strata, int64_t num_items,
                                   Fractions f, uint64_t seed) {
  std::vector<Role> role(static_cast<size_t>(num_items), Role::unused);
  const std::vector<int64_t> order = philox_permutation(static_cast<int64_t>(strata.size()), seed, kStreamStrataOrder);
  int64_t seen = 0, n_test_done = 0, n_val_done = 0;
  for (const int64_t s : order) {
    const std::vector<int64_t>& items = strata[static_cast<size_t>(s)];
    const auto n = static_cast<int64_t>(items.size());
    seen += n;
    const int64_t test_target = std::llround(static_cast<double>(seen) * f.test);
    const int64_t val_target = std::llround(static_cast<double>(seen) * f.val);
    const int64_t n_test = std::clamp<int64_t>(test_target - n_test_done, 0, n);
    const int64_t n_val = std::clamp<int64_t>(val_target - n_val_done, 0, n - n_test);
    n_test_done += n_test;
    n_val_done += n_val;
    const std::vector<int64_t> perm = philox_permutation(n, seed, kStreamStratumBase + static_cast<uint64_t>(s));
    for (int64_t j = 0; j < n; ++j) {
      const Role r = j < n_test ? Role::test : j < n_test + n_val ? Role::val : Role::train;
      role[static_cast<size_t>(items[static_cast<size_t>(perm[static_cast<size_t>(j)])])] = r;
    }
  }
  return role;
}

// Pair roles from per-cell or per-drug roles.
std::vector<Role> roles_from_cells(const ResponseTable& t, const std::vector<Role>& cell_role) {
  std::vector<Role> r(t.pairs.size());
  for (size_t i = 0; i < t.pairs.size(); ++i) r[i] = cell_role[static_cast<size_t>(t.pairs[i].cell)];
  return r;
}
std::vector<Role> roles_from_drugs(const ResponseTable& t, const std::vector<Role>& drug_role) {
  std::vector<Role> r(t.pairs.size());
  for (size_t i = 0; i < t.pairs.size(); ++i) r[i] = drug_role[static_cast<size_t>(t.pairs[i].drug)];
  return r;
}

const std::string& lookup(const std::unordered_map<std::string, std::string>& m, const std::string& key,
                          const char* what) {
  const auto it = m.find(key);
  DISPA_CHECK(it != m.end(), "split: no {} given for '{}'", what, key);
  return it->second;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::train: return "train";
    case Role::val: return "val";
    case Role::test: return "test";
    case Role::unused: break;
  }
  return "-";
}

namespace {
constexpr std::pair<SplitScheme, std::string_view> kSchemeNames[] = {
    {SplitScheme::random, "random"},
    {SplitScheme::cell_blind, "cell-blind"},
    {SplitScheme::drug_blind, "drug-blind"},
    {SplitScheme::disjoint, "disjoint"},
    {SplitScheme::tgsa_mixed, "tgsa-mixed"},
    {SplitScheme::tgsa_cell_blind, "tgsa-cell-blind"},
    {SplitScheme::tgsa_drug_blind, "tgsa-drug-blind"},
};
}  // namespace

std::string_view scheme_name(SplitScheme scheme) {
  for (const auto& [s, name] : kSchemeNames)
    if (s == scheme) return name;
  return "?";
}

SplitScheme parse_scheme(std::string_view name) {
  std::vector<std::string_view> names;
  for (const auto& [s, n] : kSchemeNames) {
    if (n == name) return s;
    names.push_back(n);
  }
  fail("unknown split '{}' (valid: {})", io::shorten(name), fmt::join(names, ", "));
}

bool blind_cells(SplitScheme s) {
  return s == SplitScheme::cell_blind || s == SplitScheme::disjoint || s == SplitScheme::tgsa_cell_blind;
}
bool blind_drugs(SplitScheme s) {
  return s == SplitScheme::drug_blind || s == SplitScheme::disjoint || s == SplitScheme::tgsa_drug_blind;
}

std::vector<int64_t> Split::indices(int fold, Role role) const {
  std::vector<int64_t> out;
  const std::vector<Role>& r = roles.at(static_cast<size_t>(fold));
  for (size_t i = 0; i < r.size(); ++i)
    if (r[i] == role) out.push_back(static_cast<int64_t>(i));
  return out;
}

int64_t Split::count(int fold, Role role) const {
  const std::vector<Role>& r = roles.at(static_cast<size_t>(fold));
  return std::count(r.begin(), r.end(), role);
}

std::string Split::describe(int fold) const {
  return fmt::format("fold {}: {} train, {} val, {} test, {} unused", fold, count(fold, Role::train),
                     count(fold, Role::val), count(fold, Role::test), count(fold, Role::unused));
}

Split kfold_split(const ResponseTable& table, const KFoldOptions& o) {
  DISPA_CHECK(o.folds >= 2, "kfold_split: folds must be >= 2, got {}", o.folds);
  DISPA_CHECK(o.val_fraction >= 0.0 && o.val_fraction < 1.0, "kfold_split: val_fraction must be in [0, 1), got {}",
              o.val_fraction);
  Split split;
  split.scheme = o.scheme;
  split.seed = o.seed;
  const auto folds = static_cast<size_t>(o.folds);
  split.roles.resize(folds);

  auto check_units = [&](int64_t n, const char* what) {
    DISPA_CHECK(n >= o.folds, "kfold_split ({}): {} {} cannot fill {} folds", scheme_name(o.scheme), n, what,
                o.folds);
  };

  switch (o.scheme) {
    case SplitScheme::random:
    case SplitScheme::cell_blind:
    case SplitScheme::drug_blind: {
      const int kind = o.scheme == SplitScheme::random ? 0 : o.scheme == SplitScheme::cell_blind ? 1 : 2;
      const int64_t n = unit_count(table, kind);
      check_units(n, kind == 0 ? "pairs" : kind == 1 ? "cell lines" : "drugs");
      const std::vector<int> fold_of = deal_folds(n, o.folds, o.seed, kStreamUnitsA);
      for (int f = 0; f < o.folds; ++f) {
        std::vector<Role> unit = unit_roles(fold_of, f, o.val_fraction, o.seed, kStreamValBase + 2 * static_cast<uint64_t>(f));
        split.roles[static_cast<size_t>(f)] = kind == 0   ? std::move(unit)
                                              : kind == 1 ? roles_from_cells(table, unit)
                                                          : roles_from_drugs(table, unit);
      }
      break;
    }
    case SplitScheme::disjoint: {
      check_units(table.num_cells(), "cell lines");
      check_units(table.num_drugs(), "drugs");
      const std::vector<int> cell_fold = deal_folds(table.num_cells(), o.folds, o.seed, kStreamUnitsA);
      const std::vector<int> drug_fold = deal_folds(table.num_drugs(), o.folds, o.seed, kStreamUnitsB);
      for (int f = 0; f < o.folds; ++f) {
        const uint64_t stream = kStreamValBase + 2 * static_cast<uint64_t>(f);
        const std::vector<Role> cr = unit_roles(cell_fold, f, o.val_fraction, o.seed, stream);
        const std::vector<Role> dr = unit_roles(drug_fold, f, o.val_fraction, o.seed, stream + 1);
        std::vector<Role>& r = split.roles[static_cast<size_t>(f)];
        r.resize(table.pairs.size());
        for (size_t i = 0; i < table.pairs.size(); ++i) {
          const Role a = cr[static_cast<size_t>(table.pairs[i].cell)];
          const Role b = dr[static_cast<size_t>(table.pairs[i].drug)];
          r[i] = a == b ? a : Role::unused;  // both test, both val or both train
        }
      }
      break;
    }
    default:
      fail("kfold_split: '{}' is not a k-fold scheme (use the tgsa_*_split functions)", scheme_name(o.scheme));
  }
  check_split(table, split);
  return split;
}

Split tgsa_mixed_split(const ResponseTable& table, uint64_t seed) {
  std::vector<std::vector<int64_t>> strata(static_cast<size_t>(table.num_cells()));
  for (size_t i = 0; i < table.pairs.size(); ++i)
    strata[static_cast<size_t>(table.pairs[i].cell)].push_back(static_cast<int64_t>(i));
  Split split{SplitScheme::tgsa_mixed, seed, {stratified_roles(strata, table.size(), {0.8, 0.1, 0.1}, seed)}};
  check_split(table, split);
  return split;
}

Split tgsa_cell_blind_split(const ResponseTable& table,
                            const std::unordered_map<std::string, std::string>& lineage_of_cell, uint64_t seed) {
  // Strata in sorted lineage order, so the result does not depend on hash-map iteration.
  std::map<std::string, std::vector<int64_t>> by_lineage;
  for (int32_t c = 0; c < table.num_cells(); ++c)
    by_lineage[lookup(lineage_of_cell, table.cell_ids[static_cast<size_t>(c)], "lineage")].push_back(c);
  std::vector<std::vector<int64_t>> strata;
  for (auto& [lineage, cells] : by_lineage) strata.push_back(std::move(cells));
  const std::vector<Role> cell_role = stratified_roles(strata, table.num_cells(), {0.6, 0.2, 0.2}, seed);
  Split split{SplitScheme::tgsa_cell_blind, seed, {roles_from_cells(table, cell_role)}};
  check_split(table, split);
  return split;
}

Split tgsa_drug_blind_split(const ResponseTable& table,
                            const std::unordered_map<std::string, std::string>& scaffold_of_drug, uint64_t seed) {
  std::map<std::string, std::vector<int32_t>> by_scaffold;  // sorted: independent of hashing
  for (int32_t d = 0; d < table.num_drugs(); ++d)
    by_scaffold[lookup(scaffold_of_drug, table.drug_names[static_cast<size_t>(d)], "scaffold")].push_back(d);
  std::vector<std::vector<int32_t>> groups;
  for (auto& [scaffold, drugs] : by_scaffold) groups.push_back(std::move(drugs));

  const int64_t n = table.num_drugs();
  const auto train_cutoff = static_cast<int64_t>(std::floor(0.6 * static_cast<double>(n)));
  const auto val_cutoff = static_cast<int64_t>(std::floor(0.8 * static_cast<double>(n)));
  std::vector<Role> drug_role(static_cast<size_t>(n), Role::unused);
  int64_t n_train = 0, n_val = 0;
  for (const int64_t g : philox_permutation(static_cast<int64_t>(groups.size()), seed, kStreamScaffolds)) {
    const std::vector<int32_t>& members = groups[static_cast<size_t>(g)];
    const auto size = static_cast<int64_t>(members.size());
    Role r = Role::test;
    if (n_train + size <= train_cutoff) r = Role::train, n_train += size;
    else if (n_train + n_val + size <= val_cutoff) r = Role::val, n_val += size;
    for (const int32_t d : members) drug_role[static_cast<size_t>(d)] = r;
  }
  Split split{SplitScheme::tgsa_drug_blind, seed, {roles_from_drugs(table, drug_role)}};
  check_split(table, split);
  return split;
}

void check_split(const ResponseTable& table, const Split& split) {
  DISPA_CHECK(split.folds() >= 1, "split ({}): no folds", scheme_name(split.scheme));
  for (int f = 0; f < split.folds(); ++f) {
    const std::vector<Role>& r = split.roles[static_cast<size_t>(f)];
    DISPA_CHECK(static_cast<int64_t>(r.size()) == table.size(), "split ({}): fold {} has {} pairs, the table {}",
                scheme_name(split.scheme), f, r.size(), table.size());
    DISPA_CHECK(split.count(f, Role::train) > 0 && split.count(f, Role::test) > 0,
                "split ({}): fold {} needs training and test pairs ({})", scheme_name(split.scheme), f,
                split.describe(f));
    // Per id, which roles it appears in (bit 1 << role).
    auto check_ids = [&](bool cells) {
      const size_t n = cells ? table.cell_ids.size() : table.drug_names.size();
      std::vector<uint8_t> seen(n, 0);
      for (size_t i = 0; i < r.size(); ++i) {
        const auto id = static_cast<size_t>(cells ? table.pairs[i].cell : table.pairs[i].drug);
        seen[id] |= static_cast<uint8_t>(1u << static_cast<unsigned>(r[i]));
      }
      const auto bit = [](Role x) { return static_cast<uint8_t>(1u << static_cast<unsigned>(x)); };
      for (size_t id = 0; id < n; ++id) {
        const bool test = seen[id] & bit(Role::test), val = seen[id] & bit(Role::val);
        const bool train = seen[id] & bit(Role::train);
        const std::string& name = cells ? table.cell_ids[id] : table.drug_names[id];
        DISPA_CHECK(!(test && (train || val)), "split ({}): fold {}: test {} '{}' also in {}", scheme_name(split.scheme),
                    f, cells ? "cell" : "drug", name, train ? "training" : "validation");
        DISPA_CHECK(!(val && train), "split ({}): fold {}: validation {} '{}' also in training",
                    scheme_name(split.scheme), f, cells ? "cell" : "drug", name);
      }
    };
    if (blind_cells(split.scheme)) check_ids(true);
    if (blind_drugs(split.scheme)) check_ids(false);
  }
}

void write_split(const std::filesystem::path& file, const ResponseTable& table, const Split& split) {
  DISPA_CHECK(split.num_pairs() == table.size(), "write_split: split has {} pairs, the table {}", split.num_pairs(),
              table.size());
  std::string out = fmt::format("# dispa split\tscheme={}\tseed={}\tfolds={}\n", scheme_name(split.scheme),
                                split.seed, split.folds());
  out += "cell_id\tdrug_name";
  for (int f = 0; f < split.folds(); ++f) out += fmt::format("\tfold_{}", f);
  out += '\n';
  for (size_t i = 0; i < table.pairs.size(); ++i) {
    out += table.cell_ids[static_cast<size_t>(table.pairs[i].cell)];
    out += '\t';
    out += table.drug_names[static_cast<size_t>(table.pairs[i].drug)];
    for (int f = 0; f < split.folds(); ++f) {
      out += '\t';
      out += role_name(split.roles[static_cast<size_t>(f)][i]);
    }
    out += '\n';
  }
  io::write_file_atomically(file, out);
}

Split read_split(const std::filesystem::path& file, const ResponseTable& table) {
  TsvReader in(file);
  Split split;
  // Metadata from the "# dispa split" comment line.
  std::map<std::string, std::string> meta;
  for (const std::string& c : in.comments()) {
    const std::vector<std::string> parts = io::split_tab_fields(c);
    if (parts.empty() || parts[0] != "# dispa split") continue;
    for (size_t k = 1; k < parts.size(); ++k) {
      const size_t eq = parts[k].find('=');
      if (eq != std::string::npos) meta[parts[k].substr(0, eq)] = parts[k].substr(eq + 1);
    }
  }
  DISPA_CHECK(meta.count("scheme") && meta.count("seed"),
              "{}: missing the '# dispa split<TAB>scheme=...<TAB>seed=...' line", file.string());
  split.scheme = parse_scheme(meta["scheme"]);
  // Digits only: std::stoull would read "-1" as 2^64 - 1 and ignore trailing text.
  const std::string& seed_text = meta["seed"];
  const char* seed_end = seed_text.data() + seed_text.size();
  const auto parsed = std::from_chars(seed_text.data(), seed_end, split.seed);
  DISPA_CHECK(!seed_text.empty() && seed_text.find_first_not_of("0123456789") == std::string::npos &&
                  parsed.ec == std::errc() && parsed.ptr == seed_end,
              "{}: seed '{}' is not an unsigned integer", file.string(), io::shorten(seed_text));

  const int c_cell = in.column("cell_id"), c_drug = in.column("drug_name");
  std::vector<int> fold_columns;
  for (int f = 0;; ++f) {
    const int c = in.find_column(fmt::format("fold_{}", f));
    if (c < 0) break;
    fold_columns.push_back(c);
  }
  DISPA_CHECK(!fold_columns.empty(), "{}: no fold_0 column", file.string());
  DISPA_CHECK(!meta.count("folds") || meta["folds"] == std::to_string(fold_columns.size()),
              "{}: the header line says folds={} but there are {} fold_<i> columns", file.string(), meta["folds"],
              fold_columns.size());
  split.roles.assign(fold_columns.size(), std::vector<Role>(table.pairs.size(), Role::unused));

  std::unordered_map<uint64_t, int64_t> pair_of;  // (cell, drug) -> pair index
  for (size_t i = 0; i < table.pairs.size(); ++i)
    pair_of[(static_cast<uint64_t>(table.pairs[i].cell) << 32) | static_cast<uint32_t>(table.pairs[i].drug)] =
        static_cast<int64_t>(i);
  std::vector<int64_t> line_of(table.pairs.size(), 0);

  while (in.next()) {
    const int32_t c = table.find_cell(in.field(c_cell)), d = table.find_drug(in.field(c_drug));
    const auto it = c < 0 || d < 0 ? pair_of.end()
                                   : pair_of.find((static_cast<uint64_t>(c) << 32) | static_cast<uint32_t>(d));
    DISPA_CHECK(it != pair_of.end(), "{}: pair {} / {} is not in the response table", in.where(),
                io::shorten(in.field(c_cell)), io::shorten(in.field(c_drug)));
    const auto i = static_cast<size_t>(it->second);
    DISPA_CHECK(line_of[i] == 0, "{}: pair {} / {} repeated (first on line {})", in.where(),
                io::shorten(in.field(c_cell)), io::shorten(in.field(c_drug)), line_of[i]);
    line_of[i] = in.line();
    for (size_t f = 0; f < fold_columns.size(); ++f) {
      const std::string& text = in.field(fold_columns[f]);
      Role r;
      if (text == "train") r = Role::train;
      else if (text == "val") r = Role::val;
      else if (text == "test") r = Role::test;
      else if (text == "-") r = Role::unused;
      else fail("{}: fold_{}: role '{}' is not one of train, val, test, -", in.where(), f, io::shorten(text));
      split.roles[f][i] = r;
    }
  }
  for (size_t i = 0; i < line_of.size(); ++i)
    DISPA_CHECK(line_of[i] != 0, "{}: pair {} / {} of the response table is missing", file.string(),
                table.cell_ids[static_cast<size_t>(table.pairs[i].cell)],
                table.drug_names[static_cast<size_t>(table.pairs[i].drug)]);
  check_split(table, split);
  return split;
}

}  // namespace dispa::train
