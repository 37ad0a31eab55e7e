// LeafGradHook (engine/autograd.h): during backward each leaf is reported once, right after the
// last tape entry that reads it has run, so its gradient is already final when the hook sees it.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"

using namespace dispa;

TEST_CASE("LeafGradHook: each leaf once, with its final gradient, in a fixed order") {
  Tensor a = Tensor::uniform({3, 4}, -1, 1, 1).set_requires_grad();  // read early and late
  Tensor b = Tensor::uniform({4, 2}, -1, 1, 2).set_requires_grad();  // read once, in the middle
  Tensor c = Tensor::uniform({3, 2}, -1, 1, 3).set_requires_grad();  // read last
  Tensor unused = Tensor::ones({2}).set_requires_grad();              // never read
  const Tensor x = Tensor::uniform({3, 4}, -1, 1, 4);                 // no gradient

  auto run = [&](bool hooked, std::vector<const TensorImpl*>* order, std::map<const TensorImpl*, std::vector<float>>* seen) {
    for (Tensor* t : {&a, &b, &c}) t->zero_grad();
    std::unique_ptr<LeafGradHook> hook;
    if (hooked)
      hook = std::make_unique<LeafGradHook>([&](const TensorImpl* leaf) {
        order->push_back(leaf);
        (*seen)[leaf] = Tensor(leaf->grad).to_vector<float>();
      });
    const Tensor h = mul(a, x);             // a read here ...
    const Tensor y = matmul(add(h, a), b);  // ... and here; b here
    sum_all(mul(y, c)).backward();          // c last
  };
  std::vector<const TensorImpl*> order;
  std::map<const TensorImpl*, std::vector<float>> seen;
  run(true, &order, &seen);
  // Replay runs backwards: c's reader finishes first, a's first reader last.
  REQUIRE(order.size() == 3);
  CHECK(order[0] == c.impl_ptr().get());
  CHECK(order[1] == b.impl_ptr().get());
  CHECK(order[2] == a.impl_ptr().get());
  for (const Tensor* t : {&a, &b, &c}) CHECK(seen.at(t->impl_ptr().get()) == t->grad().to_vector<float>());
  CHECK(seen.count(unused.impl_ptr().get()) == 0);

  // Without a hook the same graph gives the same gradients (the hook only observes).
  const std::vector<float> ga = a.grad().to_vector<float>();
  run(false, nullptr, nullptr);
  CHECK(a.grad().to_vector<float>() == ga);
}

TEST_CASE("LeafGradHook: hooks do not nest") {
  LeafGradHook hook([](const TensorImpl*) {});
  CHECK_THROWS_WITH(LeafGradHook([](const TensorImpl*) {}),
                    "LeafGradHook: a hook is already installed on this thread (hooks do not nest)");
}
