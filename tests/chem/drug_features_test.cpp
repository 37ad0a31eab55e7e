#include <doctest/doctest.h>

#include <cmath>

#include "chem/drug_features.h"
#include "engine/error.h"
#include "tests/chem/temp_file.h"
#include "tests/support/close.h"
#include "tests/support/shared_data.h"

using namespace dispa;
using namespace dispa::chem;
using dispa::test::TempFile;

using dispa::test::all_finite;

namespace {
std::vector<float> row(const Tensor& t, int64_t r) {
  const int64_t width = t.dim(-1);
  return std::vector<float>(t.data<float>() + r * width, t.data<float>() + (r + 1) * width);
}
}  // namespace

TEST_CASE("drug features: shapes, mask and padding") {
  const DrugFeaturizer f({});
  CHECK(f.global_dim() == 1024 + 19);
  CHECK(f.fragment_dim() == 1024 + 19);
  const DrugFeatures d = f.featurize("Vorinostat", "C1=CC=C(C=C1)NC(=O)CCCCCCC(=O)NO");
  CHECK(d.global.shape() == Shape{1043});
  CHECK(d.fragments.shape() == Shape{17, 1043});
  CHECK(d.mask.shape() == Shape{17});
  CHECK(d.n_fragments_total == 3);
  CHECK(d.fragment_smiles.size() == 3);
  const auto mask = d.mask.to_vector<float>();
  for (int i = 0; i < 17; ++i) CHECK(mask[i] == (i < 3 ? 1.f : 0.f));
  for (int r = 3; r < 17; ++r)
    for (float v : row(d.fragments, r)) CHECK(v == 0.f);
  CHECK(all_finite(d.fragments));
  CHECK(all_finite(d.global));
  // Rows: largest fragment first.
  CHECK(d.fragment_smiles[0] == canonical_smiles("ONC(=O)CCCCCCC(=O)[1*]"));
}

TEST_CASE("drug features: a molecule with no cleavable bond is its own single fragment") {
  const DrugFeaturizer f({});
  const DrugFeatures d = f.featurize("5-FU", "C1=C(C(=O)NC(=O)N1)F");
  CHECK(d.n_fragments_total == 1);
  CHECK(d.mask.to_vector<float>()[0] == 1.f);
  CHECK(d.mask.to_vector<float>()[1] == 0.f);
  CHECK(row(d.fragments, 0) == d.global.to_vector<float>());  // the fragment is the molecule
}

TEST_CASE("drug features: more fragments than L keeps the L largest, deterministically") {
  DrugFeatureOptions o;
  o.max_fragments = 2;
  o.unique_fragments = false;
  const DrugFeaturizer f(o);
  const char* smiles = "CCOCCOCC";  // [4*]CC[4*] . [4*]CC x2 . [3*]O[3*] x2
  const DrugFeatures d = f.featurize("x", smiles);
  CHECK(d.n_fragments_total == 5);
  CHECK(d.fragments.shape() == Shape{2, f.fragment_dim()});
  REQUIRE(d.fragment_smiles.size() == 2);
  // Heavy atoms: 2 for [4*]CC and [4*]CC[4*], 1 for [3*]O[3*]; ties go by SMILES.
  CHECK(d.fragment_smiles[0] == canonical_smiles("[4*]CC"));
  CHECK(d.fragment_smiles[1] == canonical_smiles("[4*]CC"));
  const DrugFeatures again = f.featurize("x", smiles);
  CHECK(again.fragments.to_vector<float>() == d.fragments.to_vector<float>());
  CHECK(again.global.to_vector<float>() == d.global.to_vector<float>());

  o.unique_fragments = true;
  o.max_fragments = 17;
  CHECK(DrugFeaturizer(o).featurize("x", smiles).n_fragments_total == 3);
}

TEST_CASE("drug features: options without descriptors, and bad options") {
  DrugFeatureOptions o;
  o.descriptors = false;
  o.fingerprint = {3, 256};
  const DrugFeaturizer f(o);
  CHECK(f.global_dim() == 256);
  CHECK(f.featurize("x", "CCO").global.shape() == Shape{256});
  o.max_fragments = 0;
  CHECK_THROWS_WITH_AS(DrugFeaturizer{o}, doctest::Contains("max_fragments"), Error);
  CHECK_THROWS_WITH_AS(DrugFeaturizer({}).featurize("Bad", "C1CC"), doctest::Contains("drug 'Bad'"), Error);
}

