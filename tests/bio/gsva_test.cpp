// Pathway scoring: building blocks by hand, the closed-form walks against literal transcriptions
// of R's code (explicit walks over every gene), and the R/GSVA 1.46 fixtures (mini and full). The
// GSVA density has an AVX2 path (engine/cpu_features.h): its tests run at every CPU level this
// machine can run, and the levels agree.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "bio/gsva.h"
#include "bio/pathway_scores.h"
#include "engine/cpu_features.h"
#include "engine/error.h"
#include "tests/bio/score_table.h"
#include "tests/support/close.h"
#include "tests/support/shared_data.h"

using namespace dispa;
using namespace dispa::bio;

namespace {

// [N, G] f64 normal values rounded to `decimals` (few decimals: many ties).
Tensor random_matrix(int64_t n, int64_t g, uint64_t seed, int decimals) {
  std::vector<double> v = Tensor::normal({n, g}, 0, 1, seed, 0, DType::f64).to_vector<double>();
  const double scale = std::pow(10.0, decimals);
  for (double& x : v) x = std::round(x * scale) / scale;
  return Tensor::from_vector(v, {n, g});
}

GeneSetColumns random_sets(int64_t g, int count, uint64_t seed) {
  const std::vector<double> u = Tensor::uniform({count * g}, 0, 1, seed, 0, DType::f64).to_vector<double>();
  GeneSetColumns sets;
  for (int s = 0; s < count; ++s) {
    std::vector<int32_t> set;
    for (int64_t j = 0; j < g; ++j)
      if (u[size_t(s * g + j)] < 0.2 + 0.05 * s) set.push_back(int32_t(j));
    if (set.empty()) set.push_back(int32_t(s % g));
    std::reverse(set.begin(), set.end());  // order within a set must not matter
    sets.push_back(set);
  }
  return sets;
}

// R: order(v, decreasing = TRUE) with ties in index order.
std::vector<int32_t> r_order_decreasing(const std::vector<double>& v) {
  std::vector<int32_t> o(v.size());
  std::iota(o.begin(), o.end(), 0);
  std::stable_sort(o.begin(), o.end(), [&](int32_t a, int32_t b) { return v[size_t(a)] > v[size_t(b)]; });
  return o;
}

// GSVA's .rndWalk(): the explicit walk over every gene, summed.
double ssgsea_explicit(const std::vector<double>& x, const std::vector<int32_t>& set, double tau) {
  const size_t n = x.size();
  std::vector<double> rank(n);
  for (size_t a = 0; a < n; ++a) {  // colRanks(ties = "average"), then mode(R) <- "integer"
    double less = 0, equal = 0;
    for (size_t b = 0; b < n; ++b) less += x[b] < x[a], equal += x[b] == x[a];
    rank[a] = std::trunc(less + (equal + 1) / 2);
  }
  std::vector<char> in(n, 0);
  for (int32_t g : set) in[size_t(g)] = 1;
  double w_total = 0, out_total = 0;
  for (size_t g = 0; g < n; ++g) (in[g] ? w_total += std::pow(rank[g], tau) : out_total += 1);
  double cum_in = 0, cum_out = 0, sum = 0;
  for (int32_t g : r_order_decreasing(rank)) {
    (in[size_t(g)] ? cum_in += std::pow(rank[size_t(g)], tau) : cum_out += 1);
    sum += cum_in / w_total - cum_out / out_total;
  }
  return sum;
}

// GSVA's row_d(): every (test, density) pair in R's loop order.
std::vector<double> density_explicit(const std::vector<double>& column) {
  const int64_t n = int64_t(column.size());
  const double bw = gsva_sample_sd(column.data(), n) / 4.0;
  std::vector<double> d(column.size());
  for (int64_t j = 0; j < n; ++j) {
    double left_tail = 0;
    for (int64_t i = 0; i < n; ++i) left_tail += gsva_kernel_cdf(column[size_t(j)] - column[size_t(i)], bw);
    left_tail /= double(n);
    d[size_t(j)] = -1.0 * std::log((1.0 - left_tail) / left_tail);
  }
  return d;
}

// ks_sample(): the explicit running sum over every gene.
double gsva_walk_explicit(const std::vector<double>& density, const std::vector<int32_t>& set, const GsvaOptions& o) {
  const size_t n = density.size();
  const std::vector<int32_t> order = r_order_decreasing(density);
  std::vector<double> score(n);
  for (size_t p = 0; p < n; ++p) score[size_t(order[p])] = std::fabs(double(n - p) - double(n) / 2);
  std::vector<char> in(n, 0);
  double total = 0;
  for (int32_t g : set) in[size_t(g)] = 1, total += std::pow(score[size_t(g)], o.tau);
  const double dec = 1.0 / double(n - set.size());
  double run = 0, mx_pos = 0, mx_neg = 0;
  for (int32_t g : order) {
    run += in[size_t(g)] ? std::pow(score[size_t(g)], o.tau) / total : -dec;
    mx_pos = std::max(mx_pos, run), mx_neg = std::min(mx_neg, run);
  }
  if (!o.mx_diff) return mx_pos > std::fabs(mx_neg) ? mx_pos : mx_neg;
  return o.abs_ranking ? mx_pos - mx_neg : mx_pos + mx_neg;
}

// Runs `body` once at every CPU level this machine can run, with that level in use.
template <typename Body>
void at_each_level(Body body) {
  for (CpuLevel level : runnable_cpu_levels()) {
    ScopedCpuLevel scope(level);
    const std::string name(cpu_level_name(level));
    CAPTURE(name);
    body();
  }
}

std::vector<double> column(const std::vector<double>& x, int64_t n, int64_t g, int64_t j) {
  std::vector<double> c(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) c[size_t(i)] = x[size_t(i * g + j)];
  return c;
}

}  // namespace

