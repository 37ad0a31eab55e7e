// dispa transfer and dispa evaluate as library calls with a tiny run trained on gdsc2-mini (2 folds,
// 1 epoch, about 2 s): a 6-spot 10x folder written here (model genes in lower case) with positions
// and labels, predicted per spot, smoothed (kNN) and pooled
// (pseudobulk); the errors of mismatched positions, no overlapping genes and corrupt gzip. Then
// the cross-dataset evaluation with the training screen itself as the target, where the
// "training measurement" reference must be exact.
#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "analysis/cross_dataset.h"
#include "analysis/transfer.h"
#include "bio/expression.h"
#include "engine/log.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "tests/train/tiny_run.h"
#include "train/train_run.h"
#include "train/tsv_reader.h"

using namespace dispa;
namespace fs = std::filesystem;
using dispa::test::error_of;

namespace {

// The tiny run (tests/train/tiny_run.h), trained on first use and shared by this binary's tests.
const test::TinyRun& tiny_run() {
  static const test::TinyRun t = test::train_tiny_run("transfer_tiny_run");
  return t;
}

int64_t rows_of(const fs::path& file) {
  train::TsvReader r(file);
  int64_t n = 0;
  while (r.next()) ++n;
  return n;
}

// Six spots on a 3 x 2 grid; counts for the first 60 model genes (symbols lower-cased: matching is
// case-insensitive), plus genes the model does not know.
fs::path write_spots(const test::TempDir& dir, const std::vector<std::string>& genes) {
  const fs::path d = dir.path() / "spots";
  fs::create_directories(d / "spatial");
  std::string features, matrix;
  int64_t entries = 0;
  const int G = 60;
  for (int g = 0; g < G; ++g) {
    std::string s = genes[size_t(g)];
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    features += "id" + std::to_string(g) + "\t" + s + "\tGene Expression\n";
  }
  features += "x1\tNOT_A_GENE_1\tGene Expression\nx2\tNOT_A_GENE_2\tGene Expression\n";
  std::string body;
  for (int c = 0; c < 6; ++c)
    for (int g = 0; g < G + 2; ++g) {
      const int v = (g * 7 + c * 3) % 11;  // varies over spots, some zeros
      if (v == 0) continue;
      body += fmt::format("{} {} {}\n", g + 1, c + 1, v + (g < G && c < 3 ? 5 : 0));
      ++entries;
    }
  matrix = fmt::format("%%MatrixMarket matrix coordinate integer general\n{} 6 {}\n", G + 2, entries) + body;
  std::ofstream(d / "matrix.mtx") << matrix;
  std::ofstream(d / "features.tsv") << features;
  std::ofstream(d / "barcodes.tsv") << "s1\ns2\ns3\ns4\ns5\ns6\n";
  std::ofstream(d / "spatial" / "tissue_positions.csv")
      << "barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n"
         "s1,1,0,0,0,0\ns2,1,0,1,0,200\ns3,1,0,2,0,400\ns4,1,1,0,200,0\ns5,1,1,1,200,200\ns6,1,1,2,200,400\n";
  std::ofstream(d / "labels.tsv") << "spot\tregion\ns1\ttumour\ns2\ttumour\ns3\ttumour\ns4\tstroma\ns5\tstroma\n";
  return d;
}

}  // namespace

