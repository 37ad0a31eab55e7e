#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "chem/brics.h"
#include "chem/fingerprint.h"
#include "engine/error.h"

using namespace dispa::chem;

namespace {
Molecule mol(const char* smiles) { return parse_smiles(smiles, "test", ComponentPolicy::keep_all).molecule; }
int total(const std::vector<std::pair<uint32_t, int>>& envs) {
  int n = 0;
  for (const auto& [id, count] : envs) n += count;
  return n;
}
}  // namespace

TEST_CASE("fingerprint: independent of atom order in the SMILES") {
  CHECK(morgan_environments(mol("OCC"), 2) == morgan_environments(mol("CCO"), 2));
  CHECK(morgan_environments(mol("Oc1ccccc1"), 3) == morgan_environments(mol("c1ccc(O)cc1"), 3));
  CHECK(morgan_environments(mol("Oc1ccccc1"), 2) != morgan_environments(mol("Nc1ccccc1"), 2));
}

TEST_CASE("fingerprint: radius 0 has one environment per heavy atom; duplicate bond sets count once") {
  CHECK(total(morgan_environments(mol("CCO"), 0)) == 3);
  // Ethanol: 3 atoms + 3 distinct radius-1 bond sets {CC}, {CC,CO}, {CO}; every radius-2
  // environment covers {CC,CO} again and is dropped (RDKit's Morgan gives the same 6).
  CHECK(total(morgan_environments(mol("CCO"), 1)) == 6);
  CHECK(total(morgan_environments(mol("CCO"), 2)) == 6);
  // Benzene: all six atoms are equivalent: one identifier per radius, counted 6 times at radius 0.
  const auto benzene = morgan_environments(mol("c1ccccc1"), 0);
  REQUIRE(benzene.size() == 1);
  CHECK(benzene[0].second == 6);
}

TEST_CASE("fingerprint: dummy atoms are attachment points, not centres, and label-blind") {
  const auto labelled = morgan_environments(mol("[16*]c1ccccc1"), 2);
  CHECK(labelled == morgan_environments(mol("[5*]c1ccccc1"), 2));
  CHECK(labelled != morgan_environments(mol("c1ccccc1"), 2));
  CHECK(labelled != morgan_environments(mol("Cc1ccccc1"), 2));
  CHECK(total(morgan_environments(mol("[16*]c1ccccc1"), 0)) == 6);
}

TEST_CASE("fingerprint: folded counts and bits") {
  const Molecule m = mol("CC(=O)Nc1ccc(O)cc1");  // paracetamol
  const FingerprintOptions options{2, 64};
  const auto counts = morgan_counts(m, options);
  const auto bits = morgan_bits(m, options);
  REQUIRE(counts.size() == 64);
  REQUIRE(bits.size() == 64);
  for (size_t i = 0; i < counts.size(); ++i) CHECK(bits[i] == (counts[i] > 0 ? 1.f : 0.f));
  const float sum = std::accumulate(counts.begin(), counts.end(), 0.f);
  CHECK(sum == static_cast<float>(total(morgan_environments(m, 2))));
  const auto one = morgan_counts(m, {2, 1});
  CHECK(one[0] == sum);
}

TEST_CASE("fingerprint: bad options are errors") {
  CHECK_THROWS_WITH_AS(morgan_counts(mol("CC"), {-1, 16}), doctest::Contains("radius"), dispa::Error);
  CHECK_THROWS_WITH_AS(morgan_counts(mol("CC"), {2, 0}), doctest::Contains("n_bits"), dispa::Error);
}

TEST_CASE("descriptors: values for small molecules and fragments") {
  const auto names = descriptor_names();
  auto value = [&](const std::vector<float>& v, std::string_view name) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return v[i];
    FAIL("no descriptor " << name);
    return 0.f;
  };
  const auto ethanol = descriptors(mol("CCO"));
  REQUIRE(ethanol.size() == names.size());
  CHECK(value(ethanol, "heavy_atoms") == 3);
  CHECK(value(ethanol, "carbons") == 2);
  CHECK(value(ethanol, "oxygens") == 1);
  CHECK(value(ethanol, "hbond_donors") == 1);
  CHECK(value(ethanol, "hbond_acceptors") == 1);
  CHECK(value(ethanol, "rings") == 0);
  CHECK(value(ethanol, "fraction_csp3") == 1);
  CHECK(std::abs(value(ethanol, "mol_weight") - 46.07f) < 0.05f);
  CHECK(std::abs(value(ethanol, "tpsa") - 20.23f) < 0.05f);
  CHECK(std::isfinite(value(ethanol, "logp")));

  const auto phenyl = descriptors(mol("[16*]c1ccccc1"));
  CHECK(value(phenyl, "heavy_atoms") == 6);
  CHECK(value(phenyl, "attachments") == 1);
  CHECK(value(phenyl, "aromatic_rings") == 1);
  CHECK(value(phenyl, "aromatic_atoms") == 6);
  CHECK(value(phenyl, "fraction_csp3") == 0);
  CHECK(value(descriptors(mol("C[N+](C)(C)C.[Cl-]")), "net_charge") == 0);
  for (float v : descriptors(mol("c1ccccc1"))) CHECK(std::isfinite(v));
}
