#include "train/data_parallel.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "engine/storage.h"
#include "model/layers.h"

namespace dispa::train {

// ---- sharding ------------------------------------------------------------------------------------

std::pair<int64_t, int64_t> rank_slice(int64_t rows, int rank, int world) {
  const int64_t base = rows / world, extra = rows % world;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

double ShardedStep::loss_scale(size_t k) const {
  return double(micro.at(k).positions.size()) / double(global_rows);
}

EpochSharding::EpochSharding(std::vector<int64_t> order, const ShardingOptions& options)
    : order_(std::move(order)), options_(options) {
  const ShardingOptions& o = options_;
  DISPA_CHECK(o.world >= 1 && o.rank >= 0 && o.rank < o.world, "sharding: rank {} is not in a world of {}", o.rank,
              o.world);
  DISPA_CHECK(o.accum >= 1, "sharding: --accum must be >= 1, got {}", o.accum);
  const int64_t per_rank = o.sync_batchnorm ? 1 : 2;
  const int64_t min_rows = std::max<int64_t>(2, per_rank * o.world);
  DISPA_CHECK(o.batch_size >= min_rows,
              "sharding: a global batch of {} cannot give each of {} ranks {} rows (BatchNorm{}): use --batch-size >= {}",
              o.batch_size, o.world, per_rank, o.sync_batchnorm ? ", synchronised" : " per rank", min_rows);
  const int64_t n = int64_t(order_.size());
  batches_ = (n + o.batch_size - 1) / o.batch_size;
  if (batches_ > 0) {
    const int64_t last = n - (batches_ - 1) * o.batch_size;
    if (last < min_rows) {
      --batches_;
      skipped_ = last;
    }
  }
  steps_ = (batches_ + o.accum - 1) / o.accum;
}

ShardedStep EpochSharding::step(int64_t s) const {
  DISPA_CHECK(s >= 0 && s < steps_, "sharding: step {} is not in [0, {})", s, steps_);
  const ShardingOptions& o = options_;
  const int64_t n = int64_t(order_.size());
  ShardedStep out;
  for (int64_t g = s * o.accum; g < std::min(batches_, (s + 1) * o.accum); ++g) {
    const int64_t start = g * o.batch_size, rows = std::min(o.batch_size, n - start);
    const auto [begin, end] = rank_slice(rows, o.rank, o.world);
    MicroBatch micro;
    micro.positions.assign(order_.begin() + start + begin, order_.begin() + start + end);
    micro.global_rows = rows;
    out.global_rows += rows;
    out.micro.push_back(std::move(micro));
  }
  return out;
}

// ---- gradient buckets ------------------------------------------------------------------------------

namespace {

// A view of `count` elements of `flat` from element `offset`, shaped `shape`.
Tensor view_of(const Tensor& flat, int64_t offset, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = flat.impl().storage;
  impl->offset = flat.impl().offset + offset;
  impl->shape = shape;
  impl->dtype = flat.dtype();
  return Tensor(impl);
}

}  // namespace

GradientBuckets::GradientBuckets(dist::Communicator& comm, NamedTensors params, size_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  DISPA_CHECK(!params_.empty(), "gradient buckets: no parameters");
  DISPA_CHECK(bucket_bytes > 0, "gradient buckets: bucket size must be positive");
  const Tensor& first = params_.front().second;
  for (const auto& [name, p] : params_)
    DISPA_CHECK(p.dtype() == first.dtype() && p.device() == first.device() && is_floating(p.dtype()),
                "gradient buckets: every parameter must share one floating dtype and device: '{}' is {}, '{}' is {}",
                name, p.describe(), params_.front().first, first.describe());
  const size_t n = params_.size(), element = dtype_size(first.dtype());
  bucket_of_.resize(n);
  offset_of_.resize(n);
  Bucket current;
  int64_t grad_numel = 0;
  auto close = [&] {
    current.offset = flat_numel_;
    current.numel = grad_numel + int64_t(current.params.size());  // gradients, then one flag each
    int64_t at = current.offset;
    for (size_t p : current.params) {
      offset_of_[p] = at;
      at += params_[p].second.numel();
    }
    flat_numel_ += current.numel;
    buckets_.push_back(std::move(current));
    current = Bucket();
    grad_numel = 0;
  };
  for (size_t i = n; i-- > 0;) {  // reverse registration order: the order backward finishes them
    bucket_of_[i] = buckets_.size();
    current.params.push_back(i);
    grad_numel += params_[i].second.numel();
    if (size_t(grad_numel) * element >= bucket_bytes) close();
  }
  if (!current.params.empty()) close();
  for (size_t i = 0; i < n; ++i) identity_.push_back(params_[i].second.impl_ptr().get());
  final_count_.assign(buckets_.size(), 0);
  flat_ = Tensor::zeros({flat_numel_}, first.dtype(), first.device());
}

void GradientBuckets::launch(size_t b) {
  const Bucket& bucket = buckets_[b];
  const Device device = flat_.device();
  const size_t element = dtype_size(flat_.dtype());
  char* base = static_cast<char*>(flat_.raw_data());
  std::vector<double> flags;
  for (size_t p : bucket.params) {
    const Tensor& param = params_[p].second;
    void* dst = base + offset_of_[p] * int64_t(element);
    if (param.has_grad()) {
      const Tensor g = param.grad();
      copy_bytes(dst, device, g.raw_data(), g.device(), g.nbytes());
    } else {
      zero_bytes(dst, device, param.nbytes());
    }
    flags.push_back(param.has_grad() ? 1.0 : 0.0);
  }
  // The flags follow the bucket's gradients, in the flat buffer's dtype.
  const Tensor flag_tensor = Tensor::from_vector(flags, {int64_t(flags.size())}).to(flat_.dtype());
  const int64_t flag_offset = bucket.offset + bucket.numel - int64_t(flags.size());
  copy_bytes(base + flag_offset * int64_t(element), device, flag_tensor.raw_data(), Device::cpu(), flag_tensor.nbytes());
  comm_.all_reduce_async(base + bucket.offset * int64_t(element), bucket.numel, flat_.dtype(), device,
                         dist::ReduceOp::sum);
}

void GradientBuckets::on_gradient_final(const TensorImpl* leaf) {
  const auto it = std::find(identity_.begin(), identity_.end(), leaf);
  if (it == identity_.end()) return;  // an input that is not one of these parameters
  ++final_count_[bucket_of_[size_t(it - identity_.begin())]];
  // Start buckets strictly in order, so every rank issues the same collectives in the same order
  // however its hooks interleave.
  while (next_ < buckets_.size() && final_count_[next_] >= buckets_[next_].params.size()) launch(next_++);
}

void GradientBuckets::start_overlap() {
  DISPA_CHECK(!hook_, "gradient buckets: start_overlap() twice without reduce()");
  if (comm_.backend() == dist::Backend::none) return;
  // Frozen parameters never get a gradient: count them as final from the start.
  for (size_t p = 0; p < params_.size(); ++p)
    if (!params_[p].second.requires_grad()) ++final_count_[bucket_of_[p]];
  hook_ = std::make_unique<LeafGradHook>([this](const TensorImpl* leaf) { on_gradient_final(leaf); });
}

void GradientBuckets::reduce() {
  hook_.reset();
  if (comm_.backend() != dist::Backend::none) {  // one MPI or NCCL rank still takes the real path
    while (next_ < buckets_.size()) launch(next_++);
    comm_.wait_collectives();
    for (size_t p = 0; p < params_.size(); ++p) {
      Tensor& param = params_[p].second;
      if (!param.requires_grad()) continue;  // frozen: no rank has a gradient for it
      const Tensor sum = view_of(flat_, offset_of_[p], param.shape());
      if (param.has_grad()) {
        Tensor g = param.grad();
        g.copy_from(sum);
        continue;
      }
      // Not reached by this rank's backward: its flag says whether any rank's was (one element
      // read back, only in this rare case).
      const Bucket& bucket = buckets_[bucket_of_[p]];
      const auto index = std::find(bucket.params.begin(), bucket.params.end(), p) - bucket.params.begin();
      const int64_t flag = bucket.offset + bucket.numel - int64_t(bucket.params.size()) + index;
      if (view_of(flat_, flag, {}).item() > 0) param.accumulate_grad(sum);  // take the sum (a copy)
    }
  }
  next_ = 0;
  std::fill(final_count_.begin(), final_count_.end(), 0);
}

// ---- start-up -------------------------------------------------------------------------------------

void broadcast_from_rank0(dist::Communicator& comm, Module& model, Optimizer* optimizer) {
  NoGrad no_grad;
  for (auto& [name, t] : model.named_parameters()) comm.broadcast(t, 0);
  for (auto& [name, t] : model.named_buffers()) comm.broadcast(t, 0);
  if (!optimizer) return;
  std::map<std::string, Tensor> state = optimizer->state();  // copies, in key order on every rank
  std::vector<dist::CheckItem> keys;
  for (const auto& [key, t] : state) keys.push_back({key, t.describe()});
  dist::check_same_on_all_ranks(comm, keys, "optimizer state");
  for (auto& [key, t] : state) comm.broadcast(t, 0);
  optimizer->load_state(state);
}

void check_model_consistency(dist::Communicator& comm, const Module& model, const nlohmann::json& config,
                             const std::vector<dist::CheckItem>& extra) {
  std::vector<dist::CheckItem> items;
  for (const auto& [name, t] : model.named_parameters())
    items.push_back({"parameter " + name, shape_str(t.shape()) + " " + dtype_name(t.dtype())});
  for (const auto& [name, t] : model.named_buffers())
    items.push_back({"buffer " + name, shape_str(t.shape()) + " " + dtype_name(t.dtype())});
  const nlohmann::json flat = config.flatten();  // {"/embed_dim": 192, "/head_dims/0": 256, ...}
  for (const auto& [path, value] : flat.items()) items.push_back({"config " + path, value.dump()});
  items.insert(items.end(), extra.begin(), extra.end());
  dist::check_same_on_all_ranks(comm, items, "the model or its configuration");
}

int enable_sync_batchnorm(Module& model, dist::Communicator* comm) {
  int count = 0;
  std::function<void(Module&)> visit = [&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm1d*>(&m)) {
      bn->sync_stats = comm;
      ++count;
    }
    for (auto& [name, child] : m.named_children()) visit(*child);
  };
  visit(model);
  return count;
}

uint64_t rank_dropout_seed(uint64_t seed, int rank) {
  if (rank == 0) return seed;
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(rank);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace dispa::train
