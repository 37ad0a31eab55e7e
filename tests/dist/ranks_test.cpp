// Multi-rank tests, run by ctest under `mpirun -np 1|2|4` (dist_ranks_np*). Every rank computes the
// single-process reference itself (the data comes from fixed seeds), then the data-parallel
// version on its share, and compares: communicator semantics, the collective ops' backward, sync
// BatchNorm, DiSPA's gradients and 20 Adam steps, broadcast, accumulation, the start-up check
// and the DISPA_DIST_DEBUG check. A test that fails on one rank only would leave the others
// waiting: DISPA_DIST_TIMEOUT_S (set by ctest) then ends the job with a message.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

#include "engine/dist/collective_ops.h"
#include "engine/dist/consistency.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "tests/dist/tiny_dispa.h"
#include "tests/support/close.h"
#include "tests/support/error_of.h"
#include "tests/support/gradcheck.h"
#include "train/data_parallel.h"
#include "train/permutation.h"

using namespace dispa;

using dispa::test::relative_error;

namespace {

dist::Communicator& world() {
  static std::unique_ptr<dist::Communicator> comm = dist::make_communicator(dist::Backend::mpi);
  return *comm;
}

// True when `text` is the same on every rank.
bool same_on_all_ranks(const std::string& text) {
  const std::vector<std::string> all = world().all_gather_bytes(text);
  for (const std::string& s : all)
    if (s != all[0]) return false;
  return true;
}

// Every parameter's and buffer's bytes, hashed: equal hashes = bitwise equal models.
std::string model_bytes_hash(const Module& m) {
  std::string bytes;
  for (const auto& [name, t] : m.state_dict()) {
    const Tensor host = t.to(Device::cpu());
    bytes.append(static_cast<const char*>(host.raw_data()), host.nbytes());
  }
  return std::to_string(dist::fnv1a64(bytes));
}

// This rank's rows of a [N, ...] tensor.
Tensor my_rows(const Tensor& t) {
  const auto [begin, end] = train::rank_slice(t.dim(0), world().rank(), world().size());
  return slice(t, 0, begin, end);
}

// One step's gradients of the single-process reference on `positions`, and of the data-parallel
// model on this rank's share (loss scaled, buckets reduced).
void reference_backward(Dispa& model, const test::TinyPairs& pairs, const std::vector<int64_t>& positions) {
  Tensor target;
  const DispaInputs in = pairs.batch(positions, &target);
  mse_loss(model.forward(in).prediction, target).backward();
}

void parallel_backward(Dispa& model, const test::TinyPairs& pairs, const train::ShardedStep& step,
                       train::GradientBuckets& buckets, bool overlap) {
  for (size_t k = 0; k < step.micro.size(); ++k) {
    if (overlap && k + 1 == step.micro.size()) buckets.start_overlap();
    Tensor target;
    const DispaInputs in = pairs.batch(step.micro[k].positions, &target);
    const Tensor loss = mse_loss(model.forward(in).prediction, target);
    affine_scalar(loss, step.loss_scale(k), 0.0).backward();
  }
  buckets.reduce();
}

std::vector<int64_t> all_positions(const train::ShardedStep& step) {
  std::vector<int64_t> out;
  for (const auto& m : step.micro) out.insert(out.end(), m.positions.begin(), m.positions.end());
  return out;
}

}  // namespace

