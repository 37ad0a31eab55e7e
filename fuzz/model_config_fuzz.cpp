// The JSON model configuration (config.json, run.json "model"; model/dispa.h): a config that
// loads is valid, and writing it back and reading it again gives the same config.
#include "fuzz/fuzz_target.h"
#include "model/run_forward.h"

DISPA_FUZZ_TARGET(model_config) {
  using dispa::fuzz::require;
  const dispa::DispaConfig c = dispa::parse_dispa_config(data, "config.json");
  c.validate();
  const nlohmann::json j = c.to_json();
  require(dispa::DispaConfig::from_json(j).to_json() == j, "to_json / from_json round trip");
}
