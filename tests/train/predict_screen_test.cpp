// Whole-screen prediction (train/predict_screen.h): the cell-major screen gives every pair's
// prediction as the one-row-per-pair forward does, whatever the batch size (chunks of several
// cells, one cell per batch, one cell split over drug ranges), for one model and an ensemble;
// each cell and each drug is encoded once per model; and a screen of 10^6 pairs keeps the same
// peak host memory as one of 10^4 (counters, never timings). Also bench-step's screen mode.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include <fmt/format.h>

#include "engine/autograd.h"
#include "engine/storage.h"
#include "tests/support/close.h"
#include "train/predict_screen.h"
#include "train/step_bench.h"

using namespace dispa;
using namespace dispa::train;

namespace {

DispaConfig tiny_config() {
  DispaConfig c;
  c.embed_dim = 8;
  c.ffn_hidden = 8;
  c.attn_dim = 8;
  c.heads = 2;
  c.head_dims = {8, 8};
  c.genes = 10;
  c.pathways = 3;
  c.max_genes_per_pathway = 4;
  c.drug_dim = 6;
  c.max_substructures = 3;
  return c;
}

// cells x drugs with random tables (drug k has 1 + k % L valid fragments), no pairs.
FeaturizedDataset tiny_data(int64_t cells, int64_t drugs, uint64_t seed = 1) {
  const DispaConfig c = tiny_config();
  const int64_t G = c.genes, P = c.pathways, S = c.max_genes_per_pathway, L = c.max_substructures, Dd = c.drug_dim;
  std::mt19937 rng{uint32_t(seed)};
  std::normal_distribution<float> normal;
  auto randn = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = normal(rng);
    return v;
  };
  FeaturizedDataset d;
  std::vector<int32_t> index(size_t(P * S), -1);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t s = 0; s < 2 + p % 3 && s < S; ++s) index[size_t(p * S + s)] = int32_t((p * 3 + s * 2) % G);
  d.pathway_gene_indices = Tensor::from_vector(index, {P, S});
  d.cell_expression = Tensor::from_vector(randn(size_t(cells * G)), {cells, G});
  d.drug_global = Tensor::from_vector(randn(size_t(drugs * Dd)), {drugs, Dd});
  std::vector<float> fragments = randn(size_t(drugs * L * Dd)), mask(size_t(drugs * L), 0.f);
  for (int64_t k = 0; k < drugs; ++k)
    for (int64_t l = 0; l < L; ++l) {
      const bool valid = l <= k % L;
      mask[size_t(k * L + l)] = valid ? 1.f : 0.f;
      if (!valid) std::fill_n(fragments.begin() + (k * L + l) * Dd, Dd, 0.f);
    }
  d.drug_fragment_features = Tensor::from_vector(fragments, {drugs, L, Dd});
  d.drug_fragment_mask = Tensor::from_vector(mask, {drugs, L});
  for (int64_t i = 0; i < cells; ++i) d.cell_ids.push_back(fmt::format("c{}", i));
  for (int64_t k = 0; k < drugs; ++k) d.drug_names.push_back(fmt::format("d{}", k));
  return d;
}

std::vector<double> f64(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// The reference: one row per pair (no de-duplication), every pair in one forward.
std::vector<float> per_pair_predictions(const Dispa& model, FeaturizedDataset data) {
  data.pairs.clear();
  const int64_t C = data.cell_expression.dim(0), N = data.drug_global.dim(0);
  std::vector<int64_t> all;
  for (int32_t c = 0; c < C; ++c)
    for (int32_t k = 0; k < N; ++k) {
      all.push_back(int64_t(data.pairs.size()));
      data.pairs.push_back({c, k, 0.f});
    }
  NoGrad no_grad;
  return model.forward(make_batch(data, all, false).inputs).prediction.to_vector<float>();
}

}  // namespace

