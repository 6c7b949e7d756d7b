#include "engine/graph.h"

#include <exception>

#include "engine/error.h"

namespace tint {

GraphPool::GraphPool(Device device) {
  TINT_CHECK(CapturedGraph::supported(device), "device '{}' cannot capture graphs (only cuda and cuda-emu can)",
             device.str());
  state_ = std::make_shared<State>();  // made in place: a temporary State's destructor would release the pool
  state_->device = device;
  state_->id = runtime(device).allocator.create_pool();
}

GraphPool::State::~State() { runtime(device).allocator.release_pool(id); }

bool CapturedGraph::supported(Device device) {
  if (!device.available()) return false;
  const Backend& b = device.backend();
  return b.begin_capture && b.end_capture && b.launch_graph && b.destroy_graph;
}

CapturedGraph::CapturedGraph(GraphPool& pool, const std::function<void()>& record)
    : device_(pool.device()), pool_(pool.state_) {
  DeviceRuntime& rt = runtime(device_);
  rt.synchronize();  // what was queued before belongs outside the graph
  rt.begin_capture(pool.id());
  try {
    record();
  } catch (const std::exception& e) {
    try {
      size_t ignored = 0;
      rt.backend.destroy_graph(rt.end_capture(&ignored));
    } catch (const std::exception&) {
      // The capture was spoilt by the same call, which `e` names.
    }
    rt.release_retired();
    throw Error(fmt::format(
        "while capturing a graph on {}: {} (the captured code must not wait for the device: no item(), "
        "to_vector() or synchronize() inside a capture)",
        device_.str(), e.what()));
  }
  try {
    graph_ = rt.end_capture(&nodes_);
  } catch (const std::exception& e) {
    rt.release_retired();
    throw Error(fmt::format("capturing a graph on {} failed: {}", device_.str(), e.what()));
  }
  rt.graph_created();
}

CapturedGraph::~CapturedGraph() {
  DeviceRuntime& rt = runtime(device_);
  try {
    rt.synchronize();  // a replay may still run
    rt.backend.destroy_graph(graph_);
  } catch (const std::exception&) {
    // A destructor must not throw; the device error shows at the next call that checks.
  }
  rt.graph_destroyed();
  // pool_ goes after this: the pool's blocks return to the cache only once the graph is gone.
}

void CapturedGraph::replay() {
  DeviceRuntime& rt = runtime(device_);
  TINT_CHECK(!rt.capturing(), "{}: a graph cannot be replayed while another is being captured", device_.str());
  rt.backend.launch_graph(rt.stream, graph_);
}

}  // namespace tint