TEST_CASE("drug features: per-drug and per-fragment feature files replace the fingerprints") {
  // Fragment keys in another toolkit's spelling still match (keys are canonicalised).
  TempFile frag(".tsv",
                "fragment\tf1\tf2\n"
                "c1ccc([16*])cc1\t1\t2\n"
                "[5*]N[5*]\t3\t4\n"
                "[1*]C(=O)CCCCCCC(=O)NO\t5\t6\n");
  TempFile drug(".tsv", "drug_name\tg1\tg2\tg3\nVorinostat\t0.5\t-1\t2e-3\n");
  DrugFeatureOptions o;
  o.fragment_feature_file = frag.path();
  o.drug_feature_file = drug.path();
  o.max_fragments = 4;
  const DrugFeaturizer f(o);
  CHECK(f.global_dim() == 3);
  CHECK(f.fragment_dim() == 2);
  const DrugFeatures d = f.featurize("Vorinostat", "C1=CC=C(C=C1)NC(=O)CCCCCCC(=O)NO");
  CHECK(d.global.to_vector<float>() == std::vector<float>{0.5f, -1.f, 2e-3f});
  CHECK(d.fragments.to_vector<float>() == std::vector<float>{5, 6, 1, 2, 3, 4, 0, 0});
  CHECK_THROWS_WITH_AS(f.featurize("Other", "CCO"), doctest::Contains("is not in"), Error);
  CHECK_THROWS_WITH_AS(f.featurize("Vorinostat", "CCCOCC"),
                       doctest::Contains("fragment '[4*]CCC' of drug 'Vorinostat' is not in"), Error);
}

TEST_CASE("drug features: feature file errors name file, line and column") {
  TempFile bad_number(".tsv", "drug_name\ta\tb\nX\t1\tabc\n");
  CHECK_THROWS_WITH_AS(load_feature_table(bad_number.path()), doctest::Contains(":2: column 3 ('b')"), Error);
  TempFile nan(".tsv", "drug_name\ta\nX\tnan\n");
  CHECK_THROWS_WITH_AS(load_feature_table(nan.path()), doctest::Contains("not a finite number"), Error);
  TempFile ragged(".tsv", "drug_name\ta\tb\nX\t1\n");
  CHECK_THROWS_WITH_AS(load_feature_table(ragged.path()), doctest::Contains(":2: 2 fields"), Error);
  TempFile duplicate(".tsv", "fragment\ta\nCCO\t1\nOCC\t2\n");
  CHECK_THROWS_WITH_AS(load_feature_table(duplicate.path()), doctest::Contains(":3: 'OCC' already has a row on line 2"),
                       Error);
  TempFile header(".tsv", "name\ta\nX\t1\n");
  CHECK_THROWS_WITH_AS(load_feature_table(header.path()), doctest::Contains("first column"), Error);
  TempFile per_drug(".tsv", "drug_name\ta\nX\t1\n");
  DrugFeatureOptions o;
  o.fragment_feature_file = per_drug.path();
  CHECK_THROWS_WITH_AS(DrugFeaturizer{o}, doctest::Contains("one row per drug"), Error);
}

TEST_CASE("drug features: the gdsc2-mini drugs stack into [N, Dg], [N, L, Df], [N, L]") {
  const auto path = dispa::test::shared_path_or_skip("data/gdsc2-mini/drugs.tsv");
  if (path.empty()) return;
  const DrugTable drugs = read_drug_table(path.string());
  const DrugFeaturizer f({});
  const DrugFeatureBatch b = f.featurize_all(drugs.drugs);
  CHECK(b.global.shape() == Shape{12, f.global_dim()});
  CHECK(b.fragments.shape() == Shape{12, 17, f.fragment_dim()});
  CHECK(b.mask.shape() == Shape{12, 17});
  const auto mask = b.mask.to_vector<float>();
  for (int n = 0; n < 12; ++n) {
    CAPTURE(b.names[n]);
    CHECK(mask[n * 17] == 1.f);  // every drug has at least one fragment
    CHECK(b.n_fragments_total[n] <= 17);
  }
  CHECK(all_finite(b.fragments));
  CHECK(all_finite(b.global));
}
