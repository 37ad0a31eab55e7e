// Tape autograd. Every op that sees an input requiring a gradient (while grad mode is on) records
// a backward closure and its output; Tensor::backward() seeds d(loss)/d(loss) = 1 and replays the
// tape in reverse, each closure reading its output's gradient and accumulating (+=) into its
// inputs' gradients, so a tensor used twice receives both contributions. Intermediate gradients
// are released as soon as their closure has run; leaf gradients (parameters) stay until zero_grad.
// Entries that a backward does not reach stay on the tape while their output is still referenced
// (another graph can be backpropagated later) and are released once nothing else holds it.
// The tape is thread_local. NoGrad turns recording off for a scope (inference, optimizer updates).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace dispa {

bool grad_enabled();

class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of the inputs requires a gradient.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

using BackwardFn = std::function<void(const Tensor& grad_output)>;

// Records `backward` for `output` if any input requires a gradient; marks output as non-leaf.
// Capture in the closure only what backward reads, and say so in a comment at the call.
void record(const char* op_name, std::initializer_list<Tensor> inputs, const Tensor& output,
            BackwardFn backward);
void record(const char* op_name, const std::vector<Tensor>& inputs, const Tensor& output,
            BackwardFn backward);

// Number of recorded entries (for tests and leak checks) and an explicit reset (e.g. after an
// evaluation pass run without NoGrad).
size_t tape_size();
void clear_tape();

// Op name of each tape entry in recording order (for --detect-anomaly style debugging).
std::vector<std::string> tape_op_names();

// Gradient-ready callbacks, so data-parallel training can start reducing gradients while the
// backward pass is still running. While a LeafGradHook is alive on this thread, recorded ops also
// note which leaves (tensors that require a gradient and were not produced by an op: parameters)
// they read, and backward() calls the hook with a leaf as soon as no tape entry still to be
// replayed reads it: from then on its gradient is final for this backward (it may have received
// none). Install the hook before the forward pass it should see; hooks do not nest.
class LeafGradHook {
 public:
  using Fn = std::function<void(const TensorImpl* leaf)>;  // identifies the leaf; runs under NoGrad
  explicit LeafGradHook(Fn fn);
  ~LeafGradHook();
  LeafGradHook(const LeafGradHook&) = delete;
  LeafGradHook& operator=(const LeafGradHook&) = delete;
};

}  // namespace dispa