TEST_CASE("screen: every pair as the one-row-per-pair forward, in cell-major order, for any batch size") {
  const FeaturizedDataset data = tiny_data(7, 5);
  Dispa a(tiny_config(), 3), b(tiny_config(), 4);
  a.eval();
  b.eval();
  const std::vector<float> want_a = per_pair_predictions(a, data), want_b = per_pair_predictions(b, data);
  // 64: chunks of 12 cells (one batch); 11: 2 cells per batch; 5: one cell per batch; 3 and 2: one
  // cell split over drug ranges (a last range shorter).
  for (int64_t batch : {64, 11, 5, 3, 2}) {
    CAPTURE(batch);
    std::vector<float> got_a, got_b;
    std::vector<int32_t> cells, drugs;
    int64_t expected_first = 0;
    const ScreenStats stats = screen_all_pairs({&a, &b}, data, batch, [&](const ScreenBatch& sb) {
      CHECK(sb.first_pair == expected_first);
      expected_first += int64_t(sb.cells.size());
      REQUIRE(sb.per_model.size() == 2);
      got_a.insert(got_a.end(), sb.per_model[0].begin(), sb.per_model[0].end());
      got_b.insert(got_b.end(), sb.per_model[1].begin(), sb.per_model[1].end());
      cells.insert(cells.end(), sb.cells.begin(), sb.cells.end());
      drugs.insert(drugs.end(), sb.drugs.begin(), sb.drugs.end());
    });
    CHECK(stats.pairs == 35);
    CHECK(stats.max_batch_pairs <= batch);
    CHECK(stats.cell_encodings == 7 * 2);  // each cell once per model
    CHECK(stats.drug_encodings == 5 * 2);  // each drug once per model
    REQUIRE(cells.size() == 35);
    for (size_t i = 0; i < cells.size(); ++i) {
      CHECK(cells[i] == int32_t(i / 5));
      CHECK(drugs[i] == int32_t(i % 5));
    }
    CHECK_CLOSE_VALUES(f64(got_a), f64(want_a), 1e-5, 1e-5);
    CHECK_CLOSE_VALUES(f64(got_b), f64(want_b), 1e-5, 1e-5);
  }
}

TEST_CASE("screen: a bad batch size or no model is an error; an empty table gives no batch") {
  const FeaturizedDataset data = tiny_data(2, 2);
  Dispa model(tiny_config(), 0);
  model.eval();
  auto sink = [](const ScreenBatch&) { FAIL("no batch expected"); };
  CHECK_THROWS_WITH_AS(screen_all_pairs({&model}, data, 0, sink), doctest::Contains("batch size must be positive"),
                       Error);
  CHECK_THROWS_WITH_AS(screen_all_pairs({}, data, 8, sink), doctest::Contains("no model"), Error);
  CHECK(screen_all_pairs({&model}, tiny_data(0, 2), 8, sink).pairs == 0);
}

TEST_CASE("screen: 10^6 pairs stream with the peak host memory of 10^4 (bounded by a batch, not by pairs)") {
  Dispa model(tiny_config(), 1);
  model.eval();
  constexpr int64_t kDrugs = 500, kBatch = 2048;
  auto peak_growth = [&](int64_t cells, int64_t* pairs) {
    const FeaturizedDataset data = tiny_data(cells, kDrugs, 7);
    const size_t before = host_live_bytes();
    reset_host_peak_bytes();
    double sum = 0;
    const ScreenStats stats = screen_all_pairs({&model}, data, kBatch, [&](const ScreenBatch& b) {
      for (float v : b.per_model[0]) sum += v;
    });
    CHECK(std::isfinite(sum));
    CHECK(stats.max_batch_pairs <= kBatch);
    CHECK(stats.max_chunk_cells == kBatch / kDrugs);
    *pairs = stats.pairs;
    return host_peak_bytes() - before;
  };
  int64_t small_pairs = 0, large_pairs = 0;
  const size_t small = peak_growth(20, &small_pairs);
  const size_t large = peak_growth(2000, &large_pairs);
  CHECK(small_pairs == 10'000);
  CHECK(large_pairs == 1'000'000);
  MESSAGE("peak host bytes above the inputs: ", small, " for 10^4 pairs, ", large, " for 10^6");
  // The same batches and the same drug tokens: the peak may differ only by allocation noise, and a
  // stored copy of the 10^6 predictions alone (4 MB) would exceed the slack.
  CHECK(large <= small + (1u << 20));
  // The stated bound: a batch's activations, ~(P·(E + 3A) + head) floats per pair at these sizes,
  // far below 1 KiB per pair, plus the drug tokens.
  CHECK(large < size_t(kBatch) * 1024 + size_t(kDrugs) * 4 * 8 * 4 * 4);
}

TEST_CASE("bench-step: the screen and its per-batch baseline are measured (CPU, toy sizes)") {
  StepBenchOptions o;
  o.cells = 9;
  o.genes = 30;
  o.pathways = 5;
  o.max_genes_per_pathway = 8;
  o.drugs = 4;
  o.drug_dim = 20;
  o.max_substructures = 4;
  o.batch = 8;
  o.steps = 1;
  o.warmup = 0;
  o.screen = o.screen_baseline = true;
  o.screen_reps = 2;
  o.screen_batch = 10;
  const auto results = run_step_bench(o);
  REQUIRE(results.size() == 4);
  CHECK(results[2].mode == "screen");
  CHECK(results[3].mode == "screen_batched");
  for (size_t i = 2; i < 4; ++i) {
    CHECK(results[i].samples_per_s > 0);
    CHECK(results[i].p10_ms <= results[i].p90_ms);
  }
}
