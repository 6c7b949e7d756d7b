// CUDA graphs: the device work of a piece of host code recorded once and replayed with one launch.
//
// A training step on a GPU is hundreds of small launches; at batch 1 the host's launch calls can cost as
// much as the kernels. Capturing the step records those launches into a graph (engine/backend.h, "graphs")
// and replaying it costs one call. tint bench uses it (--graph); the recipe, as in tools/cmd_bench.cpp:
//
//   GraphPool pool(device);                        // memory the graphs' tensors live in
//   Tensor x = Tensor::empty(shape, device);        // inputs at fixed addresses, refilled before each replay
//   Tensor loss;
//   adam.zero_grad();                               // so the recorded backward overwrites the gradients
//   CapturedGraph forward(pool, [&] { loss = ops::mse_loss(model(x), target); });
//   CapturedGraph backward(pool, [&] { loss.backward(); });
//   std::vector<char> marks = flat.pending_marks();     // which gradients the backward wrote
//   for each step: adam.zero_grad(); copy the batch into x; forward.replay(); backward.replay();
//                  flat.set_pending_marks(marks);  adam.step();
//   (without the marks set back, adam.step()'s finish_grads would zero what the replay computed)
//
// Rules, which the emulator enforces (cuda-emu records and replays too, so CI runs the same code):
//   * Nothing runs while a capture records: tensors it creates hold garbage until the first replay, and
//     the recorded code must not wait for the device (item(), to_vector(), synchronize()). Such a wait
//     throws, naming the call, and the capture is abandoned.
//   * A replay uses the pointers and arguments of its capture: the same input tensors, the same shapes,
//     the same Adam step. What changes from step to step must be in device memory the replay reads.
//   * Every tensor allocated while a capture records comes from its GraphPool, and its block stays the
//     pool's while the pool or any graph captured with it lives, so no other tensor can take memory a
//     replay writes. Keep the inputs (tensors made before the capture) alive as long as the graphs.
//   * Host-side state a capture changes (autograd's "gradient pending zero" flags, profiler scopes) is
//     changed once, at capture, not at each replay.
#pragma once

#include <functional>
#include <memory>

#include "engine/device.h"

namespace tint {

// Memory for graphs: see the rules above. Its blocks go back to the allocator's cache when the pool and
// every graph captured with it are gone.
class GraphPool {
 public:
  explicit GraphPool(Device device);
  Device device() const { return state_->device; }
  int id() const { return state_->id; }

 private:
  friend class CapturedGraph;
  struct State {
    Device device;
    int id = 0;
    State() = default;
    State(const State&) = delete;  // its destructor releases the pool: one State per pool
    State& operator=(const State&) = delete;
    ~State();
  };
  std::shared_ptr<State> state_;
};

class CapturedGraph {
 public:
  // Whether `device` can capture graphs: cuda and cuda-emu, not the CPU backends.
  static bool supported(Device device);
  // Waits for the work already queued, then runs `record` with the device's stream capturing into a new
  // graph, its allocations from `pool`. Throws when the device cannot capture or `record` waits for the
  // device or throws (the capture is then abandoned and the stream works as before).
  CapturedGraph(GraphPool& pool, const std::function<void()>& record);
  ~CapturedGraph();
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  // Launches the recorded work on the device's stream, asynchronously like any op.
  void replay();
  // How many kernel launches, copies and fills one replay runs.
  size_t nodes() const { return nodes_; }

 private:
  Device device_;
  std::shared_ptr<GraphPool::State> pool_;  // its blocks stay reserved while this graph lives
  void* graph_ = nullptr;
  size_t nodes_ = 0;
};

}  // namespace tint
