// Gene aliases and matching, spot positions and cell labels (bio/gene_aliases.h,
// bio/tenx_positions.h), and the shared spatial / single-cell data sets read end to end: their
// sizes and the gene overlap their READMEs state.
#include <doctest/doctest.h>

#include <fstream>

#include "bio/count_matrix.h"
#include "bio/expression.h"
#include "bio/gene_aliases.h"
#include "bio/tenx_positions.h"
#include "engine/error.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"

namespace fs = std::filesystem;
using namespace dispa;
using dispa::test::error_of;

namespace {
std::vector<bio::Feature> features(const std::vector<std::string>& symbols) {
  std::vector<bio::Feature> out;
  for (const auto& s : symbols) out.push_back({s, s, ""});
  return out;
}
}  // namespace

TEST_CASE("gene matching: case-insensitive, aliases both ways, exact spelling first, duplicates kept") {
  const bio::GeneAliasTable aliases;
  CHECK(aliases.size() == 17);
  const std::vector<std::string> model = {"TP53", "SEPTIN9", "CARS1", "EGFR", "MKL1", "KRAS"};
  auto f = features({"tp53", "Sept9", "CARS", "CARS1", "EGFR", "EGFR", "MRTFA", "ADT_CD3"});
  f[7].type = "Antibody Capture";
  const bio::GeneMatch m = bio::match_genes(model, f, aliases);
  CHECK(m.features_of_gene[0] == std::vector<int32_t>{0});     // TP53 <- tp53
  CHECK(m.features_of_gene[1] == std::vector<int32_t>{1});     // SEPTIN9 <- Sept9 (alias)
  CHECK(m.features_of_gene[2] == std::vector<int32_t>{3});     // CARS1: exact spelling wins over CARS
  CHECK(m.features_of_gene[3] == std::vector<int32_t>{4, 5});  // EGFR twice: both (counts are added)
  CHECK(m.features_of_gene[4] == std::vector<int32_t>{6});     // a model on the old symbol MKL1 finds MRTFA
  CHECK(m.features_of_gene[5].empty());
  CHECK(m.matched == 5);
  CHECK(m.matched_via_alias == 2);
  CHECK(m.via_alias == std::vector<int8_t>{0, 1, 0, 0, 1, 0});
  CHECK(m.alias_examples[0] == "SEPTIN9 (as Sept9)");
  // A spelling that is a model gene itself is never borrowed as an alias.
  const bio::GeneMatch m2 = bio::match_genes({"SEPT9", "SEPTIN9"}, features({"SEPT9"}), aliases);
  CHECK(m2.features_of_gene[0].size() == 1);
  CHECK(m2.features_of_gene[1].empty());
}

TEST_CASE("gene aliases: extra pairs from a TSV; a symbol standing for two genes is an error") {
  test::TempDir dir("aliases");
  bio::GeneAliasTable t;
  t.add_file(dir.write("a.tsv", "previous\tcurrent\nFOO1\tBAR1\n# comment\n"));
  CHECK(t.aliases_of("BAR1") == std::vector<std::string>{"FOO1"});
  CHECK(error_of([&] { t.add_file(dir.write("b.tsv", "SEPT9\tOTHER\n")); })
            .find("b.tsv:1: 'SEPT9' is already an alias of 'SEPTIN9', cannot also stand for 'OTHER'") != std::string::npos);
}

TEST_CASE("tissue positions: with and without header; every barcode needs one; extra spots ignored") {
  const std::vector<std::string> barcodes = {"s1", "s2"};
  const std::string rows = "s2,1,3,4,20.5,40\ns1,1,1,2,10,30\nother,0,0,0,1,1\n";
  for (const std::string& text :
       {"barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n" + rows, rows}) {
    const bio::SpotPositions p = bio::parse_tissue_positions(text, "pos.csv", barcodes);
    CHECK(p.x == std::vector<double>{30, 40});
    CHECK(p.y == std::vector<double>{10, 20.5});
    CHECK(p.ignored == 1);
  }
  CHECK(error_of([&] { bio::parse_tissue_positions("s1,1,1,2,10,30\n", "pos.csv", barcodes); })
            .find("pos.csv: 1 of the matrix's 2 barcodes have no position (e.g. s2)") != std::string::npos);
  CHECK(error_of([&] { bio::parse_tissue_positions("x1,1,1,2,10,30\n", "pos.csv", barcodes); })
            .find("another data set?") != std::string::npos);
  CHECK(error_of([&] { bio::parse_tissue_positions("s1,1,1,2,10,abc\n", "pos.csv", barcodes); })
            .find("pos.csv:1: pxl_row_in_fullres and pxl_col_in_fullres must be finite numbers, got '10' and 'abc'") !=
        std::string::npos);
  CHECK(error_of([&] { bio::parse_tissue_positions("s1,1,1,2,10,30\ns1,1,1,2,10,30\n", "pos.csv", barcodes); })
            .find("pos.csv:2: barcode 's1' appears twice (first on line 1)") != std::string::npos);
  CHECK(error_of([&] { bio::parse_tissue_positions("s1,1,1\n", "pos.csv", barcodes); }).find("expected 6") !=
        std::string::npos);
}