TEST_CASE("dispa transfer on a small spatial folder: predictions, summaries, maps, report") {
  const test::TinyRun& r = tiny_run();
  if (r.run.empty()) return;
  test::TempDir dir("transfer_run");
  const std::vector<std::string> genes = bio::read_expression(r.data / "expression.tsv").genes();
  const fs::path spots = write_spots(dir, genes);
  analysis::TransferOptions o;
  o.run_dir = r.run;
  o.counts = spots;
  o.drugs = r.data / "drugs.tsv";
  o.positions = spots / "spatial" / "tissue_positions.csv";
  o.labels = spots / "labels.tsv";
  o.out = dir.path() / "out";
  o.auto_maps = 2;
  o.batch_cells = 4;  // two batches: streaming over batches must not change anything
  const nlohmann::json j = analysis::run_transfer(o);
  CHECK(j["units"] == 6);
  CHECK(j["genes"]["found"] == 60);
  CHECK(j["genes"]["model"] == 200);
  CHECK(j["drugs"] == 12);
  CHECK(j["harmonise"]["standardize"] == "units");
  CHECK(!j["warnings"].empty());  // 60 of 200 genes: low pathway coverage is warned about
  CHECK(rows_of(o.out / "predictions.tsv") == 6 * 12);
  CHECK(rows_of(o.out / "summary_by_label.tsv") == 2 * 12);
  CHECK(rows_of(o.out / "summary_by_drug.tsv") == 12);
  REQUIRE(j["maps"].size() == 2);
  for (const auto& m : j["maps"]) {
    std::ifstream png(o.out / m["png"].get<std::string>(), std::ios::binary);
    std::string head(8, '\0');
    png.read(head.data(), 8);
    CHECK(head == std::string("\x89PNG\r\n\x1a\n", 8));
    CHECK(fs::file_size(o.out / m["svg"].get<std::string>()) > 500);
  }
  std::ifstream html(o.out / "report.html");
  const std::string page((std::istreambuf_iterator<char>(html)), {});
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("Mean prediction by label") != std::string::npos);

  // Same predictions with one batch of all cells.
  analysis::TransferOptions one = o;
  one.batch_cells = 1000;
  one.out = dir.path() / "out_one_batch";
  analysis::run_transfer(one);
  std::ifstream a(o.out / "predictions.tsv"), b(one.out / "predictions.tsv");
  CHECK(std::string((std::istreambuf_iterator<char>(a)), {}) == std::string((std::istreambuf_iterator<char>(b)), {}));

  // kNN smoothing and pseudobulk.
  analysis::TransferOptions knn = o;
  knn.pooling = analysis::Pooling::knn;
  knn.knn = 2;
  knn.out = dir.path() / "out_knn";
  CHECK(analysis::run_transfer(knn)["pooling"] == "knn");
  CHECK(rows_of(knn.out / "predictions.tsv") == 6 * 12);
  analysis::TransferOptions pb = o;
  pb.pooling = analysis::Pooling::pseudobulk;
  pb.positions.clear();
  pb.out = dir.path() / "out_pb";
  const nlohmann::json jp = analysis::run_transfer(pb);
  CHECK(jp["units"] == 2);
  CHECK(jp["cells_per_label"] == std::vector<int>{3, 2});
  CHECK(jp["harmonise"]["standardize"] == "cells");
  CHECK(rows_of(pb.out / "predictions.tsv") == 2 * 12);
}

TEST_CASE("dispa transfer: mismatched positions, no overlapping genes, corrupt gzip") {
  const test::TinyRun& r = tiny_run();
  if (r.run.empty()) return;
  test::TempDir dir("transfer_errors");
  const fs::path spots = write_spots(dir, bio::read_expression(r.data / "expression.tsv").genes());
  analysis::TransferOptions o;
  o.run_dir = r.run;
  o.counts = spots;
  o.drugs = r.data / "drugs.tsv";
  o.out = dir.path() / "out";
  o.positions = dir.write("pos.csv", "s1,1,0,0,0,0\ns2,1,0,1,0,200\n");
  CHECK(error_of([&] { analysis::run_transfer(o); }).find("pos.csv: 4 of the matrix's 6 barcodes have no position") !=
        std::string::npos);
  o.positions.clear();
  const fs::path other = dir.path() / "other";
  fs::create_directories(other);
  std::ofstream(other / "matrix.mtx") << "%%MatrixMarket matrix coordinate integer general\n2 1 1\n1 1 3\n";
  std::ofstream(other / "features.tsv") << "m1\tGm123\nm2\tXist2\n";
  std::ofstream(other / "barcodes.tsv") << "c1\n";
  o.counts = other;
  CHECK(error_of([&] { analysis::run_transfer(o); }).find("none of the run's 200 genes is among its 2 features") !=
        std::string::npos);
  std::ofstream(other / "matrix.mtx.gz", std::ios::binary) << std::string("\x1f\x8b\x08\x00garbage-not-deflate", 23);
  fs::remove(other / "matrix.mtx");
  CHECK(error_of([&] { analysis::run_transfer(o); }).find("matrix.mtx.gz: corrupt gzip data") != std::string::npos);
}

