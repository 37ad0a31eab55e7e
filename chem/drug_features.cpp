// Drug -> (global [Dg], fragments [L, Df], mask [L]) tensors, from fingerprints or feature files.
// Rules and formats: drug_features.h.
#include "chem/drug_features.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "chem/brics.h"
#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::chem {
namespace {

float signed_log1p(float x) { return std::copysign(std::log1p(std::abs(x)), x); }

Tensor vector_tensor(const std::vector<float>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

// Copies `values` into row `row` of a contiguous f32 tensor with rows of `values.size()`.
void set_row(Tensor& t, int64_t row, const std::vector<float>& values) {
  std::copy(values.begin(), values.end(), t.data<float>() + row * static_cast<int64_t>(values.size()));
}

}  // namespace

// ---- feature files -------------------------------------------------------------------------------

FeatureTable load_feature_table(const std::string& path) {
  const std::string text = io::read_text_file(path);
  io::LineScanner lines(text);
  FeatureTable table;
  table.path = path;
  std::string_view line;
  int64_t number = 0;
  DISPA_CHECK(lines.next(line, number), "features: '{}' is empty (expected a header)", path);
  const std::vector<std::string> header = io::split_tab_fields(line);
  if (header[0] == "drug_name")
    table.kind = FeatureTable::Kind::per_drug;
  else if (header[0] == "fragment" || header[0] == "smiles")
    table.kind = FeatureTable::Kind::per_fragment;
  else
    fail("features: {}:1: the first column must be 'drug_name' (one row per drug) or 'fragment' / "
         "'smiles' (one row per fragment), got '{}'", path, io::shorten(header[0]));
  table.dim = static_cast<int64_t>(header.size()) - 1;
  DISPA_CHECK(table.dim > 0, "features: {}:1: no value columns after '{}'", path, io::shorten(header[0]));
  std::unordered_map<std::string, int64_t> first_line;
  while (lines.next(line, number)) {
    if (io::is_blank(line)) continue;
    const std::vector<std::string> fields = io::split_tab_fields(line);
    DISPA_CHECK(static_cast<int64_t>(fields.size()) == table.dim + 1, "features: {}:{}: {} fields, the header has {}",
                path, number, fields.size(), table.dim + 1);
    std::string key = fields[0];
    if (table.kind == FeatureTable::Kind::per_fragment) {
      try {
        key = canonical_smiles(fields[0]);
      } catch (const Error& e) {
        fail("features: {}:{}: {}", path, number, e.what());
      }
    }
    std::vector<float> values(static_cast<size_t>(table.dim));
    for (int64_t c = 0; c < table.dim; ++c) {
      const std::string& f = fields[static_cast<size_t>(c) + 1];
      const char* end = f.data() + f.size();
      auto [ptr, ec] = std::from_chars(f.data(), end, values[static_cast<size_t>(c)]);
      DISPA_CHECK(ec == std::errc() && ptr == end && std::isfinite(values[static_cast<size_t>(c)]),
                  "features: {}:{}: column {} ('{}') is not a finite number: '{}'", path, number, c + 2,
                  io::shorten(header[static_cast<size_t>(c) + 1]), io::shorten(f));
    }
    auto [it, inserted] = first_line.emplace(key, number);
    DISPA_CHECK(inserted, "features: {}:{}: '{}' already has a row on line {}", path, number, io::shorten(fields[0]),
                it->second);
    table.rows.emplace(std::move(key), std::move(values));
  }
  return table;
}

// ---- featurizer ----------------------------------------------------------------------------------

DrugFeaturizer::DrugFeaturizer(DrugFeatureOptions options) : options_(std::move(options)) {
  DISPA_CHECK(options_.max_fragments >= 1, "drug features: max_fragments (L) must be >= 1, got {}",
              options_.max_fragments);
  DISPA_CHECK(options_.fingerprint.n_bits >= 1, "drug features: n_bits must be >= 1, got {}",
              options_.fingerprint.n_bits);
  if (!options_.drug_feature_file.empty()) {
    drug_table_ = load_feature_table(options_.drug_feature_file);
    DISPA_CHECK(drug_table_.kind == FeatureTable::Kind::per_drug,
                "drug features: '{}' has one row per fragment, but was given as the per-drug file",
                options_.drug_feature_file);
    has_drug_table_ = true;
  }
  if (!options_.fragment_feature_file.empty()) {
    fragment_table_ = load_feature_table(options_.fragment_feature_file);
    DISPA_CHECK(fragment_table_.kind == FeatureTable::Kind::per_fragment,
                "drug features: '{}' has one row per drug, but was given as the per-fragment file",
                options_.fragment_feature_file);
    has_fragment_table_ = true;
  }
}

int64_t DrugFeaturizer::global_dim() const {
  if (has_drug_table_) return drug_table_.dim;
  return options_.fingerprint.n_bits + (options_.descriptors ? static_cast<int64_t>(descriptor_names().size()) : 0);
}

int64_t DrugFeaturizer::fragment_dim() const {
  if (has_fragment_table_) return fragment_table_.dim;
  return options_.fingerprint.n_bits + (options_.descriptors ? static_cast<int64_t>(descriptor_names().size()) : 0);
}

std::vector<float> DrugFeaturizer::fingerprint_features(const Molecule& mol) const {
  std::vector<float> out = morgan_counts(mol, options_.fingerprint);
  for (float& v : out) v = std::log1p(v);
  if (options_.descriptors)
    for (float d : descriptors(mol)) out.push_back(signed_log1p(d));
  return out;
}

DrugFeatures DrugFeaturizer::featurize(std::string_view name, std::string_view smiles) const {
  ParsedMolecule parsed = parse_smiles(smiles, name, options_.components);
  BricsDecomposition d = brics_decompose(parsed.molecule);

  // Row order: largest fragment first, ties by SMILES; unique mode keeps the first of equal SMILES.
  std::vector<const BricsFragment*> order;
  for (const BricsFragment& f : d.fragments) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const BricsFragment* a, const BricsFragment* b) {
    return a->heavy_atoms != b->heavy_atoms ? a->heavy_atoms > b->heavy_atoms : a->smiles < b->smiles;
  });
  if (options_.unique_fragments)
    order.erase(std::unique(order.begin(), order.end(),
                            [](const BricsFragment* a, const BricsFragment* b) { return a->smiles == b->smiles; }),
                order.end());

  DrugFeatures out;
  out.name = std::string(name);
  out.n_fragments_total = static_cast<int>(order.size());
  out.dropped_components = std::move(parsed.dropped);
  const int64_t L = options_.max_fragments, Df = fragment_dim();
  const int64_t kept = std::min<int64_t>(L, static_cast<int64_t>(order.size()));
  out.fragments = Tensor::zeros({L, Df});
  out.mask = Tensor::zeros({L});
  for (int64_t i = 0; i < kept; ++i) {
    const BricsFragment& f = *order[static_cast<size_t>(i)];
    out.fragment_smiles.push_back(f.smiles);
    if (has_fragment_table_) {
      auto it = fragment_table_.rows.find(f.smiles);
      DISPA_CHECK(it != fragment_table_.rows.end(), "drug features: fragment '{}' of drug '{}' is not in '{}'",
                  f.smiles, io::shorten(name), fragment_table_.path);
      set_row(out.fragments, i, it->second);
    } else {
      set_row(out.fragments, i, fingerprint_features(f.molecule));
    }
    out.mask.data<float>()[i] = 1.f;
  }
  if (has_drug_table_) {
    auto it = drug_table_.rows.find(std::string(name));
    DISPA_CHECK(it != drug_table_.rows.end(), "drug features: drug '{}' is not in '{}'", io::shorten(name),
                drug_table_.path);
    out.global = vector_tensor(it->second);
  } else {
    out.global = vector_tensor(fingerprint_features(parsed.molecule));
  }
  return out;
}