TEST_CASE("gsva building blocks: table CDF, R's sd, truncated average ranks") {
  CHECK(gsva_kernel_cdf(0, 1) == 0.5);
  CHECK(gsva_kernel_cdf(10.5, 1) == 1.0);
  CHECK(gsva_kernel_cdf(-10.5, 1) == 0.0);
  for (double d : {0.0123, 0.5, 1.96, 3.3, 7.0})
    CHECK(gsva_kernel_cdf(d, 1) + gsva_kernel_cdf(-d, 1) == doctest::Approx(1.0).epsilon(1e-15));
  // a step function of width 0.001 below the normal CDF: Phi(1.9605) is read at 1.960
  CHECK(gsva_kernel_cdf(1.9605, 1) == gsva_kernel_cdf(1.9600, 1));
  CHECK(gsva_kernel_cdf(1.96, 1) == doctest::Approx(0.9750021048517795).epsilon(1e-12));
  const double x[] = {1, 2, 3, 4};
  CHECK(gsva_sample_sd(x, 4) == doctest::Approx(std::sqrt(5.0 / 3.0)).epsilon(1e-15));
  const double c[] = {2, 2, 2};
  CHECK(gsva_sample_sd(c, 3) == 0.0);
  // ties average then truncate: 1,1 -> 1.5 -> 1; 3,3,3 at positions 4..6 -> 5
  const double v[] = {3, 1, 3, 2, 3, 5, 1};
  CHECK(ssgsea_ranks(v, 7) == std::vector<int32_t>{5, 1, 5, 3, 5, 7, 1});
  const double signed_values[] = {-1.5, 0.0, -0.0, 2, -3};  // -0 ties +0; negatives sort below
  CHECK(ssgsea_ranks(signed_values, 5) == std::vector<int32_t>{2, 3, 3, 5, 1});
}

