#include "engine/autograd.h"

#include <unordered_map>

#include "engine/ops/elementwise.h"

namespace dispa {
namespace {

struct TapeEntry {
  const char* op_name;
  std::shared_ptr<TensorImpl> output;
  BackwardFn backward;
  std::vector<const TensorImpl*> leaves;  // leaf inputs, noted only while a LeafGradHook is alive
};

thread_local bool tls_grad_enabled = true;
thread_local std::vector<TapeEntry> tls_tape;
thread_local LeafGradHook::Fn* tls_leaf_hook = nullptr;

}  // namespace

bool grad_enabled() { return tls_grad_enabled; }
NoGrad::NoGrad() : previous_(tls_grad_enabled) { tls_grad_enabled = false; }
NoGrad::~NoGrad() { tls_grad_enabled = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!tls_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  return any_requires_grad(std::vector<Tensor>(inputs));
}

void record(const char* op_name, const std::vector<Tensor>& inputs, const Tensor& output,
            BackwardFn backward) {
  if (!any_requires_grad(inputs)) return;
  output.impl().requires_grad = true;
  output.impl().is_leaf = false;
  std::vector<const TensorImpl*> leaves;
  if (tls_leaf_hook)
    for (const Tensor& t : inputs)
      if (t.defined() && t.requires_grad() && t.is_leaf()) leaves.push_back(t.impl_ptr().get());
  tls_tape.push_back({op_name, output.impl_ptr(), std::move(backward), std::move(leaves)});
}
void record(const char* op_name, std::initializer_list<Tensor> inputs, const Tensor& output,
            BackwardFn backward) {
  record(op_name, std::vector<Tensor>(inputs), output, std::move(backward));
}

size_t tape_size() { return tls_tape.size(); }
void clear_tape() { tls_tape.clear(); }

LeafGradHook::LeafGradHook(Fn fn) {
  DISPA_CHECK(!tls_leaf_hook, "LeafGradHook: a hook is already installed on this thread (hooks do not nest)");
  tls_leaf_hook = new Fn(std::move(fn));
}
LeafGradHook::~LeafGradHook() {
  delete tls_leaf_hook;
  tls_leaf_hook = nullptr;
}

std::vector<std::string> tape_op_names() {
  std::vector<std::string> names;
  for (const TapeEntry& e : tls_tape) names.emplace_back(e.op_name);
  return names;
}

void Tensor::backward() const {
  DISPA_CHECK(numel() == 1, "backward: needs a scalar (one element), got {}", describe());
  DISPA_CHECK(is_floating(dtype()), "backward: needs a floating tensor, got {}", describe());
  DISPA_CHECK(requires_grad(), "backward: the tensor does not require a gradient "
                               "(no recorded op reaches a parameter)");
  accumulate_grad(Tensor::ones(shape(), dtype(), device()));
  // Move the tape out first: closures must not see (or grow) the tape they are replayed from.
  std::vector<TapeEntry> tape = std::move(tls_tape);
  tls_tape.clear();
  NoGrad no_grad;  // backward computations are not themselves recorded
  // With a leaf hook: the leaves whose last reader (in replay order) is entry i.
  std::vector<std::vector<const TensorImpl*>> final_after;
  if (tls_leaf_hook) {
    std::unordered_map<const TensorImpl*, size_t> last_reader;
    for (size_t i = tape.size(); i-- > 0;)
      for (const TensorImpl* leaf : tape[i].leaves) last_reader[leaf] = i;
    final_after.resize(tape.size());
    for (size_t i = 0; i < tape.size(); ++i)  // in recording order, so every process calls in the same order
      for (const TensorImpl* leaf : tape[i].leaves)
        if (last_reader[leaf] == i) {
          final_after[i].push_back(leaf);
          last_reader[leaf] = tape.size();  // a leaf read twice by one op is reported once
        }
  }
  std::vector<bool> ran(tape.size(), false);
  for (size_t i = tape.size(); i-- > 0;) {
    TapeEntry& entry = tape[i];
    if (entry.output->grad) {  // otherwise this output does not reach the loss
      Tensor grad_output(entry.output->grad);
      entry.output->grad.reset();          // intermediate: release as soon as consumed
      entry.backward(grad_output);
      entry.backward = nullptr;            // drop captured activations early
      ran[i] = true;
    }
    if (!final_after.empty())
      for (const TensorImpl* leaf : final_after[i]) (*tls_leaf_hook)(leaf);
  }
  // Entries that did not run belong to another graph (or to a branch that does not reach this
  // loss). Those whose output is still referenced outside the tape stay recorded, so a later
  // backward from that graph works, as in PyTorch (a parity test runs a CPU and a CUDA graph side
  // by side). The rest can never receive a gradient and are released, newest first, so that
  // releasing a closure can drop the last outside reference to an older entry's output.
  std::vector<TapeEntry> kept;
  for (size_t i = tape.size(); i-- > 0;) {
    if (ran[i]) continue;
    if (tape[i].output.use_count() > 1) {
      kept.push_back(std::move(tape[i]));
    } else {
      tape[i].backward = nullptr;
      tape[i].output.reset();
    }
  }
  tls_tape.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
}

namespace {
bool uniquely_owned(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.impl().storage.use_count() == 1 && t.impl().offset == 0 &&
         !t.impl().requires_grad && !t.impl().grad;
}
}  // namespace

void Tensor::accumulate_grad(Tensor&& dx) const {
  TensorImpl& self = impl();
  if (!self.requires_grad) return;
  if (!self.grad && dx.defined() && dx.shape() == self.shape && dx.dtype() == self.dtype &&
      dx.device() == device() && uniquely_owned(dx)) {
    self.grad = dx.impl_ptr();
    dx = Tensor();
    return;
  }
  accumulate_grad(static_cast<const Tensor&>(dx));
}

void Tensor::accumulate_grad(const Tensor& dx) const {
  TensorImpl& self = impl();
  if (!self.requires_grad) return;  // e.g. an index or a frozen input: nothing to accumulate
  DISPA_CHECK(dx.shape() == self.shape,
              "accumulate_grad: gradient shape {} does not match tensor shape {}{}",
              shape_str(dx.shape()), shape_str(self.shape),
              self.name.empty() ? "" : " (" + self.name + ")");
  DISPA_CHECK(dx.dtype() == self.dtype && dx.device() == device(),
              "accumulate_grad: gradient is {} but tensor is {}", dx.describe(), describe());
  if (!self.grad) {
    self.grad = dx.clone().impl_ptr();
  } else {
    Tensor g(self.grad);
    add_inplace(g, dx);
  }
}

}  // namespace dispa
