// Attribution methods (analysis/attribution.h) against values computed independently on a
// 2-pathway / 2-fragment DiSPA in f64: occlusion from forwards of the edited raw inputs (exact),
// gradient x input from central differences of the token-stage forward (to 1e-8), integrated
// gradients from a fine Simpson quadrature of those differences (to the midpoint rule's step
// error, estimated from m and 2m steps), attention and rollout from the forward's own maps.
#include <cmath>
#include <functional>

#include <doctest/doctest.h>

#include "analysis/attribution.h"
#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/analysis/tiny_model.h"

using namespace dispa;
using analysis::Method;

namespace {

double predict(const Dispa& model, const DispaInputs& in) {
  NoGrad no_grad;
  return model.forward(in).prediction.item();
}

double predict_tokens(const Dispa& model, const DispaTokens& t) {
  NoGrad no_grad;
  return model.forward_tokens(t).prediction.item();
}

// Copy of a tensor with element `index` (flat) set to 0.
Tensor zeroed(const Tensor& t, const std::vector<int64_t>& flat) {
  std::vector<double> v = t.to_f64_vector();
  for (int64_t i : flat) v[size_t(i)] = 0.0;
  return Tensor::from_vector(v, t.shape());
}

// Tokens with fragment f masked: its mask entry and its token row set to 0.
DispaTokens mask_fragment(const DispaTokens& t, int f, int64_t E) {
  DispaTokens m = t;
  std::vector<int64_t> row;
  for (int64_t e = 0; e < E; ++e) row.push_back(f * E + e);
  m.fragment_tokens = zeroed(t.fragment_tokens, row);
  m.mask = zeroed(t.mask, {f});
  return m;
}

// d/dt y(tokens with row `row` of the chosen side moved by t·direction[row]) at t = 0, by central
// differences (f64, h = 1e-5: error ~1e-10 for this smooth model).
double directional(const Dispa& model, const DispaTokens& at, bool pathway_side, int64_t row, const Tensor& direction) {
  const Tensor& base = pathway_side ? at.pathway_tokens : at.fragment_tokens;
  const int64_t E = base.dim(2);
  std::vector<double> d = direction.to_f64_vector(), only(d.size(), 0.0);
  for (int64_t e = 0; e < E; ++e) only[size_t(row * E + e)] = d[size_t(row * E + e)];
  const Tensor step = Tensor::from_vector(only, base.shape());
  const double h = 1e-5;
  DispaTokens plus = at, minus = at;
  (pathway_side ? plus.pathway_tokens : plus.fragment_tokens) = add(base, mul_scalar(step, h));
  (pathway_side ? minus.pathway_tokens : minus.fragment_tokens) = sub(base, mul_scalar(step, h));
  return (predict_tokens(model, plus) - predict_tokens(model, minus)) / (2 * h);
}

// ∫_0^1 of the directional derivative along the straight path from `from` to `to` (one side),
// composite Simpson with 200 intervals: the quadrature error is far below the IG step error.
double path_integral(const Dispa& model, const DispaTokens& at, bool pathway_side, int64_t row, const Tensor& from,
                     const Tensor& to) {
  const Tensor delta = sub(to, from);
  const int n = 200;
  double s = 0;
  for (int k = 0; k <= n; ++k) {
    const double alpha = double(k) / n, w = (k == 0 || k == n) ? 1 : (k % 2 ? 4 : 2);
    DispaTokens p = at;
    (pathway_side ? p.pathway_tokens : p.fragment_tokens) = add(from, mul_scalar(delta, alpha));
    s += w * directional(model, p, pathway_side, row, delta);
  }
  return s / (3.0 * n);
}

}  // namespace