TEST_CASE("mpi: all_reduce (sum, avg; every dtype), broadcast, all_gather_bytes and barrier") {
  dist::Communicator& comm = world();
  const int n = comm.size(), r = comm.rank();
  CHECK(comm.backend() == dist::Backend::mpi);
  Tensor f = Tensor::from_vector(std::vector<float>{float(r + 1), 0.5f, -float(r)}, {3});
  comm.all_reduce(f, dist::ReduceOp::sum);
  CHECK(f.to_vector<float>() == std::vector<float>{float(n * (n + 1) / 2), 0.5f * n, -float(n * (n - 1) / 2)});
  Tensor d = Tensor::from_vector(std::vector<double>{double(r), 2.0}, {2});
  comm.all_reduce(d, dist::ReduceOp::avg);
  CHECK(d.to_vector<double>() == std::vector<double>{double(n - 1) / 2, 2.0});
  Tensor i = Tensor::from_vector(std::vector<int64_t>{int64_t(1) << 40, r}, {2});
  comm.all_reduce(i, dist::ReduceOp::sum);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{n * (int64_t(1) << 40), int64_t(n) * (n - 1) / 2});
  Tensor i32 = Tensor::from_vector(std::vector<int32_t>{3}, {1});
  comm.all_reduce(i32, dist::ReduceOp::sum);
  CHECK(i32.to_vector<int32_t>()[0] == 3 * n);
  CHECK_THROWS_WITH(comm.all_reduce(i32, dist::ReduceOp::avg), "all_reduce: avg needs a floating dtype, got i32");

  Tensor b = Tensor::full({4}, double(r));
  comm.broadcast(b, n - 1);
  CHECK(b.to_vector<float>() == std::vector<float>(4, float(n - 1)));
  std::string bytes = r == 0 ? "from rank 0" : "";
  comm.broadcast_bytes(bytes, 0);
  CHECK(bytes == "from rank 0");
  const std::vector<std::string> all = comm.all_gather_bytes(std::string(size_t(r), 'x'));  // sizes differ
  REQUIRE(all.size() == size_t(n));
  for (int q = 0; q < n; ++q) CHECK(all[size_t(q)] == std::string(size_t(q), 'x'));
  comm.barrier();
  CHECK(same_on_all_ranks(std::to_string(comm.sequence())));  // every rank numbered the same calls
}

TEST_CASE("mpi: CUDA data is refused with a pointer at the nccl backend") {
  float dummy = 0;
  CHECK_THROWS_WITH(world().all_reduce(&dummy, 1, DType::f32, Device::cuda(0)),
                    "all_reduce: the mpi backend carries CPU tensors only (Debian's OpenMPI is not CUDA-aware); got "
                    "data on cuda:0: use --dist nccl for CUDA tensors");
}

TEST_CASE("all_reduce_sum: the backward sums the incoming gradients over ranks") {
  dist::Communicator& comm = world();
  const int n = comm.size(), r = comm.rank();
  Tensor x = Tensor::full({3}, double(r + 1)).set_requires_grad();
  const Tensor y = dist::all_reduce_sum(x, comm);
  CHECK(y.to_vector<float>() == std::vector<float>(3, float(n * (n + 1) / 2)));
  // Rank r's loss is sum(y) * (r + 1): d/dx_r of the sum of all losses is sum_q (q + 1).
  affine_scalar(sum_all(y), double(r + 1), 0.0).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>(3, float(n * (n + 1) / 2)));
}

TEST_CASE("sync_batch_norm1d: ranks on shares of a batch compute one process on the whole batch") {
  dist::Communicator& comm = world();
  const int64_t N = 11, C = 3;
  const Tensor x_all = Tensor::uniform({N, C}, -2, 3, 21), up_all = Tensor::uniform({N, C}, -1, 1, 22);
  Tensor x_ref = x_all.clone().set_requires_grad();
  Tensor w_ref = Tensor::uniform({C}, 0.5, 1.5, 23).set_requires_grad(), b_ref = Tensor::uniform({C}, -1, 1, 24).set_requires_grad();
  Tensor rm_ref = Tensor::zeros({C}), rv_ref = Tensor::ones({C});
  const Tensor y_ref = batch_norm1d(x_ref, w_ref, b_ref, rm_ref, rv_ref, true, 0.1, 1e-5);
  test::backward_with(y_ref, up_all);

  Tensor x = my_rows(x_all).set_requires_grad();
  Tensor w = w_ref.detach().clone().set_requires_grad(), b = b_ref.detach().clone().set_requires_grad();
  Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
  const Tensor y = dist::sync_batch_norm1d(x, w, b, rm, rv, 0.1, 1e-5, comm);
  CHECK_CLOSE_TENSOR(y, my_rows(y_ref.detach()), 1e-6, 1e-5);
  CHECK_CLOSE_TENSOR(rm, rm_ref, 1e-7, 1e-6);
  CHECK_CLOSE_TENSOR(rv, rv_ref, 1e-7, 1e-6);
  test::backward_with(y, my_rows(up_all));  // the rank's part of the global loss
  CHECK_CLOSE_TENSOR(x.grad(), my_rows(x_ref.grad()), 1e-5, 1e-4);
  Tensor dw = w.grad().clone(), db = b.grad().clone();  // parameter gradients: summed over ranks
  comm.all_reduce(dw);
  comm.all_reduce(db);
  CHECK_CLOSE_TENSOR(dw, w_ref.grad(), 1e-5, 1e-5);
  CHECK_CLOSE_TENSOR(db, b_ref.grad(), 1e-5, 1e-5);
}

