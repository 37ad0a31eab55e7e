// Parity with the independent PyTorch implementation (shared/fixtures/dispa_ref): eval outputs
// within 1e-4 relative (1e-5 absolute near zero) and one training step's loss, prediction and
// parameter gradients within 1e-3 relative, for both attention variants, with the fused and the
// unfused differential attention.
#include <doctest/doctest.h>

#include "tests/model/fixture_checks.h"
#include "tests/support/shared_data.h"

using namespace dispa;
using dispa::test::check_eval_outputs;
using dispa::test::check_training_gradients;


TEST_CASE("dispa fixture: eval outputs match PyTorch (differential, fused and unfused)") {
  const auto dir = test::shared_path_or_skip("fixtures/dispa_ref/differential");
  if (dir.empty()) return;
  check_eval_outputs(dir, true);
  check_eval_outputs(dir, false);
}

TEST_CASE("dispa fixture: eval outputs match PyTorch (vanilla)") {
  const auto dir = test::shared_path_or_skip("fixtures/dispa_ref/vanilla");
  if (dir.empty()) return;
  check_eval_outputs(dir, true);
}

TEST_CASE("dispa fixture: one training step's gradients match PyTorch (differential, fused and unfused)") {
  const auto dir = test::shared_path_or_skip("fixtures/dispa_ref/differential");
  if (dir.empty()) return;
  check_training_gradients(dir, true);
  check_training_gradients(dir, false);
}

TEST_CASE("dispa fixture: one training step's gradients match PyTorch (vanilla)") {
  const auto dir = test::shared_path_or_skip("fixtures/dispa_ref/vanilla");
  if (dir.empty()) return;
  check_training_gradients(dir, true);
}

TEST_CASE("dispa config: unknown keys and bad values are errors naming the key") {
  DispaConfig c;
  c.embed_dim = 16;
  c.genes = 10;
  c.pathways = 3;
  c.max_genes_per_pathway = 4;
  c.drug_dim = 8;
  c.attn_dim = 16;
  c.heads = 2;
  nlohmann::json j = c.to_json();
  CHECK_NOTHROW(DispaConfig::from_json(j));
  j["embed_dims"] = 3;
  CHECK_THROWS_WITH_AS(DispaConfig::from_json(j), doctest::Contains("unknown key 'embed_dims'"), Error);
  j.erase("embed_dims");
  j["attn_dim"] = 18;  // not divisible by 2 heads x 2 halves
  CHECK_THROWS_WITH_AS(DispaConfig::from_json(j), doctest::Contains("attn_dim 18 must be divisible by 4"), Error);
  j["attn_dim"] = 16;
  j["attention"] = "sparse";
  CHECK_THROWS_WITH_AS(DispaConfig::from_json(j), doctest::Contains("unknown attention 'sparse'"), Error);
}
