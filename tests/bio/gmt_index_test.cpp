// GMT reading and the [P, S] pathway index: intersection, size rules, padding, coverage report.
#include <doctest/doctest.h>

#include "bio/gmt.h"
#include "bio/pathway_index.h"
#include "engine/io/text.h"
#include "bio/expression.h"
#include "engine/error.h"
#include "tests/bio/score_table.h"
#include "tests/support/shared_data.h"

using namespace dispa;
using namespace dispa::bio;
using namespace dispa::io;

TEST_CASE("gmt: sets keep file order; symbols normalised; duplicates in a set counted once") {
  const auto sets = parse_gmt("s1\tfirst set\ttp53\tEGFR\tTP53\t\n\n  s2 \tsecond\tKRAS\r\ns3\tempty\n", "g.gmt");
  REQUIRE(sets.size() == 3);
  CHECK(sets[0].id == "s1");
  CHECK(sets[0].description == "first set");
  CHECK(sets[0].genes == std::vector<std::string>{"TP53", "EGFR"});
  CHECK(sets[0].n_listed == 3);
  CHECK(sets[0].line == 1);
  CHECK(sets[1].id == "s2");
  CHECK(sets[1].genes == std::vector<std::string>{"KRAS"});
  CHECK(sets[1].line == 3);
  CHECK(sets[2].genes.empty());
  CHECK(parse_gmt("s\td\ttp53\n", "g", SymbolCase::keep)[0].genes == std::vector<std::string>{"tp53"});
}

TEST_CASE("gmt: errors name file and line") {
  CHECK_THROWS_WITH_AS(parse_gmt("s1\td\tA\ns2 A B\n", "g.gmt"),
                       doctest::Contains("g.gmt:2: expected 'id<TAB>description<TAB>gene...'"), Error);
  CHECK_THROWS_WITH_AS(parse_gmt("s1\td\tA\ns1\te\tB\n", "g.gmt"),
                       doctest::Contains("g.gmt:2:1: gene set 's1' is defined twice (lines 1 and 2)"), Error);
  CHECK_THROWS_WITH_AS(parse_gmt("\td\tA\n", "g.gmt"), doctest::Contains("g.gmt:1:1: empty gene-set id"), Error);
  CHECK_THROWS_WITH_AS(parse_gmt("\n\n", "g.gmt"), doctest::Contains("no gene sets"), Error);
}

TEST_CASE("gmt: a gene field that normalises to nothing (\"\") is ignored like a blank one") {
  // Found by fuzz/gmt_fuzz: "" used to become a gene with an empty symbol.
  const auto sets = parse_gmt("s1\td\tTP53\t\"\"\t \" \" \tEGFR\n", "g.gmt");
  REQUIRE(sets.size() == 1);
  CHECK(sets[0].genes == std::vector<std::string>{"TP53", "EGFR"});
  CHECK(sets[0].n_listed == 2);
}

TEST_CASE("gmt: a UTF-8 BOM does not enter the first set id") {
  const auto sets = parse_gmt("\xEF\xBB\xBFs1\td\tTP53\n", "g.gmt");
  REQUIRE(sets.size() == 1);
  CHECK(sets[0].id == "s1");
}

TEST_CASE("pathway index: [P, S] i32 with -1 padding, GMT order, sizes and reasons reported") {
  const std::vector<std::string> genes = {"A", "B", "C", "D", "E", "F"};
  const auto sets = parse_gmt("big\t.\tF\tX\tA\tB\tC\n"
                              "small\t.\tA\tY\n"
                              "none\t.\tX\tY\n"
                              "mid\t.\tE\tD\n",
                              "g.gmt");
  PathwayIndexOptions o;
  o.min_size = 2;
  const PathwayIndex idx = build_pathway_index(sets, genes, o);
  CHECK(idx.ids == std::vector<std::string>{"big", "mid"});
  CHECK(idx.index.shape() == Shape{2, 4});
  CHECK(idx.index.dtype() == DType::i32);
  CHECK(idx.index.to_vector<int32_t>() == std::vector<int32_t>{5, 0, 1, 2, 4, 3, -1, -1});
  CHECK(idx.members[1] == std::vector<int32_t>{4, 3});
  CHECK(idx.max_set_size() == 4);
  CHECK(idx.n_covered_genes == 6);
  REQUIRE(idx.coverage.size() == 4);
  CHECK(idx.coverage[0].n_genes_gmt == 5);
  CHECK(idx.coverage[0].n_genes_in_expression == 4);
  CHECK(idx.coverage[1].kept == false);
  CHECK(idx.coverage[1].reason == "1 gene in the expression matrix < min size 2");
  CHECK(idx.coverage[2].reason == "no gene in the expression matrix");
  CHECK(describe_selection(idx.coverage, o).find("kept 2 of 4 gene sets (min 2 genes); dropped 2: small (1 gene") == 0);

  o.max_size = 3;  // R's max.sz drops the big set ...
  const PathwayIndex dropped = build_pathway_index(sets, genes, o);
  CHECK(dropped.ids == std::vector<std::string>{"mid"});
  CHECK(dropped.coverage[0].reason == "4 genes in the expression matrix > max size 3");
  o.oversized = OversizedSets::truncate;  // ... truncation keeps its first 3 genes
  const PathwayIndex truncated = build_pathway_index(sets, genes, o);
  CHECK(truncated.index.shape() == Shape{2, 3});
  CHECK(truncated.index.to_vector<int32_t>() == std::vector<int32_t>{5, 0, 1, 4, 3, -1});
  CHECK(truncated.coverage[0].n_genes_used == 3);
  CHECK(truncated.coverage[0].reason == "truncated from 4 to the first 3 genes");

  o = {};
  o.min_size = 5;
  CHECK_THROWS_WITH_AS(build_pathway_index(sets, genes, o),
                       doctest::Contains("no gene set has at least 5 genes in the expression matrix (4 sets, 6 genes; "
                                         "the largest intersection has 4 genes)"),
                       Error);
  CHECK(compute_coverage(sets, genes, o).size() == 4);  // the coverage table still works
  o.min_size = 0;
  CHECK_THROWS_AS(build_pathway_index(sets, genes, o), Error);
}

TEST_CASE("pathway index: KEGG34 on GDSC2 keeps the sets R kept, with R's gene counts") {
  const auto expr_path = test::shared_path_or_skip("data/gdsc2/expression.tsv");
  const auto fixture = test::shared_path_or_skip("fixtures/gsva/gdsc2_kegg34_sets.tsv");
  if (expr_path.empty() || fixture.empty()) return;
  const ExpressionMatrix m = read_expression(expr_path);
  const PathwayIndex idx = build_pathway_index(read_gmt(expr_path.parent_path() / "pathways_kegg34.gmt"), m.genes());
  CHECK(idx.n_pathways() == 32);
  CHECK(idx.max_set_size() == 75);  // hsa04151 PI3K-Akt, as the data README says
  // The fixture's sets table: set_id, description, n_genes_gmt, n_genes_in_expression, kept.
  const std::string text = read_text_file(fixture);
  LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  std::vector<std::string_view> f;
  lines.next(line, number);  // header
  size_t i = 0;
  while (lines.next(line, number)) {
    split_tabs(line, f);
    REQUIRE(i < idx.coverage.size());
    const GeneSetCoverage& c = idx.coverage[i++];
    CHECK(c.id == f[0]);
    CHECK(std::to_string(c.n_genes_gmt) == f[2]);
    CHECK(std::to_string(c.n_genes_in_expression) == f[3]);
    CHECK((c.kept ? "1" : "0") == f[4]);
  }
  CHECK(i == idx.coverage.size());
}