TEST_CASE("attribution: every method agrees with hand-computed values on a 2-pathway, 2-fragment model") {
  test::TinyModel t = test::tiny_model("differential", 2, 3, {2}, /*f64=*/true);
  const Dispa& model = *t.model;
  const int64_t P = 2, E = t.config.embed_dim;
  const int F = 2;
  analysis::AttributionOptions o;
  o.ig_steps = 16;
  const std::vector<int32_t> all_cells = {0, 1, 2};
  const Tensor baseline = analysis::mean_pathway_tokens(*t.model, t.data, all_cells);
  const int64_t pair = 1;  // cell 1 x drug 0
  const std::vector<analysis::PairAttribution> got = analysis::attribute_pairs(*t.model, t.data, {pair}, baseline, o);
  REQUIRE(got.size() == 1);
  const analysis::PairAttribution& a = got[0];
  REQUIRE(a.fragments == F);

  const train::Batch batch = train::make_batch(t.data, {pair}, false);
  const DispaInputs& in = batch.inputs;
  const double y = predict(model, in);
  CHECK(std::abs(a.prediction - y) < 1e-12);

  // The baseline: the mean of the encoded pathway tokens of the three cells.
  {
    NoGrad no_grad;
    const train::Batch cells = train::make_batch(t.data, {0, 1, 2}, false);  // cells 0, 1, 2 with drug 0
    const Tensor mean_tokens = mean(model.encode(cells.inputs).pathway_tokens, 0);
    CHECK(std::abs(sum_all(abs(sub(mean_tokens, baseline))).item()) < 1e-12);
  }

  // Occlusion: forwards of edited raw inputs.
  std::vector<double> y_path(P), y_frag(F), y_both(P * F);
  for (int64_t p = 0; p < P; ++p) {
    DispaInputs e = in;
    e.expression = zeroed(in.expression, {2 * p, 2 * p + 1});  // pathway p = genes 2p, 2p+1
    y_path[size_t(p)] = predict(model, e);
    for (int f = 0; f < F; ++f) {
      DispaInputs ef = e;
      std::vector<int64_t> row;
      for (int64_t k = 0; k < t.config.drug_dim; ++k) row.push_back(f * t.config.drug_dim + k);
      ef.substructures = zeroed(in.substructures, row);
      ef.mask = zeroed(in.mask, {f});
      y_both[size_t(p * F + f)] = predict(model, ef);
      if (p == 0) {
        DispaInputs only = in;
        only.substructures = ef.substructures;
        only.mask = ef.mask;
        y_frag[size_t(f)] = predict(model, only);
      }
    }
  }
  const analysis::MethodTables& occ = a[Method::occlusion];
  for (int64_t p = 0; p < P; ++p) {
    CHECK(std::abs(occ.pathway[size_t(p)] - (y - y_path[size_t(p)])) < 1e-12);
    for (int f = 0; f < F; ++f)
      CHECK(std::abs(occ.map[size_t(p * F + f)] - (y - y_path[size_t(p)] - y_frag[size_t(f)] + y_both[size_t(p * F + f)])) <
            1e-12);
  }
  for (int f = 0; f < F; ++f) CHECK(std::abs(occ.fragment[size_t(f)] - (y - y_frag[size_t(f)])) < 1e-12);

  // Gradient x input: the derivative along the token itself (x·∇ restricted to one row).
  DispaTokens tokens;
  {
    NoGrad no_grad;
    tokens = model.encode(in);
  }
  const analysis::MethodTables& gi = a[Method::grad_input];
  for (int64_t p = 0; p < P; ++p) {
    const double want = directional(model, tokens, true, p, tokens.pathway_tokens);
    CHECK(std::abs(gi.pathway[size_t(p)] - want) < 1e-8);
    for (int f = 0; f < F; ++f) {
      const DispaTokens masked = mask_fragment(tokens, f, E);
      const double want_masked = directional(model, masked, true, p, masked.pathway_tokens);
      CHECK(std::abs(gi.map[size_t(p * F + f)] - (want - want_masked)) < 1e-8);
    }
  }
  for (int f = 0; f < F; ++f)
    CHECK(std::abs(gi.fragment[size_t(f)] - directional(model, tokens, false, f, tokens.fragment_tokens)) < 1e-8);

  // Integrated gradients: exact path integrals vs m and 2m midpoint steps.
  analysis::AttributionOptions o2 = o;
  o2.ig_steps = 2 * o.ig_steps;
  const analysis::PairAttribution fine = analysis::attribute_pairs(*t.model, t.data, {pair}, baseline, o2).at(0);
  const Tensor xbar = baseline.reshape({1, P, E});
  const Tensor zero = Tensor::zeros(tokens.fragment_tokens.shape(), DType::f64);
  double ig_sum = 0;
  auto check_step_error = [](double m, double m2, double exact) {
    // Midpoint rule: error(m) ≈ 4/3 (IG_m − IG_2m); allow 1.5x and f64 noise.
    CHECK_MESSAGE(std::abs(m - exact) <= 1.5 * std::abs(m - m2) + 1e-8, "IG_m ", m, " IG_2m ", m2, " exact ", exact);
    CHECK(std::abs(m2 - exact) <= std::abs(m - exact) + 1e-9);
  };
  for (int64_t p = 0; p < P; ++p) {
    const double exact = path_integral(model, tokens, true, p, xbar, tokens.pathway_tokens);
    ig_sum += exact;
    check_step_error(a[Method::integrated_gradients].pathway[size_t(p)], fine[Method::integrated_gradients].pathway[size_t(p)],
                     exact);
  }
  // Completeness of the exact integrals: Σ_p = y(x) − y(x̄, z).
  DispaTokens at_baseline = tokens;
  at_baseline.pathway_tokens = xbar;
  CHECK(std::abs(ig_sum - (y - predict_tokens(model, at_baseline))) < 1e-7);
  for (int f = 0; f < F; ++f) {
    const double exact = path_integral(model, tokens, false, f, zero, tokens.fragment_tokens);
    check_step_error(a[Method::integrated_gradients].fragment[size_t(f)],
                     fine[Method::integrated_gradients].fragment[size_t(f)], exact);
  }
  // Its map: the same integral with fragment f masked, subtracted.
  for (int f = 0; f < F; ++f) {
    const DispaTokens masked = mask_fragment(tokens, f, E);
    for (int64_t p = 0; p < P; ++p) {
      const double exact = path_integral(model, tokens, true, p, xbar, tokens.pathway_tokens) -
                           path_integral(model, masked, true, p, xbar, masked.pathway_tokens);
      check_step_error(a[Method::integrated_gradients].map[size_t(p * F + f)],
                       fine[Method::integrated_gradients].map[size_t(p * F + f)], exact);
    }
  }

  // Attention and rollout: the forward's own maps (one head).
  NoGrad no_grad;
  const DispaOutputs out = model.forward(in);
  const std::vector<double> p2s = out.path2sub_attention.to_f64_vector();   // [1, 1, P, L]
  const std::vector<double> d2p = out.drug2path_attention.to_f64_vector();  // [1, 1, 1, P]
  const int64_t L = t.config.max_substructures;
  for (int64_t p = 0; p < P; ++p) {
    CHECK(a[Method::attention].pathway[size_t(p)] == d2p[size_t(p)]);
    double row = 0;
    for (int f = 0; f < F; ++f) {
      CHECK(a[Method::attention].map[size_t(p * F + f)] == p2s[size_t(p * L + f)]);
      CHECK(std::abs(a[Method::attention_rollout].map[size_t(p * F + f)] - d2p[size_t(p)] * p2s[size_t(p * L + f)]) < 1e-15);
      row += a[Method::attention_rollout].map[size_t(p * F + f)];
    }
    CHECK(std::abs(a[Method::attention_rollout].pathway[size_t(p)] - row) < 1e-15);
  }
  for (int f = 0; f < F; ++f)
    CHECK(std::abs(a[Method::attention].fragment[size_t(f)] - 0.5 * (p2s[size_t(f)] + p2s[size_t(L + f)])) < 1e-15);
}

