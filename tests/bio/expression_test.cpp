// Expression readers: the three layouts, detection, symbol rules, missing values, duplicates, and
// error messages that name file, line and column.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "bio/expression.h"
#include "engine/io/text.h"
#include "engine/error.h"
#include "tests/support/shared_data.h"

using namespace dispa;
using namespace dispa::bio;
using namespace dispa::io;

namespace {

ExpressionMatrix parse(const std::string& text, ExpressionReadOptions o = {}, const std::string& name = "e.tsv") {
  return parse_expression(text, name, o);
}

std::vector<double> row(const ExpressionMatrix& m, int64_t i) {
  std::vector<double> out;
  for (int64_t j = 0; j < m.n_genes(); ++j) out.push_back(m.at(i, j));
  return out;
}

}  // namespace

TEST_CASE("expression: samples x genes TSV gives [N, G] values, ids and normalised symbols") {
  const ExpressionMatrix m = parse("cell_id\ttp53\t Egfr \n"
                                   "c1\t1.5\t-2\n"
                                   "c2\t+3e-1\t4.25\n");
  CHECK(m.n_samples() == 2);
  CHECK(m.n_genes() == 2);
  CHECK(m.samples() == std::vector<std::string>{"c1", "c2"});
  CHECK(m.genes() == std::vector<std::string>{"TP53", "EGFR"});
  CHECK(m.id_column() == "cell_id");
  CHECK(m.values().shape() == Shape{2, 2});
  CHECK(m.values().dtype() == DType::f32);
  CHECK(row(m, 1) == std::vector<double>{double(0.3f), 4.25});
  CHECK(m.sample_index("c2") == 1);
  CHECK(m.find_sample("c3") == -1);
  CHECK(m.gene_index("egfr") == 1);  // queries are normalised too
  CHECK(m.find_gene("KRAS") == -1);
  CHECK_THROWS_WITH_AS(m.sample_index("c3"), doctest::Contains("sample 'c3' is not in the expression matrix e.tsv"),
                       Error);
}

TEST_CASE("expression: genes x samples TSV is detected from its first header field and transposed") {
  const ExpressionMatrix m = parse("Gene\tS1\tS2\tS3\nA\t1\t2\t3\nB\t4\t5\t6\n");
  CHECK(m.samples() == std::vector<std::string>{"S1", "S2", "S3"});
  CHECK(m.genes() == std::vector<std::string>{"A", "B"});
  CHECK(row(m, 0) == std::vector<double>{1, 4});
  CHECK(row(m, 2) == std::vector<double>{3, 6});
  ExpressionReadOptions forced;
  forced.layout = ExpressionLayout::samples_by_genes;  // the flag overrides detection
  CHECK(parse("Gene\tS1\tS2\tS3\nA\t1\t2\t3\n", forced).samples() == std::vector<std::string>{"A"});
}

TEST_CASE("expression: GCT 1.2 with Name or Description as the symbol, CRLF line ends") {
  const std::string gct = "#1.2\r\n2\t2\r\nName\tDescription\tS1\tS2\r\nP1\tkras\t1\t2\r\nP2\tnras\t3\tNA\r\n";
  ExpressionReadOptions o;
  o.missing = MissingValues::impute_gene_mean;
  const ExpressionMatrix m = parse(gct, o, "x.gct");
  CHECK(m.genes() == std::vector<std::string>{"P1", "P2"});
  CHECK(row(m, 1) == std::vector<double>{2, 3});  // NA imputed by the gene mean
  o.gct_description_as_symbol = true;
  CHECK(parse(gct, o, "x.txt").genes() == std::vector<std::string>{"KRAS", "NRAS"});  // "#1.2" detects GCT
  CHECK_THROWS_WITH_AS(parse("#1.2\n3\t2\nName\tDescription\tS1\tS2\nP1\ta\t1\t2\n", {}, "x.gct"),
                       doctest::Contains("1 gene rows, but line 2 says 3"), Error);
  CHECK_THROWS_WITH_AS(parse("#1.2\n1\t3\nName\tDescription\tS1\tS2\nP1\ta\t1\t2\n", {}, "x.gct"),
                       doctest::Contains("x.gct:3: the header has 2 samples but line 2 says 3"), Error);
}

