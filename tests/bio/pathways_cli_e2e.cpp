// `dispa pathways` end to end on gdsc2-mini: the built binary scores the mini expression against
// KEGG34 with every method and the tables are compared with R's fixtures; coverage matches the
// fixture's set table; bad input fails with "error: <file>:<line>..." and a non-zero exit.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/io/text.h"
#include "tests/bio/score_table.h"
#include "tests/support/shared_data.h"

using namespace dispa;
namespace fs = std::filesystem;

namespace {

fs::path work_dir() {
  const fs::path dir = fs::path(DISPA_BINARY_DIR) / "tests" / "bio" / "pathways_e2e";
  fs::create_directories(dir);
  return dir;
}

// Runs the dispa binary; returns its exit status, stderr in `err`.
int run_dispa(const std::string& args, std::string& err) {
  const fs::path err_file = work_dir() / "stderr.txt";
  const std::string cmd = fmt::format("'{}' {} 2> '{}' > '{}'", DISPA_TOOL, args, err_file.string(),
                                      (work_dir() / "stdout.txt").string());
  const int status = std::system(cmd.c_str());
  err = io::read_text_file(err_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("e2e: dispa pathways score reproduces R's fixtures on gdsc2-mini") {
  const auto expr = test::shared_path_or_skip("data/gdsc2-mini/expression.tsv");
  const auto fixtures = test::shared_path_or_skip("fixtures/gsva");
  if (expr.empty() || fixtures.empty()) return;
  const fs::path gmt = expr.parent_path() / "pathways_kegg34.gmt";
  const std::vector<std::tuple<std::string, std::string, double>> cases = {
      {"ssgsea", "ssgsea", 1e-4}, {"ssgsea-raw", "ssgsea_nonorm", 1e-4}, {"gsva", "gsva", 1e-3}, {"zscore", "zscore", 1e-4}};
  for (const auto& [method, file, tol] : cases) {
    CAPTURE(method);
    const fs::path out = work_dir() / (method + ".tsv");
    fs::remove(out);
    std::string err;
    const int rc = run_dispa(fmt::format("pathways score --expression '{}' --gmt '{}' --method {} --min-size 5 --out '{}'",
                                         expr.string(), gmt.string(), method, out.string()),
                             err);
    REQUIRE_MESSAGE(rc == 0, err);
    CHECK(err.find("dropped 2: hsa03320 (3 genes in the expression matrix < min size 5)") != std::string::npos);
    const bio::ExpressionMatrix got = test::read_score_table(out);
    const bio::ExpressionMatrix want = test::read_score_table(fixtures / ("gdsc2-mini_kegg34_" + file + ".tsv"));
    const std::string failure = test::compare_scores(got.samples(), got.genes(), got.values(), want, 0.999, tol);
    CHECK_MESSAGE(failure.empty(), failure);
    CHECK(got.id_column() == "cell_id");
  }
}

TEST_CASE("e2e: dispa pathways coverage lists sizes before and after intersection") {
  const auto expr = test::shared_path_or_skip("data/gdsc2-mini/expression.tsv");
  const auto fixture = test::shared_path_or_skip("fixtures/gsva/gdsc2-mini_kegg34_sets.tsv");
  if (expr.empty() || fixture.empty()) return;
  const fs::path out = work_dir() / "coverage.tsv";
  std::string err;
  const int rc = run_dispa(fmt::format("pathways coverage --expression '{}' --gmt '{}' --out '{}' --quiet",
                                       expr.string(), (expr.parent_path() / "pathways_kegg34.gmt").string(),
                                       out.string()),
                           err);
  REQUIRE_MESSAGE(rc == 0, err);
  CHECK(err.empty());  // --quiet
  const std::string got = io::read_text_file(out), want = io::read_text_file(fixture);
  io::LineScanner g(got), w(want);
  std::string_view gl, wl;
  int64_t gn = 0, wn = 0;
  std::vector<std::string_view> gf, wf;
  g.next(gl, gn), w.next(wl, wn);
  CHECK(gl == "set_id\tdescription\tn_genes_gmt\tn_genes_in_expression\tn_genes_used\tkept\treason");
  int rows = 0;
  while (w.next(wl, wn)) {
    REQUIRE(g.next(gl, gn));
    dispa::io::split_tabs(gl, gf), dispa::io::split_tabs(wl, wf);
    CHECK(gf[0] == wf[0]);
    CHECK(gf[2] == wf[2]);
    CHECK(gf[3] == wf[3]);
    CHECK(gf[5] == wf[4]);
    ++rows;
  }
  CHECK(rows == 34);
}

TEST_CASE("e2e: bad input fails clearly with a non-zero exit") {
  const fs::path bad = work_dir() / "bad.tsv";
  std::ofstream(bad) << "cell_id\tTP53\tEGFR\nc1\t1\t2\nc2\t3\toops\n";
  const fs::path gmt = work_dir() / "sets.gmt";
  std::ofstream(gmt) << "s1\tset\tTP53\tEGFR\n";
  std::string err;
  int rc = run_dispa(fmt::format("pathways score --expression '{}' --gmt '{}' --out '{}'", bad.string(), gmt.string(),
                                 (work_dir() / "never.tsv").string()),
                     err);
  CHECK(rc != 0);
  CHECK_MESSAGE(err.find("error: " + bad.string() + ":3:3: cannot parse 'oops' as a number") != std::string::npos, err);
  CHECK_FALSE(fs::exists(work_dir() / "never.tsv"));
  rc = run_dispa(fmt::format("pathways score --expression '{}' --gmt '{}' --method gsea --out x.tsv", bad.string(),
                             gmt.string()),
                 err);
  CHECK(rc != 0);
  CHECK_MESSAGE(err.find("unknown scoring method 'gsea'") != std::string::npos, err);
}