DrugFeatureBatch DrugFeaturizer::featurize_all(const std::vector<DrugRecord>& drugs, const std::string& source) const {
  const int64_t N = static_cast<int64_t>(drugs.size()), L = options_.max_fragments;
  DrugFeatureBatch batch;
  batch.global = Tensor::zeros({N, global_dim()});
  batch.fragments = Tensor::zeros({N, L, fragment_dim()});
  batch.mask = Tensor::zeros({N, L});
  for (int64_t n = 0; n < N; ++n) {
    const DrugRecord& drug = drugs[static_cast<size_t>(n)];
    DrugFeatures f;
    try {
      f = featurize(drug.name, drug.smiles);
    } catch (const Error& e) {
      fail("{}:{}: {}", source.empty() ? std::string("drugs") : source, drug.line, e.what());
    }
    std::copy_n(f.global.data<float>(), f.global.numel(), batch.global.data<float>() + n * f.global.numel());
    std::copy_n(f.fragments.data<float>(), f.fragments.numel(),
                batch.fragments.data<float>() + n * f.fragments.numel());
    std::copy_n(f.mask.data<float>(), L, batch.mask.data<float>() + n * L);
    batch.names.push_back(drug.name);
    batch.n_fragments_total.push_back(f.n_fragments_total);
  }
  return batch;
}

}  // namespace dispa::chem
