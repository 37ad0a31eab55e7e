// Model configuration as read from config.json / run.json (docs/RELIABILITY.md, defect 3):
// integer keys take integral JSON numbers in range, every key but substructure_dim is required,
// sizes are bounded, and a config is checked against the weights file's header before the model
// is allocated.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "model/dispa.h"
#include "model/run_forward.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"

using namespace dispa;
namespace fs = std::filesystem;

namespace {

// A complete small configuration (every key but the optional substructure_dim).
nlohmann::json small_config() {
  DispaConfig c;
  c.embed_dim = 16;
  c.ffn_hidden = 24;
  c.attn_dim = 16;
  c.heads = 2;
  c.head_dims = {16, 8};
  c.genes = 60;
  c.pathways = 7;
  c.max_genes_per_pathway = 12;
  c.drug_dim = 32;
  c.max_substructures = 5;
  nlohmann::json j = c.to_json();
  j.erase("substructure_dim");
  return j;
}

std::string config_error(const nlohmann::json& j) {
  return test::error_of([&] { DispaConfig::from_json(j); });
}

}  // namespace

TEST_CASE("dispa config: a complete config loads; the fixture configs still load") {
  CHECK_NOTHROW(DispaConfig::from_json(small_config()));
  for (const char* kind : {"differential", "vanilla"}) {
    const auto dir = test::shared_path_or_skip(std::string("fixtures/dispa_ref/") + kind);
    if (dir.empty()) continue;
    CHECK_NOTHROW(load_dispa_config((dir / "config.json").string()));
  }
}

TEST_CASE("dispa config: integer keys need integral numbers in range, named with the value") {
  nlohmann::json j = small_config();
  j["embed_dim"] = 1e30;  // used to report "must be positive, got -9223372036854775808"
  std::string e = config_error(j);
  CHECK_MESSAGE(e.find("'embed_dim'") != std::string::npos, e);
  CHECK_MESSAGE(e.find("1e+30") != std::string::npos, e);
  CHECK_MESSAGE(e.find("-9223372036854775808") == std::string::npos, e);

  j["embed_dim"] = 16.5;  // used to be truncated to 16 silently
  e = config_error(j);
  CHECK_MESSAGE(e.find("'embed_dim' must be an integer") != std::string::npos, e);
  CHECK_MESSAGE(e.find("16.5") != std::string::npos, e);

  j["embed_dim"] = 16.0;  // integral: fine (a writer may emit floats)
  CHECK_NOTHROW(DispaConfig::from_json(j));

  j["embed_dim"] = "16";
  CHECK_MESSAGE(config_error(j).find("'embed_dim' must be an integer") != std::string::npos, config_error(j));
  j["embed_dim"] = 16;

  j["heads"] = 5'000'000'000LL;  // would overflow int
  CHECK_MESSAGE(config_error(j).find("'heads'") != std::string::npos, config_error(j));
  j["heads"] = 2;

  j["head_dims"] = {16, 8.5};
  CHECK_MESSAGE(config_error(j).find("'head_dims'") != std::string::npos, config_error(j));
  j["head_dims"] = {16, 8};

  j["ffn_dropout"] = "half";
  CHECK_MESSAGE(config_error(j).find("'ffn_dropout' must be a number") != std::string::npos, config_error(j));
  j["ffn_dropout"] = 0.5;
  j["layernorm_eps"] = -1;
  CHECK_MESSAGE(config_error(j).find("layernorm_eps") != std::string::npos, config_error(j));
}

TEST_CASE("dispa config: sizes beyond the documented bounds are refused before anything is allocated") {
  nlohmann::json j = small_config();
  j["embed_dim"] = 20'000'000;  // used to allocate 7 GB before failing
  std::string e = config_error(j);
  CHECK_MESSAGE(e.find("'embed_dim'") != std::string::npos, e);
  CHECK_MESSAGE(e.find("65536") != std::string::npos, e);
  // Every key within its bound, but together too large a model.
  j = small_config();
  j["embed_dim"] = 65536;
  j["ffn_hidden"] = 65536;
  j["attn_dim"] = 65536;
  j["drug_dim"] = 65536;
  e = config_error(j);
  CHECK_MESSAGE(e.find("parameters") != std::string::npos, e);
}

TEST_CASE("dispa config: missing keys are listed; only substructure_dim may be left out") {
  nlohmann::json j = small_config();
  CHECK(!j.contains("substructure_dim"));
  j.erase("depth");
  j.erase("rmsnorm_eps");
  const std::string e = config_error(j);
  CHECK_MESSAGE(e.find("missing key(s): depth, rmsnorm_eps") != std::string::npos, e);
}

TEST_CASE("dispa config: a config that does not match the weights is refused from the header alone") {
  const auto dir = test::shared_path_or_skip("fixtures/dispa_ref/differential");
  if (dir.empty()) return;
  const std::string weights = (dir / "weights.safetensors").string();
  nlohmann::json j;
  std::ifstream(dir / "config.json") >> j;
  CHECK_NOTHROW(load_dispa(DispaConfig::from_json(j), weights));
  j["embed_dim"] = 32;
  std::string e = test::error_of([&] { load_dispa(DispaConfig::from_json(j), weights); });
  CHECK_MESSAGE(e.find("config key 'embed_dim' does not match") != std::string::npos, e);
  CHECK_MESSAGE(e.find("'gene_ffn.fc2.weight' is [16, 24] but the config asks for [32, 24]") != std::string::npos, e);
  j["embed_dim"] = 16;
  j["head_dims"] = {16, 8, 4};
  e = test::error_of([&] { load_dispa(DispaConfig::from_json(j), weights); });
  CHECK_MESSAGE(e.find("head_dims") != std::string::npos, e);
  j["head_dims"] = {16, 8};
  j["drug_dim"] = 31;
  e = test::error_of([&] { load_dispa(DispaConfig::from_json(j), weights); });
  CHECK_MESSAGE(e.find("config key 'drug_dim'") != std::string::npos, e);
  CHECK_MESSAGE(e.find("ffn.fc1.weight") != std::string::npos, e);
}
