// Attention internals (analysis/internals.h) are the numbers the forward used: the `attention`
// maps read back from internals.safetensors, fed through V, RMSNorm, the output projections,
// pooling and the head, give the model's own prediction (1e-5); softmax rows sum to 1 over the
// unmasked keys; masked keys are 0 in every map and −inf in the scores; attention = softmax1 −
// λ·softmax2. For both attention kinds, and for the fused op and the unfused ops.
#include <cmath>
#include <fstream>

#include <doctest/doctest.h>

#include "analysis/internals.h"
#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "tests/analysis/tiny_model.h"
#include "tests/train/temp_dir.h"

using namespace dispa;

namespace {

// One view's output from a given map: O = RMSNorm(A·V)(·(1 − λinit)), heads concatenated, out_proj.
// attention [H, Lq, Lk] from the file; keys_values [1, Lk, E].
Tensor view_output(const CrossAttention& view, const Tensor& attention, const Tensor& keys_values) {
  const int64_t H = view.heads, Lq = attention.dim(1), Lk = attention.dim(2);
  const bool differential = view.kind == AttentionKind::differential;
  const int64_t n = differential ? 2 * view.head_dim : view.head_dim;
  const Tensor v = permute(view.v_proj.forward(keys_values).reshape({1, Lk, H, n}), {0, 2, 1, 3});  // [1, H, Lk, n]
  Tensor o = view.subln.forward(matmul(attention.reshape({1, H, Lq, Lk}), v));                    // [1, H, Lq, n]
  if (differential) o = mul_scalar(o, 1.0 - view.lambda_init);
  return view.out_proj.forward(permute(o, {0, 2, 1, 3}).reshape({1, Lq, view.attn_dim}));         // [1, Lq, E]
}

void check_internals(const std::string& attention, bool fused) {
  CAPTURE(attention);
  CAPTURE(fused);
  test::TinyModel t = test::tiny_model(attention, 5, 3, {2, 3}, /*f64=*/false);
  Dispa& model = *t.model;
  model.set_fused_attention(fused);
  const int64_t P = t.config.pathways, L = t.config.max_substructures, E = t.config.embed_dim;
  const int H = t.config.heads;
  for (int64_t pair : {1, 4}) {  // cell 0 x drug 1 (3 fragments), cell 2 x drug 0 (2 fragments, 1 masked)
    CAPTURE(pair);
    const train::Batch batch = train::make_batch(t.data, {pair}, /*deduplicate=*/false);
    const int F = int(t.data.drug_fragments[size_t(t.data.pairs[size_t(pair)].drug)].size());
    const analysis::PairInternals in = analysis::capture_internals(model, batch.inputs);
    test::TempDir tmp("internals_" + attention);
    analysis::InternalsLabels labels{t.data.pathway_ids, t.data.pathway_ids,
                                     t.data.drug_fragments[size_t(t.data.pairs[size_t(pair)].drug)], "C", "D"};
    analysis::write_internals(tmp.path(), in, labels);
    const SafetensorsFile file = load_safetensors((tmp.path() / "internals.safetensors").string());
    auto map = [&](const std::string& name) { return file.tensors.at(name); };
    const bool differential = attention == "differential";
    for (const char* view : {"path2sub", "drug2path"}) {
      const std::string v = std::string(view) + ".0.";
      const int64_t Lq = std::string(view) == "path2sub" ? P : 1, Lk = std::string(view) == "path2sub" ? L : P;
      REQUIRE(map(v + "attention").shape() == Shape({H, Lq, Lk}));
      CHECK(file.tensors.count(v + "scores2") == size_t(differential));
      CHECK(file.tensors.count(v + "softmax2") == size_t(differential));
      CHECK(file.tensors.count(v + "lambda") == size_t(differential));
      const std::vector<float> a = map(v + "attention").to_vector<float>();
      const std::vector<float> s1 = map(v + "softmax1").to_vector<float>();
      const std::vector<float> sc1 = map(v + "scores1").to_vector<float>();
      const std::vector<float> s2 = differential ? map(v + "softmax2").to_vector<float>() : std::vector<float>();
      const std::vector<float> sc2 = differential ? map(v + "scores2").to_vector<float>() : std::vector<float>();
      const std::vector<float> lambda = differential ? map(v + "lambda").to_vector<float>() : std::vector<float>();
      if (differential) {
        REQUIRE(lambda.size() == size_t(H));
        const CrossAttention& layer = std::string(view) == "path2sub" ? model.path2sub : model.drug2path;
        CHECK(double(lambda[0]) == doctest::Approx(layer.lambda().item()).epsilon(1e-6));
      }
      for (int64_t r = 0; r < H * Lq; ++r) {
        double sum1 = 0, sum2 = 0;
        for (int64_t j = 0; j < Lk; ++j) {
          const size_t k = size_t(r * Lk + j);
          const bool masked = std::string(view) == "path2sub" && j >= F;
          if (masked) {
            CHECK(a[k] == 0.0f);
            CHECK(s1[k] == 0.0f);
            CHECK(std::isinf(sc1[k]));
            CHECK(sc1[k] < 0);
            if (differential) {
              CHECK(s2[k] == 0.0f);
              CHECK(std::isinf(sc2[k]));
            }
          } else {
            CHECK(std::isfinite(sc1[k]));
          }
          sum1 += s1[k];
          if (differential) {
            sum2 += s2[k];
            CHECK(std::abs(a[k] - (s1[k] - lambda[size_t(r / Lq)] * s2[k])) < 1e-6);
          } else {
            CHECK(a[k] == s1[k]);
          }
        }
        CHECK(std::abs(sum1 - 1.0) < 1e-5);
        if (differential) CHECK(std::abs(sum2 - 1.0) < 1e-5);
      }
    }

    // The file's maps through the rest of the model reproduce the forward's prediction.
    NoGrad no_grad;
    const DispaTokens tokens = model.encode(batch.inputs);
    const Tensor view1 = view_output(model.path2sub, map("path2sub.0.attention"), tokens.fragment_tokens);  // [1, P, E]
    const Tensor view2 = view_output(model.drug2path, map("drug2path.0.attention"), tokens.pathway_tokens);  // [1, 1, E]
    const Tensor z = concat({mean(view1, 1), view2.reshape({1, E}), mean(tokens.fragment_tokens, 1)}, 1);
    const double reproduced = model.head.forward(z).item();
    const double forward = model.forward(batch.inputs).prediction.item();
    CHECK(std::abs(reproduced - forward) < 1e-5);
    CHECK(std::abs(in.prediction - forward) < 1e-6);
    CHECK(file.metadata.at("attention") == attention);
    // A wrong map must not reproduce it (the check above can fail). Shifting weight between two
    // fragments of one pathway row does; swapping whole pathway rows would not, since Path2Sub's
    // output is a mean over pathways.
    if (pair == 1) {
      std::vector<float> shifted = map("path2sub.0.attention").to_vector<float>();
      shifted[0] += 0.05f;
      shifted[1] -= 0.05f;
      const Tensor bad = view_output(model.path2sub, Tensor::from_vector(shifted, {H, P, L}), tokens.fragment_tokens);
      const Tensor zb = concat({mean(bad, 1), view2.reshape({1, E}), mean(tokens.fragment_tokens, 1)}, 1);
      CHECK(std::abs(model.head.forward(zb).item() - forward) > 1e-6);
    }
  }
}

}  // namespace