TEST_CASE("ssgsea: closed form equals R's explicit walk; normalisation divides by the range") {
  const int64_t n = 7, g = 60;
  const Tensor x = random_matrix(n, g, 11, 1);  // 1 decimal: many tied values
  const GeneSetColumns sets = random_sets(g, 5, 12);
  SsgseaOptions o;
  o.normalize = false;
  o.dtype = DType::f64;
  const std::vector<double> got = ssgsea(x, sets, o).to_vector<double>();
  const std::vector<double> xv = x.to_vector<double>();
  std::vector<double> want;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> row(xv.begin() + i * g, xv.begin() + (i + 1) * g);
    for (const auto& set : sets) want.push_back(ssgsea_explicit(row, set, 0.25));
  }
  CHECK_CLOSE_VALUES(got, want, 1e-9, 1e-12);
  o.normalize = true;
  const std::vector<double> norm = ssgsea(x, sets, o).to_vector<double>();
  const auto [lo, hi] = std::minmax_element(want.begin(), want.end());
  const double range = *hi - *lo;
  for (double& w : want) w /= range;
  CHECK_CLOSE_VALUES(norm, want, 1e-12, 1e-12);
  CHECK(ssgsea(x, sets).dtype() == DType::f32);
}

TEST_CASE("gsva: kernel density equals R's pair loop at every level, also where the table index sits on an integer") {
  SUBCASE("random values with ties") {
    const int64_t n = 37, g = 9;
    const Tensor x = random_matrix(n, g, 21, 2);
    const std::vector<double> xv = x.to_vector<double>();
    at_each_level([&] {
      const std::vector<double> d = gsva_gene_density(x).to_vector<double>();
      for (int64_t j = 0; j < g; ++j) {
        const std::vector<double> want = density_explicit(column(xv, n, g, j));
        CHECK_CLOSE_VALUES(column(d, n, g, j), want, 1e-12, 1e-12);
      }
    });
  }
  SUBCASE("three equally spaced values: |v| = 4 and 8 bandwidths, index 4000/8000 up to rounding") {
    // 0.007 and 0.037: |d| * (1000 / bw) truncates to 3999 where R's (|d| / bw) / 10 * 10000 gives 4000
    const std::vector<double> steps = {0.1, 0.3, 0.007, 1.0 / 3, 0.037, 12.5, 0.2, 0.9};
    const int64_t n = 3, g = int64_t(steps.size());
    std::vector<double> xv(size_t(n * g));
    for (int64_t j = 0; j < g; ++j)
      for (int64_t i = 0; i < n; ++i) xv[size_t(i * g + j)] = steps[size_t(j)] * double((i + j) % 3);
    const Tensor x = Tensor::from_vector(xv, {n, g});
    at_each_level([&] {
      const std::vector<double> d = gsva_gene_density(x).to_vector<double>();
      for (int64_t j = 0; j < g; ++j)
        CHECK_CLOSE_VALUES(column(d, n, g, j), density_explicit(column(xv, n, g, j)), 1e-13, 1e-13);
    });
  }
}

TEST_CASE("gsva: the density's vector and scalar pair loops agree to rounding") {
  // 301 samples: most pairs go through the AVX2 lane groups (8 and 4 at a time), the rest through
  // the scalar tail; the sums differ only in the order of additions.
  const int64_t n = 301, g = 5;
  const Tensor x = random_matrix(n, g, 41, 3);
  std::vector<double> reference;
  {
    ScopedCpuLevel portable(CpuLevel::portable);
    reference = gsva_gene_density(x).to_vector<double>();
  }
  at_each_level([&] { CHECK_CLOSE_VALUES(gsva_gene_density(x).to_vector<double>(), reference, 1e-12, 1e-12); });
}

TEST_CASE("gsva: closed-form walk equals R's explicit running sum, for every mx.diff/abs.ranking") {
  const int64_t n = 23, g = 48;
  const Tensor x = random_matrix(n, g, 31, 3);
  const GeneSetColumns sets = random_sets(g, 6, 32);
  const std::vector<double> density = gsva_gene_density(x).to_vector<double>();
  for (const auto& [mx_diff, abs_ranking, tau] :
       std::vector<std::tuple<bool, bool, double>>{{true, false, 1.0}, {true, true, 1.0}, {false, false, 1.0},
                                                   {true, false, 0.5}}) {
    CAPTURE(mx_diff);
    CAPTURE(abs_ranking);
    CAPTURE(tau);
    GsvaOptions o;
    o.mx_diff = mx_diff;
    o.abs_ranking = abs_ranking;
    o.tau = tau;
    o.dtype = DType::f64;
    const std::vector<double> got = gsva(x, sets, o).to_vector<double>();
    std::vector<double> want;
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<double> d(density.begin() + i * g, density.begin() + (i + 1) * g);
      for (const auto& set : sets) want.push_back(gsva_walk_explicit(d, set, o));
    }
    CHECK_CLOSE_VALUES(got, want, 1e-12, 1e-12);
  }
}

