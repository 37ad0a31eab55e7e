// dispa transfer and dispa evaluate through the built binary (flags, exit codes, error lines): a
// tiny run is trained by the binary on gdsc2-mini (about 2 s), then transferred to the shared PDAC
// spatial section with positions, and evaluated with gdsc2-mini as its own target screen.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/cli.h"
#include "tests/support/shared_data.h"

namespace fs = std::filesystem;

namespace {

const fs::path& work_dir() {
  static const fs::path dir = dispa::test::fresh_work_dir("transfer_cli_e2e");
  return dir;
}

using dispa::test::read_text;

// The binary with OMP_NUM_THREADS=1: exit status, stderr in `err`.
int run_dispa(const std::string& args, std::string& err) { return dispa::test::run_dispa(work_dir(), args, err); }

}  // namespace

TEST_CASE("dispa transfer and dispa evaluate from the command line") {
  const fs::path mini = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  const fs::path pdac = dispa::test::shared_path_or_skip("data/spatial/pdac_moncada2020");
  if (mini.empty() || pdac.empty()) return;
  const fs::path run = work_dir() / "run";
  std::string err;
  REQUIRE_MESSAGE(run_dispa(fmt::format("train --data '{0}' --gmt '{0}/pathways_kegg34.gmt' --folds 2 --fold 0 --epochs 1 "
                                        "--embed-dim 16 --ffn-hidden 32 --attn-dim 16 --heads 2 --head-dims 16 8 "
                                        "--batch-size 64 --no-ridge --quiet --out '{1}'",
                                        mini.string(), run.string()),
                            err) == 0,
                  err);

  const fs::path out = work_dir() / "pdac";
  const std::string transfer = fmt::format("transfer --run '{}' --counts '{}/filtered_feature_bc_matrix' --drugs '{}/drugs.tsv' "
                                           "--map-drugs Olaparib --quiet",
                                           run.string(), pdac.string(), mini.string());
  CHECK_MESSAGE(run_dispa(fmt::format("{} --positions '{}/spatial/tissue_positions.csv' --pool knn --knn 4 --out '{}'",
                                      transfer, pdac.string(), out.string()),
                          err) == 0,
                err);
  const nlohmann::json j = nlohmann::json::parse(read_text(out / "transfer.json"));
  CHECK(j["units"] == 428);
  CHECK(j["pooling"] == "knn");
  CHECK(j["maps"].size() == 1);
  CHECK(fs::exists(out / "maps" / "Olaparib.png"));
  CHECK(fs::exists(out / "report.html"));

  // Positions of another data set: exit 1 and one error line naming the file.
  const fs::path wrong = work_dir() / "wrong_positions.csv";
  std::ofstream(wrong) << "s1,1,0,0,0,0\n";
  CHECK(run_dispa(fmt::format("{} --positions '{}' --out '{}'", transfer, wrong.string(), (work_dir() / "x").string()), err) == 1);
  CHECK(err.find("error: " + wrong.string() + ": 427 of the matrix's 428 barcodes have no position") != std::string::npos);
  CHECK(run_dispa(fmt::format("{} --pool pseudobulk --out '{}'", transfer, (work_dir() / "y").string()), err) == 1);
  CHECK(err.find("error: transfer: --pool pseudobulk needs --labels") != std::string::npos);

  // The training screen as its own target (every drug shared by name).
  CHECK_MESSAGE(run_dispa(fmt::format("evaluate --run '{}' --data '{}' --quiet", run.string(), mini.string()), err) == 0, err);
  const nlohmann::json m = nlohmann::json::parse(read_text(run / "eval_gdsc2-mini" / "metrics.json"));
  CHECK(m["drugs_unseen"] == 0);
  CHECK(m["groups"]["shared_measured_in_both"]["baselines"]["training_measurement"]["rmse"].get<double>() ==
        doctest::Approx(0.0));
}