namespace {

// DiSPA for the equivalence tests: the reference and, on every rank, a data-parallel copy started
// from another seed and made equal by the broadcast from rank 0.
struct Pair {
  DispaConfig config = test::tiny_dispa_config();
  test::TinyPairs pairs{config};
  Dispa ref{config, 3};
  Dispa dp{config, 30 + uint64_t(world().rank())};
  Adam ref_opt{ref.named_parameters(), 1e-2}, dp_opt{dp.named_parameters(), 1e-2};
  train::GradientBuckets buckets{world(), dp.named_parameters(), 2048};
  Pair() {
    // The bias of a Linear feeding a BatchNorm cannot change the output (the batch mean absorbs
    // it): its true gradient is 0 and what backward computes is rounding noise, which Adam
    // normalises into full-size steps in one process as much as in N. Frozen, so the comparison
    // is about quantities the data determine; the buckets then also carry parameters that have no
    // gradient on any rank.
    for (Dispa* model : {&ref, &dp})
      for (auto& [name, p] : model->named_parameters())
        if (name.rfind("head.blocks.", 0) == 0 && name.find(".linear.bias") != std::string::npos)
          p.set_requires_grad(false);
    if (world().rank() == 0) dp.load_state_dict(ref.state_dict());
    train::broadcast_from_rank0(world(), dp, &dp_opt);
    CHECK(model_bytes_hash(dp) == model_bytes_hash(ref));
    CHECK(train::enable_sync_batchnorm(dp, &world()) == 2);
  }
  // One global batch: the reference on all of it, the ranks on their shares.
  void backward(const train::ShardedStep& whole, const train::ShardedStep& mine, bool overlap) {
    REQUIRE(all_positions(whole).size() == size_t(mine.global_rows));
    reference_backward(ref, pairs, all_positions(whole));
    parallel_backward(dp, pairs, mine, buckets, overlap);
  }
  // |g - g_ref| / |g_ref| (L2) of the whole gradient, as the optimizer and the buckets see it; and
  // the worst single parameter's, named in *where.
  double gradient_error(double* worst_tensor, std::string* where) const {
    const NamedTensors rp = ref.named_parameters(), dpp = dp.named_parameters();
    double diff = 0, norm = 0;
    *worst_tensor = 0;
    for (size_t i = 0; i < rp.size(); ++i) {
      REQUIRE(dpp[i].second.has_grad() == rp[i].second.has_grad());
      if (!rp[i].second.has_grad()) continue;  // frozen
      const std::vector<double> g = dpp[i].second.grad().to_f64_vector(), w = rp[i].second.grad().to_f64_vector();
      for (size_t j = 0; j < g.size(); ++j) {
        diff += (g[j] - w[j]) * (g[j] - w[j]);
        norm += w[j] * w[j];
      }
      const double e = relative_error(dpp[i].second.grad(), rp[i].second.grad());
      if (e > *worst_tensor) {
        *worst_tensor = e;
        *where = rp[i].first;
      }
    }
    return std::sqrt(diff) / std::sqrt(norm);
  }
};

train::ShardingOptions sharding_options(int64_t batch_size, bool whole) {
  train::ShardingOptions o;
  o.batch_size = batch_size;
  o.sync_batchnorm = true;
  o.world = whole ? 1 : world().size();
  o.rank = whole ? 0 : world().rank();
  return o;
}

}  // namespace