TEST_CASE("zscore: genes standardised with the N-1 sd, sets summed over sqrt(size)") {
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 10, 0, 2, 20, 5, 3, 60, 10}, {3, 3});
  // gene 0: mean 2, sd 1 -> z = -1, 0, 1; gene 1: mean 30, sd 26.4575 -> z = -0.7559, -0.3780, 1.1339
  const std::vector<double> got = combined_zscore(x, {{0, 1}, {0}}, DType::f64).to_vector<double>();
  const double s = std::sqrt(700.0);
  const std::vector<double> want = {(-1 - 20 / s) / std::sqrt(2.0), -1, (0 - 10 / s) / std::sqrt(2.0), 0,
                                    (1 + 30 / s) / std::sqrt(2.0), 1};
  CHECK_CLOSE_VALUES(got, want, 1e-12, 1e-12);
}

TEST_CASE("scoring: bad inputs fail with the op, the set and the value") {
  const Tensor x = random_matrix(5, 6, 41, 3);
  CHECK_THROWS_WITH_AS(ssgsea(x, {{0, 9}}), doctest::Contains("ssgsea: gene set 0 has column 9, out of range for 6"),
                       Error);
  CHECK_THROWS_WITH_AS(gsva(x, {{1}, {2, 2}}), doctest::Contains("gsva: gene set 1 lists column 2 twice"), Error);
  CHECK_THROWS_WITH_AS(ssgsea(x, {{0, 1, 2, 3, 4, 5}}), doctest::Contains("holds all 6 genes"), Error);
  CHECK_THROWS_WITH_AS(ssgsea(x, {{}}), doctest::Contains("gene set 0 is empty"), Error);
  CHECK_THROWS_WITH_AS(ssgsea(x, {}), doctest::Contains("no gene sets"), Error);
  std::vector<double> v = x.to_vector<double>();
  v[7] = NAN;
  CHECK_THROWS_WITH_AS(ssgsea(Tensor::from_vector(v, {5, 6}), {{0}}), doctest::Contains("x[1, 1] is nan"), Error);
  v[7] = 0;
  for (int i = 0; i < 5; ++i) v[size_t(i * 6 + 3)] = 1.5;  // gene 3 constant
  const Tensor c = Tensor::from_vector(v, {5, 6});
  CHECK_THROWS_WITH_AS(gsva(c, {{0}}), doctest::Contains("gsva: gene column 3 is constant over the 5 samples"), Error);
  CHECK_THROWS_WITH_AS(combined_zscore(c, {{3}}), doctest::Contains("zscore: gene column 3 of set 0 is constant"),
                       Error);
  CHECK_NOTHROW(ssgsea(c, {{3}}));  // ssGSEA ranks constant genes like any other (R keeps them)
  CHECK_THROWS_WITH_AS(gsva(random_matrix(1, 6, 1, 3), {{0}}), doctest::Contains("at least 2 samples"), Error);
  CHECK_THROWS_WITH_AS(ssgsea(Tensor::zeros({4}), {{0}}), doctest::Contains("must be a [samples, genes]"), Error);
  CHECK_THROWS_WITH_AS(ssgsea(Tensor::from_vector(std::vector<double>{1, 1, 2, 2}, {2, 2}), {{0}}),
                       doctest::Contains("all 2 scores are equal"), Error);
}

