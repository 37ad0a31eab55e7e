// The statistics behind the mechanism reports (analysis/statistics.h) and the target map
// (analysis/target_map.h), on cases small enough to know the answer.
#include <cmath>

#include <doctest/doctest.h>

#include "analysis/statistics.h"
#include "analysis/target_map.h"
#include "engine/error.h"
#include "tests/support/error_of.h"
#include "tests/train/temp_dir.h"

using namespace dispa;
using namespace dispa::analysis;

TEST_CASE("auroc: perfect, reversed, chance and ties count one half") {
  CHECK(auroc({3, 4}, {1, 2}) == 1.0);
  CHECK(auroc({1, 2}, {3, 4}) == 0.0);
  CHECK(auroc({1, 3}, {2, 4}) == 0.25);
  CHECK(auroc({2}, {2, 2}) == 0.5);          // ties: ½ each
  CHECK(auroc({2, 5}, {2, 1}) == 0.875);     // (0.5 + 1 + 1 + 1) / 4
  CHECK_THROWS_AS(auroc({}, {1}), Error);
}

TEST_CASE("mean_sd, empirical_p and rank_of (ties count against)") {
  const auto [m, sd] = mean_sd({1, 2, 3, 4});
  CHECK(m == 2.5);
  CHECK(std::abs(sd - std::sqrt(5.0 / 3.0)) < 1e-12);
  CHECK(mean_sd({7}).second == 0.0);
  CHECK(empirical_p(0.9, {0.1, 0.2, 0.95}) == 0.5);  // (1 + 1) / (1 + 3)
  CHECK(empirical_p(0.0, {}) == 1.0);
  CHECK(rank_of(1, {0.1, 0.9, 0.5}) == 1);
  CHECK(rank_of(2, {0.1, 0.9, 0.5}) == 2);
  CHECK(rank_of(0, {1.0, 1.0, 1.0}) == 3);  // a constant score ranks last, not first
}

TEST_CASE("adjusted_rand_index: 1 for equal partitions up to renaming, 0 on average for random ones") {
  CHECK(adjusted_rand_index({0, 0, 1, 1, 2, 2}, {5, 5, 9, 9, 7, 7}) == doctest::Approx(1.0));
  // By hand: index Σ C(n_ij, 2) = 2, rows 6, columns 3, C(6, 2) = 15: (2 − 6·3/15) / ((6 + 3)/2 − 6·3/15).
  CHECK(adjusted_rand_index({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}) == doctest::Approx((2 - 18.0 / 15) / (4.5 - 18.0 / 15)));
  double sum = 0;
  std::vector<int> a;
  for (int i = 0; i < 60; ++i) a.push_back(i % 4);
  for (uint64_t s = 0; s < 200; ++s) sum += adjusted_rand_index(a, shuffled(a, s));
  CHECK(std::abs(sum / 200) < 0.02);
  CHECK_THROWS_AS(adjusted_rand_index({0, 1}, {0}), Error);
}

TEST_CASE("kmeans separates well-separated groups; shuffled is a seeded permutation") {
  std::vector<double> x;
  std::vector<int> truth;
  for (int g = 0; g < 3; ++g)
    for (int i = 0; i < 10; ++i) {
      x.push_back(10.0 * g + 0.1 * i);
      x.push_back(-5.0 * g + 0.05 * (i % 3));
      truth.push_back(g);
    }
  CHECK(adjusted_rand_index(kmeans(x, 2, 3, 42), truth) == doctest::Approx(1.0));
  const std::vector<int> v = {1, 2, 3, 4, 5, 6};
  const std::vector<int> s = shuffled(v, 3);
  CHECK(s == shuffled(v, 3));
  CHECK(s != v);
  std::vector<int> sorted = s;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == v);
}

TEST_CASE("target map: built-in classes, gene lists, groups and the TSV reader's errors") {
  const std::vector<TargetMapEntry> map = default_target_map();
  auto has = [&](const std::string& klass, const std::string& id) {
    return std::any_of(map.begin(), map.end(), [&](const TargetMapEntry& e) { return e.target_pathway == klass && e.kegg_id == id; });
  };
  CHECK(has("EGFR signaling", "hsa04012"));
  CHECK(has("PI3K/MTOR signaling", "hsa04150"));
  CHECK(has("ERK MAPK signaling", "hsa04010"));
  CHECK(target_genes("EGFR, ERBB2") == std::vector<std::string>{"EGFR", "ERBB2"});
  CHECK(target_genes(" mtorc1 ,PI3K (class 1),") == std::vector<std::string>{"MTORC1", "PI3K (CLASS 1)"});
  CHECK(target_genes("NA").empty());
  CHECK(drug_group("Genome integrity") == "cytotoxic");
  CHECK(drug_group("EGFR signaling") == "targeted");
  CHECK(drug_group("Chromatin other") == "other");
  test::TempDir tmp("target_map");
  const auto ok = read_target_map(tmp.write("ok.tsv", "target_pathway\tkegg_id\nEGFR signaling\thsa04012\n"));
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].kegg_id == "hsa04012");
  const std::string e = test::error_of([&] { read_target_map(tmp.write("bad.tsv", "target_pathway\tid\nX\thsa1\n")); });
  CHECK_MESSAGE(e.find("bad.tsv") != std::string::npos, e);
  CHECK_MESSAGE(e.find("kegg_id") != std::string::npos, e);
}
