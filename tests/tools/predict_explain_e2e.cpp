// `dispa train`, `dispa predict` and `dispa explain` end to end on gdsc2-mini: a 2-fold, 1-epoch run
// is trained by the binary (about 2 s), then predictions for an unseen cell and an unseen SMILES
// (ensemble with sd, and one fold), the explain files, and the errors a user meets first: an
// unknown cell in --pairs, a bad SMILES, a folder that is not a run.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/cli.h"
#include "tests/support/shared_data.h"
#include "train/tsv_reader.h"

namespace fs = std::filesystem;

namespace {

const fs::path& work_dir() {
  static const fs::path dir = dispa::test::fresh_work_dir("predict_explain_e2e");
  return dir;
}

using dispa::test::read_text;

fs::path write(const std::string& name, const std::string& text) {
  const fs::path p = work_dir() / name;
  std::ofstream(p) << text;
  return p;
}

// The binary with OMP_NUM_THREADS=1: exit status, stderr in `err`.
int run_dispa(const std::string& args, std::string& err) { return dispa::test::run_dispa(work_dir(), args, err); }

// Rows of a TSV (header first) as fields.
std::vector<std::vector<std::string>> read_rows(const fs::path& file) {
  dispa::train::TsvReader reader(file);
  std::vector<std::vector<std::string>> rows{reader.header()};
  while (reader.next()) rows.push_back(reader.fields());
  return rows;
}

// The trained run folder (trained by the binary on first use), or empty without the data.
const fs::path& trained_run() {
  static const fs::path run = []() -> fs::path {
    const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
    if (data.empty()) return {};
    const fs::path out = work_dir() / "run";
    std::string err;
    const int rc = run_dispa(fmt::format("train --data '{0}' --gmt '{0}/pathways_kegg34.gmt' --folds 2 --epochs 1 "
                                         "--embed-dim 16 --ffn-hidden 32 --attn-dim 16 --heads 2 --head-dims 16 8 "
                                         "--batch-size 64 --no-ridge --quiet --out '{1}'",
                                         data.string(), out.string()),
                             err);
    REQUIRE_MESSAGE(rc == 0, err);
    return out;
  }();
  return run;
}

const char* kImatinib = "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5";

}  // namespace

TEST_CASE("e2e: dispa predict on an unseen cell and an unseen SMILES, ensemble and single fold") {
  const fs::path& run = trained_run();
  if (run.empty()) return;
  const fs::path data = dispa::test::shared_dir() / "data/gdsc2-mini";
  // A new cell: the first mini cell's values shifted, the first 5 gene columns left out.
  const auto expr = read_rows(data / "expression.tsv");
  std::string text = "cell_id";
  for (size_t g = 6; g < expr[0].size(); ++g) text += "\t" + expr[0][g];
  text += "\nNEW-CELL";
  for (size_t g = 6; g < expr[1].size(); ++g) text += fmt::format("\t{}", std::stod(expr[1][g]) + 0.5);
  text += "\n";
  const fs::path expression = write("new_expression.tsv", text);
  const fs::path drugs = write("new_drugs.tsv", fmt::format("drug_name\tsmiles\nImatinib\t{}\nAspirin\tCC(=O)OC1=CC=CC=C1C(=O)O\n", kImatinib));
  const fs::path pairs = write("pairs.tsv", "cell_id\tdrug_name\nNEW-CELL\tAspirin\nNEW-CELL\tImatinib\n");

  std::string err;
  const fs::path out = work_dir() / "preds.tsv";
  int rc = run_dispa(fmt::format("predict --run '{}' --expression '{}' --drugs '{}' --pairs '{}' --out '{}'", run.string(),
                                 expression.string(), drugs.string(), pairs.string(), out.string()),
                     err);
  REQUIRE_MESSAGE(rc == 0, err);
  CHECK_MESSAGE(err.find("missing and set to 0") != std::string::npos, err);  // the 5 genes left out
  auto rows = read_rows(out);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"cell_id", "drug_name", "prediction", "prediction_sd"});
  CHECK(rows[1][0] == "NEW-CELL");
  CHECK(rows[1][1] == "Aspirin");
  CHECK(rows[2][1] == "Imatinib");
  for (size_t r = 1; r < rows.size(); ++r) {
    CHECK(std::isfinite(std::stod(rows[r][2])));
    CHECK(std::stod(rows[r][3]) >= 0.0);
  }

  // One fold, every cell x drug of the mini data: three columns, 40 x 12 rows.
  rc = run_dispa(fmt::format("predict --run '{}/fold_1' --expression '{}/expression.tsv' --drugs '{}/drugs.tsv' "
                             "--batch-size 100 --out '{}'",
                             run.string(), data.string(), data.string(), out.string()),
                 err);
  REQUIRE_MESSAGE(rc == 0, err);
  rows = read_rows(out);
  CHECK(rows.size() == 1 + 40 * 12);
  CHECK(rows[0].size() == 3);
}

