// dispa forward as a library call (model/run_forward.h) with hostile inputs: NaN inputs come out as
// NaN where PyTorch gives NaN, the file is still written, and non_finite_report says how many and
// which batch rows (the command prints it as a warning).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "model/run_forward.h"
#include "tests/support/shared_data.h"

using namespace dispa;
namespace fs = std::filesystem;

TEST_CASE("forward: a NaN input gene gives a NaN prediction for its row, reported with the row") {
  const fs::path dir = test::shared_path_or_skip("fixtures/dispa_ref/differential");
  if (dir.empty()) return;
  SafetensorsFile inputs = load_safetensors((dir / "inputs.safetensors").string());
  // Sample 2's value of the first gene pathway 0 gathers (a gene the model reads).
  const std::vector<int64_t> idx = inputs.tensors.at("pathway_gene_indices").to_vector<int64_t>();
  const int64_t genes = inputs.tensors.at("expression").dim(1);
  inputs.tensors.at("expression").data<float>()[2 * genes + idx[0]] = std::numeric_limits<float>::quiet_NaN();
  const fs::path tmp = fs::path(DISPA_BINARY_DIR) / "test_tmp" / "run_forward_nan";
  fs::create_directories(tmp);
  save_safetensors((tmp / "inputs.safetensors").string(), inputs.tensors);
  ForwardOptions o;
  o.config_path = (dir / "config.json").string();
  o.weights_path = (dir / "weights.safetensors").string();
  o.inputs_path = (tmp / "inputs.safetensors").string();
  o.output_path = (tmp / "out.safetensors").string();
  logging::set_quiet(true);
  const auto out = run_forward(o);
  const std::vector<float> p = out.at("prediction").to_vector<float>();
  for (size_t i = 0; i < p.size(); ++i) CHECK(std::isnan(p[i]) == (i == 2));
  CHECK(fs::exists(o.output_path));
  const std::string report = non_finite_report(out);
  CHECK_MESSAGE(report.find("1 of 6 predictions are not finite (batch rows 2)") == 0, report);
  CHECK_MESSAGE(report.find("pathway_tokens has") != std::string::npos, report);
  CHECK(non_finite_report({{"prediction", Tensor::zeros({3})}}).empty());
  fs::remove_all(tmp);
}