TEST_CASE("DiSPA: ranks with sync BN give one process's gradients on every global batch of an epoch (1e-5)") {
  Pair m;
  // 45 pairs in global batches of 12: three full ones and one of 9 (unequal shares on 2 and 4 ranks).
  const std::vector<int64_t> order = train::philox_permutation(m.pairs.pairs(), 9, 1);
  const train::EpochSharding mine(order, sharding_options(12, false)), whole(order, sharding_options(12, true));
  REQUIRE(mine.steps() == 4);
  for (int64_t s = 0; s < mine.steps(); ++s) {
    CAPTURE(s);
    m.backward(whole.step(s), mine.step(s), s % 2 == 1);  // odd batches overlap the reduction with backward
    double worst_tensor = 0;
    std::string where;
    const double e = m.gradient_error(&worst_tensor, &where);
    CHECK_MESSAGE(e <= 1e-5, "relative gradient error " << e);
    // Per parameter, λ's gradients (sums of many cancelling terms) carry the rounding of the
    // BatchNorm statistics most: up to 4e-5 already on one rank, where only sync_batch_norm1d's
    // composite ops differ from batch_norm1d's fused loops.
    CHECK_MESSAGE(worst_tensor <= 1e-4, "relative gradient error " << worst_tensor << " in " << where);
    if (world().rank() == 0)
      MESSAGE("batch " << s << ": relative gradient error " << e << ", worst parameter " << where << " " << worst_tensor);
    m.ref.zero_grad();
    m.dp.zero_grad();
  }
}

TEST_CASE("DiSPA: 20 Adam steps on the ranks end at one process's parameters (1e-4), bitwise identical on "
          "every rank after every step") {
  Pair m;
  int steps = 0;
  double worst = 0;
  for (int epoch = 1; steps < 20; ++epoch) {
    const std::vector<int64_t> order = train::philox_permutation(m.pairs.pairs(), 9, uint64_t(epoch));
    const train::EpochSharding mine(order, sharding_options(12, false)), whole(order, sharding_options(12, true));
    for (int64_t s = 0; s < mine.steps() && steps < 20; ++s, ++steps) {
      CAPTURE(steps);
      m.backward(whole.step(s), mine.step(s), steps % 2 == 1);
      double worst_tensor = 0;
      std::string where;
      worst = std::max(worst, m.gradient_error(&worst_tensor, &where));
      m.ref_opt.step();
      m.dp_opt.step();
      m.ref_opt.zero_grad();
      m.dp_opt.zero_grad();
      CHECK(same_on_all_ranks(model_bytes_hash(m.dp)));
    }
  }
  // The trajectories separate by rounding only: gradients stay close all the way.
  CHECK(worst <= 1e-4);
  if (world().rank() == 0) MESSAGE("worst relative gradient error over 20 steps on " << world().size() << " rank(s): " << worst);
  const auto ref_state = m.ref.state_dict(), dp_state = m.dp.state_dict();
  for (const auto& [name, t] : ref_state) {
    CAPTURE(name);
    CHECK_CLOSE_TENSOR(dp_state.at(name), t, 1e-4, 0.0);
  }
}

TEST_CASE("gradient buckets: overlapped with backward, buckets start early and give bitwise the same sums") {
  dist::Communicator& comm = world();
  const DispaConfig config = test::tiny_dispa_config();
  const test::TinyPairs pairs(config);
  Dispa model(config, 5);
  train::enable_sync_batchnorm(model, &comm);
  train::GradientBuckets buckets(comm, model.named_parameters(), 1024);
  train::ShardingOptions o;
  o.batch_size = 16;
  o.sync_batchnorm = true;
  o.world = comm.size();
  o.rank = comm.rank();
  const train::ShardedStep step = train::EpochSharding(train::philox_permutation(45, 1, 1), o).step(0);
  std::vector<std::vector<float>> plain, overlapped;
  for (bool overlap : {false, true}) {
    if (overlap) buckets.start_overlap();
    Tensor target;
    const DispaInputs in = pairs.batch(step.micro[0].positions, &target);
    affine_scalar(mse_loss(model.forward(in).prediction, target), step.loss_scale(0), 0.0).backward();
    if (overlap) CHECK(buckets.launched() == int64_t(buckets.buckets().size()));  // all during backward
    buckets.reduce();
    for (const auto& [_, p] : model.named_parameters()) (overlap ? overlapped : plain).push_back(p.grad().to_vector<float>());
    model.zero_grad();
  }
  CHECK(plain == overlapped);
}