TEST_CASE("dispa evaluate: the training screen as its own target gives exact agreement in shared_measured_in_both") {
  const test::TinyRun& r = tiny_run();
  if (r.run.empty()) return;
  test::TempDir dir("evaluate_run");
  // Target drugs: the first 8 mapped to the training drugs (under new names), the rest unseen.
  train::TsvReader in(r.data / "drugs.tsv");
  std::string drugs = "drug_name\tsmiles\tin_gdsc2\tgdsc2_drug_name\n";
  std::string response = "cell_id\tdrug_name\tln_ic50\n";
  std::map<std::string, std::string> renamed;
  int i = 0;
  while (in.next()) {
    const std::string name = in.field(in.column("drug_name"));
    renamed[name] = "T-" + name;
    drugs += fmt::format("T-{}\t{}\t{}\t{}\n", name, in.field(in.column("smiles")), i < 8 ? "yes" : "no", i < 8 ? name : "");
    ++i;
  }
  train::TsvReader resp(r.data / "response.tsv");
  while (resp.next())
    response += fmt::format("{}\t{}\t{}\n", resp.field(0), renamed.at(resp.field(1)), resp.field(2));
  const fs::path target = dir.path() / "target";
  fs::create_directories(target);
  std::ofstream(target / "drugs.tsv") << drugs;
  std::ofstream(target / "response.tsv") << response;
  analysis::CrossDatasetOptions o;
  o.run_dir = r.run;
  o.data = target;
  o.out = dir.path() / "out";
  const nlohmann::json j = analysis::run_cross_dataset(o);
  CHECK(j["drugs_shared"] == 8);
  CHECK(j["drugs_unseen"] == 4);
  CHECK(j["groups"]["all"]["pairs"] == j["pairs"]);
  CHECK(j["groups"]["shared"]["pairs"].get<int64_t>() + j["groups"]["unseen"]["pairs"].get<int64_t>() == j["pairs"]);
  CHECK(j["groups"]["shared"]["pairs"] == j["groups"]["shared_measured_in_both"]["pairs"]);
  const auto& exact = j["groups"]["shared_measured_in_both"]["baselines"]["training_measurement"];
  CHECK(exact["rmse"].get<double>() == doctest::Approx(0.0));
  CHECK(exact["pearson"].get<double>() == doctest::Approx(1.0));
  CHECK(j["folds"].size() == 2);
  CHECK(j.contains("ensemble"));
  CHECK(rows_of(o.out / "predictions.tsv") == j["pairs"].get<int64_t>());
  // Without --out: RUN/eval_<name of the data folder>, also for a path ending in '/'.
  analysis::CrossDatasetOptions d = o;
  d.out.clear();
  d.data = target.string() + "/";
  analysis::run_cross_dataset(d);
  CHECK(fs::exists(r.run / "eval_target" / "metrics.json"));
  fs::remove_all(r.run / "eval_target");
  // in_gdsc2 that contradicts the mapping is an error naming the line.
  std::ofstream(target / "drugs.tsv") << "drug_name\tsmiles\tin_gdsc2\tgdsc2_drug_name\nX\tCCO\tyes\t\n";
  CHECK(error_of([&] { analysis::run_cross_dataset(o); }).find("drugs.tsv:2: drug 'X' has in_gdsc2 = yes but gdsc2_drug_name ''") !=
        std::string::npos);
}