TEST_CASE("e2e: dispa explain writes both maps as TSV and SVG, the top pathways and the prediction") {
  const fs::path& run = trained_run();
  if (run.empty()) return;
  const fs::path out = work_dir() / "explain";
  std::string err;
  const int rc = run_dispa(fmt::format("explain --run '{}' --cell ACH-000030 --drug Olaparib --out '{}'", run.string(),
                                       out.string()),
                           err);
  REQUIRE_MESSAGE(rc == 0, err);
  for (const char* f : {"path2sub_attention.tsv", "path2sub_attention_by_head.tsv", "drug2path_attention.tsv",
                        "top_pathways.tsv", "path2sub_heatmap.svg", "drug2path.svg", "explanation.json"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  const auto p2s = read_rows(out / "path2sub_attention.tsv");
  CHECK(p2s.size() == 1 + 32);          // header + P pathways (KEGG34 sets with >= 5 genes)
  CHECK(p2s[0].size() == 2 + 6);        // Olaparib has 6 BRICS fragments
  const auto top = read_rows(out / "top_pathways.tsv");
  CHECK(top.size() == 1 + 6 * 10);
  const std::string json = read_text(out / "explanation.json");
  CHECK(json.find("\"prediction\"") != std::string::npos);
  CHECK(json.find("\"fold\": 0") != std::string::npos);
  CHECK(read_text(out / "drug2path.svg").find("</svg>") != std::string::npos);
}

TEST_CASE("e2e: predict and explain errors: unknown cell in --pairs, bad SMILES, not a run folder") {
  const fs::path& run = trained_run();
  if (run.empty()) return;
  const fs::path data = dispa::test::shared_dir() / "data/gdsc2-mini";
  const fs::path out = work_dir() / "preds_err.tsv";
  std::string err;
  const fs::path pairs = write("bad_pairs.tsv", "cell_id\tdrug_name\nACH-000030\tOlaparib\nNOPE\tOlaparib\n");
  int rc = run_dispa(fmt::format("predict --run '{}' --expression '{}/expression.tsv' --drugs '{}/drugs.tsv' --pairs '{}' --out '{}'",
                                 run.string(), data.string(), data.string(), pairs.string(), out.string()),
                     err);
  CHECK(rc == 1);
  CHECK_MESSAGE(err.find("error: " + pairs.string() + ":3: unknown cell 'NOPE'") != std::string::npos, err);

  const fs::path drugs = write("bad_drugs.tsv", "drug_name\tsmiles\nAspirin\tCC(=O)OC1=CC=CC=C1C(=O)O\nBroken\tC1CC(\n");
  rc = run_dispa(fmt::format("predict --run '{}' --expression '{}/expression.tsv' --drugs '{}' --out '{}'", run.string(),
                             data.string(), drugs.string(), out.string()),
                 err);
  CHECK(rc == 1);
  CHECK_MESSAGE(err.find("error: " + drugs.string() + ":3: chem: drug 'Broken' has an invalid SMILES 'C1CC('") !=
                    std::string::npos,
                err);
  rc = run_dispa(fmt::format("predict --run '{}' --expression '{}/expression.tsv' --drugs '{}' --skip-invalid-drugs --out '{}'",
                             run.string(), data.string(), drugs.string(), out.string()),
                 err);
  CHECK_MESSAGE(rc == 0, err);
  CHECK(read_rows(out).size() == 1 + 40);

  fs::create_directories(work_dir() / "not_a_run");
  rc = run_dispa(fmt::format("explain --run '{}' --cell ACH-000030 --drug Olaparib --out '{}'",
                             (work_dir() / "not_a_run").string(), (work_dir() / "explain_err").string()),
                 err);
  CHECK(rc == 1);
  CHECK_MESSAGE(err.find("is not a dispa run: it has no run.json") != std::string::npos, err);
}