TEST_CASE("expression: missing values are an error naming file, line and column unless imputed") {
  const std::string text = "id\tA\tB\ns1\t1\t2\ns2\tNA\t4\ns3\t5\tnan\n";
  CHECK_THROWS_WITH_AS(parse(text), doctest::Contains("e.tsv:3:2: missing value (sample 's2', gene 'A'); 2 missing"),
                       Error);
  ExpressionReadOptions o;
  o.missing = MissingValues::impute_gene_mean;
  o.dtype = DType::f64;
  const ExpressionMatrix m = parse(text, o);
  CHECK(m.values().dtype() == DType::f64);
  CHECK(row(m, 1) == std::vector<double>{3, 4});  // mean of 1 and 5
  CHECK(row(m, 2) == std::vector<double>{5, 3});  // mean of 2 and 4
  CHECK_THROWS_WITH_AS(parse("id\tA\tB\ns1\tNA\t1\ns2\t\t2\n", o),
                       doctest::Contains("gene 'A' has no value in any sample"), Error);
}

TEST_CASE("expression: parse errors name file, line and column") {
  CHECK_THROWS_WITH_AS(parse("id\tA\tB\ns1\t1\t2\ns2\t3\tx7\n"),
                       doctest::Contains("e.tsv:3:3: cannot parse 'x7' as a number (sample 's2', gene 'B')"), Error);
  CHECK_THROWS_WITH_AS(parse("id\tA\tB\ns1\t1\tinf\n"), doctest::Contains("e.tsv:2:3: infinite value 'inf'"), Error);
  CHECK_THROWS_WITH_AS(parse("id\tA\tB\ns1\t1\n"),
                       doctest::Contains("e.tsv:2: 2 fields, but the header has 3"), Error);
  CHECK_THROWS_WITH_AS(parse("id\tA\t\ns1\t1\t2\n"), doctest::Contains("e.tsv:1:3: empty gene symbol in the header"),
                       Error);
  CHECK_THROWS_WITH_AS(parse("id\tA\ns1\t1\ns1\t2\n"),
                       doctest::Contains("e.tsv:3: sample 's1' appears twice (lines 2 and 3)"), Error);
  CHECK_THROWS_WITH_AS(parse(""), doctest::Contains("e.tsv: empty file"), Error);
  CHECK_THROWS_WITH_AS(parse("id\tA\n"), doctest::Contains("no data rows"), Error);
  CHECK_THROWS_WITH_AS(read_expression("/nonexistent/e.tsv"), doctest::Contains("cannot open '/nonexistent/e.tsv'"),
                       Error);
}

TEST_CASE("expression: duplicate symbols (after trim and case) follow the chosen rule") {
  const std::string text = "id\tA\tb\t a \tB\ns1\t1\t2\t3\t4\ns2\t5\t6\t7\t8\n";
  CHECK_THROWS_WITH_AS(parse(text), doctest::Contains("e.tsv:1: gene 'A' appears twice (columns 2 and 4"), Error);
  ExpressionReadOptions o;
  o.duplicates = DuplicateGenes::keep_first;
  ExpressionMatrix first = parse(text, o);
  CHECK(first.genes() == std::vector<std::string>{"A", "B"});
  CHECK(row(first, 1) == std::vector<double>{5, 6});
  o.duplicates = DuplicateGenes::mean;
  ExpressionMatrix mean = parse(text, o);
  CHECK(row(mean, 0) == std::vector<double>{2, 3});
  CHECK(row(mean, 1) == std::vector<double>{6, 7});
  o.symbol_case = SymbolCase::keep;  // case kept: 'A'/'a' and 'b'/'B' are different genes
  CHECK(parse(text, o).genes() == std::vector<std::string>{"A", "b", "a", "B"});
  // genes x samples: duplicates are rows, reported by line
  CHECK_THROWS_WITH_AS(parse("gene\tS1\nX\t1\nx\t2\n"), doctest::Contains("e.tsv:3: gene 'X' appears twice (lines 2 and 3"),
                       Error);
}

TEST_CASE("expression: select_genes keeps the chosen columns in order") {
  const ExpressionMatrix m = parse("id\tA\tB\tC\ns1\t1\t2\t3\ns2\t4\t5\t6\n");
  const ExpressionMatrix s = m.select_genes({2, 0});
  CHECK(s.genes() == std::vector<std::string>{"C", "A"});
  CHECK(row(s, 1) == std::vector<double>{6, 4});
  CHECK(s.samples() == m.samples());
  CHECK_THROWS_AS(m.select_genes({3}), Error);
}