TEST_CASE("score_gene_sets: constant genes leave gsva and zscore as R's filter does") {
  const std::string text = "id\tA\tB\tC\tD\tK\ns1\t1\t5\t2\t0\t7\ns2\t2\t3\t9\t1\t7\ns3\t3\t1\t4\t8\t7\n";
  const ExpressionMatrix m = parse_expression(text, "k.tsv", {});
  const auto sets = parse_gmt("s\t.\tA\tK\tB\n", "k.gmt");
  ScoreOptions o;
  o.sets.min_size = 3;
  o.method = ScoreMethod::ssgsea_raw;
  CHECK(score_gene_sets(m, sets, o).sets.n_pathways() == 1);  // ssGSEA keeps K: 3 genes
  o.method = ScoreMethod::zscore;
  CHECK_THROWS_WITH_AS(score_gene_sets(m, sets, o), doctest::Contains("no gene set has at least 3 genes"), Error);
  o.sets.min_size = 2;
  const PathwayScores z = score_gene_sets(m, sets, o);
  CHECK(z.dropped_constant_genes == std::vector<std::string>{"K"});
  CHECK(z.scored_genes == std::vector<std::string>{"A", "B", "C", "D"});
  CHECK(z.sets.members[0] == std::vector<int32_t>{0, 1});
}

namespace {

void check_fixture(const std::string& data, const std::string& prefix, ScoreMethod method, const std::string& file,
                   double max_abs, DType read_dtype = DType::f64) {
  const auto expr_path = test::shared_path_or_skip("data/" + data + "/expression.tsv");
  const auto fixture = test::shared_path_or_skip("fixtures/gsva/" + prefix + "_kegg34_" + file + ".tsv");
  if (expr_path.empty() || fixture.empty()) return;
  ExpressionReadOptions ro;
  ro.dtype = read_dtype;
  const ExpressionMatrix m = read_expression(expr_path, ro);
  const auto sets = read_gmt(expr_path.parent_path() / "pathways_kegg34.gmt");
  ScoreOptions o;
  o.method = method;
  o.dtype = DType::f64;
  const PathwayScores s = score_gene_sets(m, sets, o);
  test::SetAgreement a;
  const std::string failure =
      test::compare_scores(s.samples, s.sets.ids, s.scores, test::read_score_table(fixture), 0.999, max_abs, &a);
  CHECK_MESSAGE(failure.empty(), fixture.filename().string() << ": " << failure);
  MESSAGE(fixture.filename().string() << " (" << std::string(dtype_name(read_dtype))
                                      << " input): min pearson " << a.min_pearson << ", max |diff| " << a.max_abs);
}

}  // namespace

TEST_CASE("fixtures: gdsc2-mini x KEGG34 agrees with R's GSVA 1.46") {
  check_fixture("gdsc2-mini", "gdsc2-mini", ScoreMethod::ssgsea, "ssgsea", 1e-4);
  check_fixture("gdsc2-mini", "gdsc2-mini", ScoreMethod::ssgsea_raw, "ssgsea_nonorm", 1e-4);
  at_each_level([] { check_fixture("gdsc2-mini", "gdsc2-mini", ScoreMethod::gsva, "gsva", 1e-3); });
  check_fixture("gdsc2-mini", "gdsc2-mini", ScoreMethod::zscore, "zscore", 1e-4);
}

TEST_CASE("fixtures: gdsc2 (580 x 706) x KEGG34 agrees with R's GSVA 1.46") {
  check_fixture("gdsc2", "gdsc2", ScoreMethod::ssgsea, "ssgsea", 1e-4);
  check_fixture("gdsc2", "gdsc2", ScoreMethod::ssgsea_raw, "ssgsea_nonorm", 1e-4);
  at_each_level([] { check_fixture("gdsc2", "gdsc2", ScoreMethod::gsva, "gsva", 1e-3); });
  check_fixture("gdsc2", "gdsc2", ScoreMethod::zscore, "zscore", 1e-4);
}

// f32 keeps the 6-digit values distinct and ties tied, so ssGSEA is unchanged; GSVA's table index
// moves for a few pairs, which reorders a few near-tied genes: up to ~2e-3 on gdsc2. Read f64
// (as `dispa pathways` does) where agreement with R to 1e-3 matters.
TEST_CASE("fixtures: f32 input (the training matrix) is exact for ssGSEA, close for GSVA") {
  check_fixture("gdsc2", "gdsc2", ScoreMethod::ssgsea, "ssgsea", 1e-4, DType::f32);
  check_fixture("gdsc2", "gdsc2", ScoreMethod::gsva, "gsva", 5e-3, DType::f32);
}