TEST_CASE("attribution: results do not depend on the chunking; aggregation gives means and mean magnitudes") {
  test::TinyModel t = test::tiny_model("vanilla", 3, 4, {2, 3}, /*f64=*/true);
  const std::vector<int32_t> cells = {0, 1, 2, 3};
  const Tensor baseline = analysis::mean_pathway_tokens(*t.model, t.data, cells);
  const std::vector<int64_t> drug1 = {1, 3, 5, 7};  // every cell with drug 1
  analysis::AttributionOptions one, many;
  one.pairs_per_chunk = 1;
  one.rows_per_forward = 3;
  many.pairs_per_chunk = 8;
  const auto a = analysis::attribute_pairs(*t.model, t.data, drug1, baseline, one);
  const auto b = analysis::attribute_pairs(*t.model, t.data, {0, 1, 2, 3, 4, 5, 6, 7}, baseline, many);
  for (size_t i = 0; i < drug1.size(); ++i)
    for (Method m : analysis::kMethods) {
      const auto& x = a[i][m];
      const auto& y = b[size_t(drug1[i])][m];
      REQUIRE(x.map.size() == y.map.size());
      for (size_t k = 0; k < x.map.size(); ++k) CHECK(std::abs(x.map[k] - y.map[k]) < 1e-12);
      for (size_t k = 0; k < x.pathway.size(); ++k) CHECK(std::abs(x.pathway[k] - y.pathway[k]) < 1e-12);
    }
  const analysis::AggregatedAttribution agg = analysis::aggregate(a);
  CHECK(agg.pairs == 4);
  CHECK(agg.fragments == 3);
  for (size_t p = 0; p < 3; ++p) {
    double mean = 0, mean_abs = 0;
    for (const auto& x : a) {
      mean += x[Method::occlusion].pathway[p] / 4;
      mean_abs += std::abs(x[Method::occlusion].pathway[p]) / 4;
    }
    CHECK(std::abs(agg[Method::occlusion].pathway_mean[p] - mean) < 1e-12);
    CHECK(std::abs(agg[Method::occlusion].pathway(Method::occlusion)[p] - mean_abs) < 1e-12);
    CHECK(&agg[Method::attention].pathway(Method::attention) == &agg[Method::attention].pathway_mean);
  }
  CHECK_THROWS_AS(analysis::aggregate(b), Error);  // two drugs
}
