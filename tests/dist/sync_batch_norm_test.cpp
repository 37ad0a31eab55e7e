// sync_batch_norm1d with one rank must be batch_norm1d (values, running statistics, gradients);
// its multi-rank equivalence is in ranks_test.cpp. Also the module hook and the gradient buckets'
// layout, which need no second rank.
#include <doctest/doctest.h>

#include "engine/dist/collective_ops.h"
#include "engine/ops/norm.h"
#include "tests/dist/tiny_dispa.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"
#include "train/data_parallel.h"

using namespace dispa;

TEST_CASE("sync_batch_norm1d: one rank gives batch_norm1d's output, running statistics and gradients") {
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  for (int64_t N : {2, 7, 33}) {
    CAPTURE(N);
    const int64_t C = 5;
    Tensor x1 = Tensor::uniform({N, C}, -2, 3, 1).set_requires_grad();
    Tensor x2 = x1.detach().clone().set_requires_grad();
    Tensor w1 = Tensor::uniform({C}, 0.5, 1.5, 2).set_requires_grad(), b1 = Tensor::uniform({C}, -1, 1, 3).set_requires_grad();
    Tensor w2 = w1.detach().clone().set_requires_grad(), b2 = b1.detach().clone().set_requires_grad();
    Tensor rm1 = Tensor::uniform({C}, -1, 1, 4), rv1 = Tensor::uniform({C}, 0.5, 2, 5);
    Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
    const Tensor up = Tensor::uniform({N, C}, -1, 1, 6);

    const Tensor y1 = batch_norm1d(x1, w1, b1, rm1, rv1, true, 0.1, 1e-5);
    const Tensor y2 = dist::sync_batch_norm1d(x2, w2, b2, rm2, rv2, 0.1, 1e-5, *comm);
    CHECK_CLOSE_TENSOR(y2, y1, 1e-6, 1e-5);
    CHECK_CLOSE_TENSOR(rm2, rm1, 1e-7, 1e-6);
    CHECK_CLOSE_TENSOR(rv2, rv1, 1e-7, 1e-6);
    test::backward_with(y1, up);
    test::backward_with(y2, up);
    CHECK_CLOSE_TENSOR(x2.grad(), x1.grad(), 1e-5, 1e-4);
    CHECK_CLOSE_TENSOR(w2.grad(), w1.grad(), 1e-5, 1e-5);
    CHECK_CLOSE_TENSOR(b2.grad(), b1.grad(), 1e-5, 1e-5);
  }
}

TEST_CASE("sync_batch_norm1d: argument errors") {
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  const Tensor x = Tensor::zeros({1, 3});
  CHECK_THROWS_WITH(dist::sync_batch_norm1d(x, Tensor(), Tensor(), Tensor(), Tensor(), 0.1, 1e-5, *comm),
                    doctest::Contains("training needs more than one row over all ranks, got 1"));
  CHECK_THROWS_WITH(dist::sync_batch_norm1d(Tensor::zeros({4}), Tensor(), Tensor(), Tensor(), Tensor(), 0.1, 1e-5, *comm),
                    "sync_batch_norm1d: x must be [N, C] with N >= 1, got f32[4] on cpu");
  CHECK_THROWS_WITH(
      dist::sync_batch_norm1d(Tensor::zeros({4, 3}), Tensor::ones({2}), Tensor(), Tensor(), Tensor(), 0.1, 1e-5, *comm),
      "sync_batch_norm1d: weight, bias and running statistics must be [3] f32 on cpu, got f32[2] on cpu");
}

TEST_CASE("enable_sync_batchnorm: reaches every BatchNorm1d of DiSPA's head, and back") {
  Dispa model(test::tiny_dispa_config({8, 8, 4}), 1);
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  CHECK(train::enable_sync_batchnorm(model, comm.get()) == 3);
  int synced = 0;
  for (auto& [name, child] : model.head.named_children())
    for (auto& [i, block] : child->named_children())
      for (auto& [n, m] : block->named_children())
        if (auto* bn = dynamic_cast<BatchNorm1d*>(m)) synced += bn->sync_stats == comm.get();
  CHECK(synced == 3);
  CHECK(train::enable_sync_batchnorm(model, nullptr) == 3);
  CHECK(train::enable_sync_batchnorm(model.gene_ffn, comm.get()) == 0);
}

TEST_CASE("gradient buckets: reverse registration order, whole parameters, one flag per parameter") {
  Dispa model(test::tiny_dispa_config(), 1);
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  const NamedTensors params = model.named_parameters();
  const size_t bucket_bytes = 1024;
  train::GradientBuckets buckets(*comm, params, bucket_bytes);
  int64_t grads = 0;
  for (const auto& [_, p] : params) grads += p.numel();
  CHECK(buckets.numel() == grads + int64_t(params.size()));
  size_t expected_next = params.size();
  int64_t offset = 0;
  for (const auto& b : buckets.buckets()) {
    CHECK(b.offset == offset);
    int64_t n = 0;
    for (size_t p : b.params) {
      CHECK(p == --expected_next);  // reverse order, no parameter split or skipped
      n += params[p].second.numel();
    }
    CHECK(b.numel == n + int64_t(b.params.size()));
    // A bucket closes as soon as it reaches the target size.
    CHECK((b.params.size() == 1 || (n - params[b.params.back()].second.numel()) * 4 < int64_t(bucket_bytes)));
    offset += b.numel;
  }
  CHECK(expected_next == 0);
  CHECK(buckets.buckets().size() > 2);
  // One rank: reduce() leaves the gradients alone.
  Tensor w = model.head.named_parameters().front().second;
  w.accumulate_grad(Tensor::full(w.shape(), 2.0));
  buckets.start_overlap();
  buckets.reduce();
  CHECK(w.grad().to_vector<float>() == std::vector<float>(size_t(w.numel()), 2.f));
}

TEST_CASE("rank_dropout_seed: rank 0 keeps the seed, other ranks get distinct streams") {
  CHECK(train::rank_dropout_seed(42, 0) == 42);
  CHECK(train::rank_dropout_seed(42, 1) != 42);
  CHECK(train::rank_dropout_seed(42, 1) != train::rank_dropout_seed(42, 2));
  CHECK(train::rank_dropout_seed(42, 1) != train::rank_dropout_seed(43, 1));
}