TEST_CASE("internals: differential maps (fused op) reproduce the forward; softmax rows sum to 1; masked keys 0") {
  check_internals("differential", true);
}

TEST_CASE("internals: differential maps (unfused ops) reproduce the forward; softmax rows sum to 1; masked keys 0") {
  check_internals("differential", false);
}

TEST_CASE("internals: vanilla maps reproduce the forward; softmax rows sum to 1; masked keys 0") {
  check_internals("vanilla", true);
}

TEST_CASE("internals: per-head TSV and SVG name pathways and fragments; a batch of two is refused") {
  test::TinyModel t = test::tiny_model("differential", 3, 2, {2}, false);
  const train::Batch batch = train::make_batch(t.data, {0}, false);
  const analysis::PairInternals in = analysis::capture_internals(*t.model, batch.inputs);
  test::TempDir tmp("internals_files");
  analysis::write_internals(tmp.path(), in, {{"P0", "P1", "P2"}, {"first", "", "third"}, t.data.drug_fragments[0], "C0", "D0"});
  std::ifstream tsv(tmp.path() / "internals" / "path2sub.0.head0.tsv");
  std::string header, row;
  std::getline(tsv, header);
  std::getline(tsv, row);
  CHECK(header == "query\tkey\tscores1\tscores2\tsoftmax1\tsoftmax2\tattention\tlambda");
  CHECK(row.rfind("first\t[0*]C0\t", 0) == 0);
  int rows = 1;
  while (std::getline(tsv, row)) ++rows;
  CHECK(rows == 3 * 2);  // pathways x real fragments
  std::ifstream svg(tmp.path() / "internals" / "drug2path.0.head0.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK(text.find("P1") != std::string::npos);  // empty name: the id
  CHECK(text.find("third") != std::string::npos);
  CHECK(text.find("drug2path head 0: attention") != std::string::npos);

  const train::Batch two = train::make_batch(t.data, {0, 1}, false);
  CHECK_THROWS_AS(analysis::capture_internals(*t.model, two.inputs), Error);
  CHECK(t.model->path2sub.capture == nullptr);  // cleared even after a throw
}
