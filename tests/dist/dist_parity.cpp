// CUDA side of engine/dist (label gpu; skipped without a device). sync_batch_norm1d on CUDA
// against the CPU; with NCCL built in, a one-rank NCCL communicator (no launcher, so no MPI) runs
// the real NCCL path: all_reduce / broadcast of CUDA tensors on the NCCL stream ordered by
// events, the gradient buckets on CUDA overlapped with backward, the selftest. Several ranks need
// several GPUs (NCCL refuses two ranks on one device): `mpirun -np <gpus> dispa selftest-dist
// --device cuda` there (docs/distributed.md).
#include <doctest/doctest.h>

#include "engine/dist/collective_ops.h"
#include "engine/dist/selftest.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "tests/dist/tiny_dispa.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"
#include "train/data_parallel.h"

using namespace dispa;

TEST_CASE("gpu parity: sync_batch_norm1d on CUDA matches the CPU (one rank)") {
  auto comm = dist::make_communicator(dist::Backend::none, dist::Settings());
  const int64_t N = 37, C = 33;
  const Tensor x = Tensor::uniform({N, C}, -2, 3, 1), up = Tensor::uniform({N, C}, -1, 1, 2);
  const Tensor w = Tensor::uniform({C}, 0.5, 1.5, 3), b = Tensor::uniform({C}, -1, 1, 4);
  std::vector<Tensor> grads[2], outs[2], stats[2];
  for (int d = 0; d < 2; ++d) {
    const Device dev = d ? Device::cuda() : Device::cpu();
    Tensor xd = x.to(dev).clone().set_requires_grad(), wd = w.to(dev).clone().set_requires_grad(),
           bd = b.to(dev).clone().set_requires_grad();
    Tensor rm = Tensor::zeros({C}, DType::f32, dev), rv = Tensor::ones({C}, DType::f32, dev);
    const Tensor y = dist::sync_batch_norm1d(xd, wd, bd, rm, rv, 0.1, 1e-5, *comm);
    test::backward_with(y, up.to(dev));
    outs[d] = {y.detach().to(Device::cpu())};
    stats[d] = {rm.to(Device::cpu()), rv.to(Device::cpu())};
    grads[d] = {xd.grad().to(Device::cpu()), wd.grad().to(Device::cpu()), bd.grad().to(Device::cpu())};
  }
  CHECK_CLOSE_TENSOR(outs[1][0], outs[0][0], 1e-5, 1e-5);
  for (size_t i = 0; i < 2; ++i) CHECK_CLOSE_TENSOR(stats[1][i], stats[0][i], 1e-6, 1e-5);
  for (size_t i = 0; i < 3; ++i) CHECK_CLOSE_TENSOR(grads[1][i], grads[0][i], 1e-5, 1e-4);
}

#if DISPA_WITH_NCCL
TEST_CASE("gpu: one-rank NCCL communicator: CUDA and CPU collectives, ordering, buckets, selftest") {
  auto comm = dist::make_communicator(dist::Backend::nccl);
  REQUIRE(comm->device().is_cuda());
  const Device dev = comm->device();
  // Produced by a kernel on the caller's stream, reduced on NCCL's, read back on the caller's.
  Tensor t = affine_scalar(Tensor::arange(5000, DType::f32, dev), 2.0, 1.0);
  comm->all_reduce(t, dist::ReduceOp::sum);
  std::vector<float> want(5000);
  for (size_t i = 0; i < want.size(); ++i) want[i] = 2.f * float(i) + 1.f;
  CHECK(t.to_vector<float>() == want);
  comm->all_reduce(t, dist::ReduceOp::avg);
  CHECK(t.to_vector<float>() == want);
  Tensor i64 = Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3}, dev);
  comm->broadcast(i64, 0);
  CHECK(i64.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3});
  Tensor host = Tensor::ones({4});  // a CPU tensor on the nccl backend takes the host path (MPI when launched)
  comm->all_reduce(host);
  CHECK(host.to_vector<float>() == std::vector<float>(4, 1.f));
  // Asynchronous: the caller's stream waits only at wait_collectives().
  Tensor a = Tensor::full({1 << 20}, 3.0, DType::f32, dev);
  comm->all_reduce_async(a.raw_data(), a.numel(), DType::f32, dev, dist::ReduceOp::sum);
  comm->wait_collectives();
  CHECK(mul(a, a).to_vector<float>() == std::vector<float>(size_t(1) << 20, 9.f));

  // Buckets on CUDA, overlapped with backward: one rank's sum is its own gradient.
  const DispaConfig config = test::tiny_dispa_config();
  const test::TinyPairs pairs(config);
  Dispa model(config, 2);
  model.to(dev);
  train::GradientBuckets buckets(*comm, model.named_parameters(), 4096);
  Tensor target;
  DispaInputs in = pairs.batch({0, 5, 9, 13, 22, 40}, &target);
  for (Tensor* x : {&in.expression, &in.pathway_gene_indices, &in.drug, &in.substructures, &in.mask, &target})
    *x = x->to(dev);
  mse_loss(model.forward(in).prediction, target).backward();
  std::vector<Tensor> before;
  for (const auto& [_, p] : model.named_parameters()) before.push_back(p.grad().to(Device::cpu()));
  model.zero_grad();
  buckets.start_overlap();
  mse_loss(model.forward(in).prediction, target).backward();
  CHECK(buckets.launched() == int64_t(buckets.buckets().size()));
  buckets.reduce();
  size_t i = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    CAPTURE(name);
    CHECK_CLOSE_TENSOR(p.grad().to(Device::cpu()), before[i++], 1e-6, 1e-5);  // same step twice: kernels may round differently
  }

  dist::SelftestOptions o;
  o.sizes = {1, 4097, 1931681};
  o.iters = 3;
  for (const auto& row : dist::selftest_rows(*comm, dev, o)) CHECK(row.wrong == 0);
}
#endif
