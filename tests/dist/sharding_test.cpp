// Sharding of global batches over ranks, checked for every rank of simulated worlds in one
// process (the shares are a pure function of order, batch size, accum, rank and world).
#include <doctest/doctest.h>

#include <set>

#include "train/data_parallel.h"
#include "train/permutation.h"

using namespace dispa;
using namespace dispa::train;

TEST_CASE("sharding: rank slices are contiguous, balanced and cover the batch") {
  CHECK(rank_slice(10, 0, 4) == std::pair<int64_t, int64_t>{0, 3});
  CHECK(rank_slice(10, 1, 4) == std::pair<int64_t, int64_t>{3, 6});
  CHECK(rank_slice(10, 2, 4) == std::pair<int64_t, int64_t>{6, 8});
  CHECK(rank_slice(10, 3, 4) == std::pair<int64_t, int64_t>{8, 10});
  CHECK(rank_slice(7, 0, 1) == std::pair<int64_t, int64_t>{0, 7});
}

TEST_CASE("sharding: every training pair once per epoch over all ranks, and the order changes with the epoch") {
  for (int64_t n : {1, 37, 100, 257}) {
    for (int world : {1, 2, 3, 4}) {
      for (int accum : {1, 3}) {
        for (bool sync : {false, true}) {
          CAPTURE(n);
          CAPTURE(world);
          CAPTURE(accum);
          CAPTURE(sync);
          ShardingOptions o;
          o.batch_size = 16;
          o.accum = accum;
          o.world = world;
          o.sync_batchnorm = sync;
          const std::vector<int64_t> order = philox_permutation(n, 7, 1);
          std::multiset<int64_t> seen;
          int64_t skipped = -1, steps = -1;
          for (int r = 0; r < world; ++r) {
            o.rank = r;
            const EpochSharding sharding(order, o);
            if (r == 0) skipped = sharding.skipped_rows(), steps = sharding.steps();
            CHECK(sharding.skipped_rows() == skipped);  // every rank agrees on the epoch's shape
            CHECK(sharding.steps() == steps);
            for (int64_t s = 0; s < sharding.steps(); ++s) {
              const ShardedStep step = sharding.step(s);
              CHECK(step.micro.size() <= size_t(accum));
              double scales = 0;
              int64_t rows = 0;
              for (size_t k = 0; k < step.micro.size(); ++k) {
                const MicroBatch& m = step.micro[k];
                CHECK(int64_t(m.positions.size()) >= (sync ? 1 : 2));  // BatchNorm's minimum
                seen.insert(m.positions.begin(), m.positions.end());
                scales += step.loss_scale(k);
                rows += m.global_rows;
              }
              CHECK(rows == step.global_rows);
              CHECK(scales > 0);
            }
          }
          // Skipped: only a trailing global batch smaller than the ranks' minimum.
          const int64_t min_rows = std::max<int64_t>(2, (sync ? 1 : 2) * world);
          CHECK(skipped < min_rows);
          CHECK(int64_t(seen.size()) == n - skipped);
          std::set<int64_t> unique(seen.begin(), seen.end());
          CHECK(unique.size() == seen.size());  // no pair twice
          // The skipped pairs are exactly the last ones of the order.
          for (int64_t i = n - skipped; i < n; ++i) CHECK(unique.count(order[size_t(i)]) == 0);
        }
      }
    }
  }
  CHECK(philox_permutation(100, 7, 1) != philox_permutation(100, 7, 2));
}

TEST_CASE("sharding: the loss scales of all ranks and micro-batches sum to one") {
  ShardingOptions o;
  o.batch_size = 10;
  o.accum = 2;
  o.world = 3;
  const std::vector<int64_t> order = philox_permutation(47, 1, 1);
  const int64_t steps = EpochSharding(order, o).steps();
  for (int64_t s = 0; s < steps; ++s) {
    double total = 0;
    for (int r = 0; r < 3; ++r) {
      o.rank = r;
      const ShardedStep step = EpochSharding(order, o).step(s);
      for (size_t k = 0; k < step.micro.size(); ++k) total += step.loss_scale(k);
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("sharding: one rank without sync BN skips exactly what the single-process trainer skips") {
  ShardingOptions o;
  o.batch_size = 8;
  CHECK(EpochSharding(philox_permutation(17, 1, 1), o).skipped_rows() == 1);  // a batch of one
  CHECK(EpochSharding(philox_permutation(18, 1, 1), o).skipped_rows() == 0);
  o.world = 4;
  CHECK(EpochSharding(philox_permutation(23, 1, 1), o).skipped_rows() == 7);  // 7 rows < 2 per rank
  o.sync_batchnorm = true;
  CHECK(EpochSharding(philox_permutation(23, 1, 1), o).skipped_rows() == 0);  // 7 rows >= 1 per rank
  o.batch_size = 3;
  CHECK_THROWS_WITH(EpochSharding(philox_permutation(23, 1, 1), o),
                    "sharding: a global batch of 3 cannot give each of 4 ranks 1 rows (BatchNorm, synchronised): use "
                    "--batch-size >= 4");
}