TEST_CASE("cell labels: any header names, or none; unknown and unlabelled cells counted") {
  const std::vector<std::string> barcodes = {"A1", "A2", "A3"};
  for (const std::string& text : {std::string("cell\tgroup\nA1\tH1975\nA3\tHCC827\nZZ\tH2228\n"),
                                  std::string("A1\tH1975\nA3\tHCC827\nZZ\tH2228\n")}) {
    const bio::CellLabels l = bio::parse_cell_labels(text, "labels.tsv", barcodes);
    CHECK(l.label == std::vector<std::string>{"H1975", "", "HCC827"});
    CHECK(l.names == std::vector<std::string>{"H1975", "HCC827"});
    CHECK(l.unlabelled == 1);
    CHECK(l.ignored == 1);
  }
  CHECK(bio::parse_cell_labels("A1,x\nA2,y\n", "l.csv", barcodes).label[1] == "y");
  CHECK(error_of([&] { bio::parse_cell_labels("h\th\nA1\tx\nA1\ty\n", "l.tsv", barcodes); })
            .find("l.tsv:3: barcode 'A1' appears twice (first on line 2)") != std::string::npos);
  CHECK(error_of([&] { bio::parse_cell_labels("h\th\nB1\tx\n", "l.tsv", barcodes); }).find("labels of another data set?") !=
        std::string::npos);
}

TEST_CASE("shared spatial and single-cell data: sizes and gene overlap as their READMEs state") {
  const fs::path spatial = test::shared_path_or_skip("data/spatial");
  const fs::path singlecell = test::shared_path_or_skip("data/singlecell");
  const fs::path gdsc2 = test::shared_path_or_skip("data/gdsc2/expression.tsv");
  if (spatial.empty() || singlecell.empty() || gdsc2.empty()) return;
  const std::vector<std::string> model = bio::read_expression(gdsc2).genes();
  REQUIRE(model.size() == 706);
  const bio::GeneAliasTable aliases;
  struct Case {
    std::string folder;
    int64_t cells, entries, matched, via_alias;
  };
  for (const Case& c : {Case{"spatial/pdac_moncada2020", 428, 408577, 629, 6},
                        Case{"spatial/breast_stahl2016/layer1", 254, -1, 616, 16},
                        Case{"spatial/breast_stahl2016/layer4", 262, -1, 616, 16}}) {
    CAPTURE(c.folder);
    auto s = bio::open_counts(test::shared_dir() / "data" / c.folder);
    CHECK(s->n_cells() == c.cells);
    if (c.entries >= 0) CHECK(s->n_entries() == c.entries);
    const bio::GeneMatch m = bio::match_genes(model, s->features(), aliases);
    CHECK(m.matched == c.matched);
    CHECK(m.matched_via_alias == c.via_alias);
    const bio::SpotPositions p =
        bio::read_tissue_positions(test::shared_dir() / "data" / c.folder / "spatial/tissue_positions.csv", s->barcodes());
    CHECK(p.ignored == 0);
  }
  double total = 0;
  auto pdac = bio::open_counts(spatial / "pdac_moncada2020");
  pdac->scan(100, [&](const bio::CountBatch& b) {
    for (float v : b.values) total += v;
  });
  CHECK(total == 998550);  // README: 998,550 counts in total
  for (const char* protocol : {"celseq2", "dropseq"}) {
    const fs::path dir = singlecell / "lung_lines_3cl" / protocol;
    auto s = bio::open_counts(dir / "filtered_feature_bc_matrix");
    const bio::CellLabels l = bio::read_cell_labels(dir / "cells.tsv", s->barcodes());
    CHECK(l.names.size() == 3);
    CHECK(s->n_cells() == (std::string(protocol) == "celseq2" ? 240 : 210));
  }
}