TEST_CASE("gradient buckets: a parameter only some ranks reach gets the sum; one no rank reaches gets none") {
  dist::Communicator& comm = world();
  struct Three : Module {
    Tensor a, b, c;
    Three() {
      a = register_parameter("a", Tensor::ones({4}));
      b = register_parameter("b", Tensor::ones({3}));
      c = register_parameter("c", Tensor::ones({2}));
    }
  } m;
  train::GradientBuckets buckets(comm, m.named_parameters(), 8);  // one parameter per bucket
  REQUIRE(buckets.buckets().size() == 3);
  for (bool overlap : {false, true}) {
    CAPTURE(overlap);
    if (overlap) buckets.start_overlap();
    Tensor loss = sum_all(affine_scalar(m.a, double(comm.rank() + 1), 0.0));  // d/da = rank + 1
    if (comm.rank() == 0) loss = add(loss, sum_all(m.b));                     // b: rank 0 only
    loss.backward();
    buckets.reduce();
    const int n = comm.size();
    CHECK(m.a.grad().to_vector<float>() == std::vector<float>(4, float(n * (n + 1) / 2)));
    REQUIRE(m.b.has_grad());
    CHECK(m.b.grad().to_vector<float>() == std::vector<float>(3, 1.f));
    CHECK_FALSE(m.c.has_grad());
    m.zero_grad();
  }
}

TEST_CASE("broadcast_from_rank0: ranks started from different seeds equal rank 0 (parameters, buffers, Adam)") {
  dist::Communicator& comm = world();
  const DispaConfig config = test::tiny_dispa_config();
  const test::TinyPairs pairs(config);
  Dispa model(config, 100 + uint64_t(comm.rank()));
  Adam opt(model.named_parameters(), 1e-3);
  Tensor target;  // one local step on rank-specific rows: moments and running statistics differ too
  const DispaInputs in = pairs.batch({comm.rank(), comm.rank() + 7, comm.rank() + 20}, &target);
  mse_loss(model.forward(in).prediction, target).backward();
  opt.step();
  const std::string before = model_bytes_hash(model);
  const auto state_hash = [&] {
    std::string bytes;
    for (const auto& [key, t] : opt.state()) {
      const Tensor host = t.to(Device::cpu());
      bytes += key;
      bytes.append(static_cast<const char*>(host.raw_data()), host.nbytes());
    }
    return std::to_string(dist::fnv1a64(bytes));
  };
  if (comm.size() > 1) CHECK_FALSE(same_on_all_ranks(before));
  train::broadcast_from_rank0(comm, model, &opt);
  CHECK(same_on_all_ranks(model_bytes_hash(model)));
  CHECK(same_on_all_ranks(state_hash()));
  if (comm.rank() == 0) CHECK(model_bytes_hash(model) == before);  // rank 0 keeps its own
}

TEST_CASE("accumulation: K micro-batches on every rank equal one batch of K times the size (1e-5)") {
  dist::Communicator& comm = world();
  const DispaConfig config = test::tiny_dispa_config({});  // no BatchNorm: its statistics are per batch
  const test::TinyPairs pairs(config);
  Dispa ref(config, 8), dp(config, 8);
  train::GradientBuckets buckets(comm, dp.named_parameters());
  train::ShardingOptions o;
  o.batch_size = 8;
  o.accum = 3;
  o.world = comm.size();
  o.rank = comm.rank();
  const train::EpochSharding sharding(train::philox_permutation(45, 4, 1), o);
  const train::ShardedStep step = sharding.step(0);
  REQUIRE(step.micro.size() == 3);
  REQUIRE(step.global_rows == 24);
  // The reference: the same 24 pairs as one batch.
  std::vector<int64_t> all;
  for (int64_t g = 0; g < 3; ++g) {
    train::ShardingOptions one = o;
    one.world = 1;
    one.rank = 0;
    one.accum = 1;
    const auto p = train::EpochSharding(train::philox_permutation(45, 4, 1), one).step(g).micro[0].positions;
    all.insert(all.end(), p.begin(), p.end());
  }
  reference_backward(ref, pairs, all);
  parallel_backward(dp, pairs, step, buckets, false);
  const NamedTensors rp = ref.named_parameters(), dpp = dp.named_parameters();
  for (size_t i = 0; i < rp.size(); ++i) {
    CAPTURE(rp[i].first);
    CHECK(relative_error(dpp[i].second.grad(), rp[i].second.grad()) <= 1e-5);
  }
}