TEST_CASE("text reader: numbers parse strictly") {
  double v = 0;
  CHECK(parse_number("1.25", v));
  CHECK(v == 1.25);
  CHECK(parse_number("-4e-3", v));
  CHECK(v == -4e-3);
  CHECK_FALSE(parse_number("1.2.3", v));
  CHECK_FALSE(parse_number("", v));
  CHECK_FALSE(parse_number("+", v));
  CHECK_FALSE(parse_number("1,5", v));
}

TEST_CASE("expression: the GDSC2 matrix reads as 580 cells x 706 genes") {
  const auto path = test::shared_path_or_skip("data/gdsc2/expression.tsv");
  if (path.empty()) return;
  const ExpressionMatrix m = read_expression(path);
  CHECK(m.n_samples() == 580);
  CHECK(m.n_genes() == 706);
  CHECK(m.samples().front() == "ACH-000001");
  CHECK(m.genes()[0] == "AKT3");
  CHECK(m.at(0, 0) == doctest::Approx(-0.0660046).epsilon(1e-7));
  CHECK(m.at(1, 2) == doctest::Approx(-0.384404).epsilon(1e-7));
  CHECK(m.gene_index("SEPTIN9") == 31);
}

TEST_CASE("expression: a UTF-8 BOM neither hides the id column nor transposes a genes x samples table") {
  const std::string bom = "\xEF\xBB\xBF";
  // genes x samples: detected from the first header field, which the BOM used to hide.
  const ExpressionMatrix g = parse(bom + "gene\ts1\ts2\nTP53\t1\t2\nEGFR\t3\t4\n");
  CHECK(g.samples() == std::vector<std::string>{"s1", "s2"});
  CHECK(g.genes() == std::vector<std::string>{"TP53", "EGFR"});
  const ExpressionMatrix s = parse(bom + "cell_id\tTP53\nc1\t1\n");
  CHECK(s.id_column() == "cell_id");
  // The same through a file (read_text_file drops it too).
  const std::string path = std::string(DISPA_BINARY_DIR) + "/expression_bom_test.tsv";
  {
    std::ofstream(path, std::ios::binary) << bom << "gene\ts1\nTP53\t1\n";
  }
  const ExpressionMatrix f = read_expression(path);
  CHECK(f.samples() == std::vector<std::string>{"s1"});
  std::filesystem::remove(path);
}

TEST_CASE("expression: the missing-value and duplicate hints name flags only where they exist") {
  const std::string missing = "id\tA\ns1\tNA\n", dup = "id\tA\ta\ns1\t1\t2\n";
  // Commands without --na / --duplicates (train, predict, explain): no flag is suggested.
  for (const std::string& text : {missing, dup}) {
    try {
      parse(text);
      FAIL("no error");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK_MESSAGE(m.find("--") == std::string::npos, m);
      CHECK_MESSAGE(m.find("in the file") != std::string::npos, m);
    }
  }
  ExpressionReadOptions o;
  o.hint_read_flags = true;  // dispa pathways
  CHECK_THROWS_WITH_AS(parse(missing, o), doctest::Contains("--na impute-mean"), Error);
  CHECK_THROWS_WITH_AS(parse(dup, o), doctest::Contains("--duplicates first|mean"), Error);
}

TEST_CASE("expression: echoed values are shortened") {
  const std::string huge(5'000'000, 'x');
  try {
    parse("id\tA\ns1\t" + huge + "\n");
    FAIL("no error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK_MESSAGE(m.size() < 300, m.substr(0, 300));
    CHECK(m.find("... (5000000 bytes)") != std::string::npos);
  }
}

TEST_CASE("gene symbols: normalising is idempotent, so a matrix finds every gene it holds by name") {
  for (const char* raw : {"\"\"TP53\"\"", " \" tp53 \" ", "\"\"\"\"", "\"A\"B\"", "x"}) {
    const std::string once = normalize_symbol(raw);
    CAPTURE(once);
    CHECK(normalize_symbol(once) == once);
  }
  CHECK(normalize_symbol("\"\"tp53\"\"") == "TP53");
  // Found by fuzz/expression_tsv_fuzz: a header symbol in two pairs of quotes.
  const ExpressionMatrix m = parse("id\t\"\"egfr\"\"\tA\ns1\t1\t2\n");
  for (int64_t j = 0; j < m.n_genes(); ++j) CHECK(m.find_gene(m.genes()[size_t(j)]) == j);
}