TEST_CASE("start-up check: a configuration that differs on one rank fails on every rank, naming it") {
  dist::Communicator& comm = world();
  DispaConfig config = test::tiny_dispa_config();
  Dispa same(config, 1);
  CHECK_NOTHROW(train::check_model_consistency(comm, same, config.to_json(), {dist::CheckItem{"train pairs", "45"}}));
  if (comm.size() == 1) return;  // nothing can differ
  if (comm.rank() == 1) config.batchnorm_momentum = 0.2;
  Dispa model(config, 1);
  CHECK(test::error_of([&] { train::check_model_consistency(comm, model, config.to_json()); }) ==
        "start-up check: the model or its configuration differs between ranks: rank 1 has 'config /batchnorm_momentum' "
        "= '0.2' where rank 0 has '0.1'");
  // A different architecture on one rank: named by its first differing parameter.
  DispaConfig wide = test::tiny_dispa_config();
  if (comm.rank() == comm.size() - 1) wide.ffn_hidden = 16;
  Dispa other(wide, 1);
  CHECK(test::error_of([&] { train::check_model_consistency(comm, other, nlohmann::json::object()); })
            .find("rank " + std::to_string(comm.size() - 1) + " has 'parameter gene_ffn.fc1.weight' = '[16, 6] f32'") !=
        std::string::npos);
}

TEST_CASE("DISPA_DIST_DEBUG: collectives that differ between ranks fail on every rank, naming both calls") {
  dist::Settings settings;
  settings.debug = true;
  settings.timeout_s = 60;
  auto comm = dist::make_communicator(dist::Backend::mpi, settings);
  Tensor t = Tensor::ones({3});
  comm->all_reduce(t);  // agreeing calls pass
  CHECK(t.to_vector<float>() == std::vector<float>(3, float(comm->size())));
  if (comm->size() == 1) return;
  Tensor mine = Tensor::ones({comm->rank() == 1 ? 2 : 3});
  CHECK(test::error_of([&] { comm->all_reduce(mine); }) ==
        "DISPA_DIST_DEBUG: ranks disagree on the next collective: rank 0 calls #2 all_reduce(sum, 3 x f32) but rank 1 "
        "calls #2 all_reduce(sum, 2 x f32)");
  // A rank that issues an extra collective is caught at the next one instead of hanging.
  const std::string extra = test::error_of([&] {
    if (comm->rank() == 1) comm->barrier();
    comm->all_reduce(t);
  });
  CHECK(extra == "DISPA_DIST_DEBUG: ranks disagree on the next collective: rank 0 calls #3 all_reduce(sum, 3 x f32) "
                 "but rank 1 calls #3 barrier()");
}

TEST_CASE("sharding across real ranks: the gathered shares cover every pair once per epoch") {
  dist::Communicator& comm = world();
  train::ShardingOptions o;
  o.batch_size = 10;
  o.world = comm.size();
  o.rank = comm.rank();
  const std::vector<int64_t> order = train::philox_permutation(97, 3, 2);
  const train::EpochSharding sharding(order, o);
  std::string mine;
  for (int64_t s = 0; s < sharding.steps(); ++s)
    for (int64_t p : all_positions(sharding.step(s))) mine += std::to_string(p) + " ";
  std::multiset<int64_t> seen;
  for (const std::string& text : comm.all_gather_bytes(mine)) {
    std::istringstream in(text);
    for (int64_t p; in >> p;) seen.insert(p);
  }
  CHECK(int64_t(seen.size()) == 97 - sharding.skipped_rows());
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == seen.size());
}
