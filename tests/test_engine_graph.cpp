// Graphs through the engine (engine/graph.h) on cuda-emu, whose stream capture records and replays as CUDA's
// does: a U-Net training step captured once and replayed must give the bits of the same steps run op by op,
// with new data each step, other tensors allocated and written between the replays, and a capture that
// grows the stream's workspace. A capture that waits for the device fails with a clear error and leaves the
// device working.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"
#include "graph_test_util.h"

using namespace tint;
using namespace tint::graph_test;

TEST_CASE("graph: a captured U-Net step replayed with new data gives the bits of the steps op by op",
          "[graph]") {
  const Device d = Device::cuda_emu();
  REQUIRE(CapturedGraph::supported(d));
  const std::vector<Batch> batches = make_batches(5);
  const Run by_graph = graphed(d, batches, 1);
  const Run by_ops = eager(d, batches);
  require_same(by_graph, by_ops);
  // The steps did move: a replay that repeated the first step's data would not give these.
  REQUIRE(by_ops.losses[1] != by_ops.losses[4]);
}

TEST_CASE("graph: a capture on the first step grows the stream's workspace while it records", "[graph]") {
  const Device d = Device::cuda_emu();
  kSize = 32, kWidth = 8;
  const std::vector<Batch> batches = make_batches(3);
  size_t grew = 0;
  const Run by_graph = graphed(d, batches, 0, &grew);  // first in this process: nothing cached yet
  CHECK(grew > 0);
  const Run by_ops = eager(d, batches);
  require_same(by_graph, by_ops);
}

TEST_CASE("graph: a capture that waits for the device fails naming the wait and the device still works",
          "[graph]") {
  const Device d = Device::cuda_emu();
  GraphPool pool(d);
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}, d);
  try {
    CapturedGraph g(pool, [&] { (void)ops::sum(x).item(); });
    FAIL("the capture did not fail");
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("while capturing a graph on cuda-emu") != std::string::npos);
    CHECK(what.find("cudaStreamSynchronize") != std::string::npos);
    CHECK(what.find("must not wait") != std::string::npos);
  }
  CHECK(!runtime(d).capturing());
  CHECK(ops::sum(ops::add(x, x)).item() == 12.0f);
  // And a later capture works.
  Tensor y;
  {
    CapturedGraph g(pool, [&] { y = ops::scale(x, 3.0f); });
    g.replay();
    CHECK(y.to_vector() == std::vector<float>{3, 6, 9});
  }
}

TEST_CASE("graph: the CPU backends cannot capture and say so", "[graph]") {
  for (Device d : {Device::cpu(), Device::cpu_ref()}) {
    CHECK(!CapturedGraph::supported(d));
    CHECK_THROWS_WITH(GraphPool(d), Catch::Contains("cannot capture graphs"));
  }
}

TEST_CASE("graph: a workspace replaced during a capture stays the graph's until the graph is gone", "[graph]") {
  // The sum is recorded with the reductions' small workspace; the convolution then needs a larger one. The
  // replaced workspace must not go to other tensors: the sum's replays still write their partials there.
  const Device d = Device::cuda_emu();
  DeviceRuntime& rt = runtime(d);
  Rng rng(3);
  const int64_t n = 1 << 20;
  Tensor a = Tensor::uniform({n}, 0, 1, rng, d);
  Tensor x = Tensor::uniform({1, 16, 48, 48}, -1, 1, rng, d);
  Tensor w = Tensor::uniform({16, 16, 3, 3}, -1, 1, rng, d);
  const size_t before = rt.stream.workspace_bytes;
  GraphPool pool(d);
  Tensor s, y;
  auto g = std::make_unique<CapturedGraph>(
      pool, [&] { s = ops::sum(a), y = ops::conv2d(x, w, Tensor(), ops::Conv2dOptions::square(1, 1)); });
  REQUIRE(rt.stream.workspace_bytes > before);
  // Tensors of the old workspace's size and around it, taken after the capture and filled.
  std::vector<Tensor> others;
  for (int64_t k : {int64_t(before / 4), int64_t(before / 4) - 128, int64_t(before / 6), int64_t(before / 8)})
    for (int copy = 0; copy < 4; ++copy) others.push_back(Tensor::full({k}, 1e30f, d));
  g->replay();
  const std::vector<float> av = a.to_vector();
  double want = 0;
  for (float v : av) want += v;
  CHECK(std::fabs(s.item() - want) < 1e-4 * want);
  for (Tensor& t : others) REQUIRE(t.to_vector() == std::vector<float>(size_t(t.numel()), 1e30f));
  g.reset();
}

TEST_CASE("graph: a graph keeps its pool's blocks after the pool object is gone", "[graph]") {
  const Device d = Device::cuda_emu();
  Tensor x = Tensor::from_vector(std::vector<float>(1000, 1.5f), {1000}, d);
  Tensor y;
  std::unique_ptr<CapturedGraph> g;
  {
    GraphPool pool(d);
    // The sum x + x is freed inside the capture: its block is the pool's, and the replay writes it.
    g = std::make_unique<CapturedGraph>(pool, [&] { y = ops::scale(ops::add(x, x), 2.0f); });
  }
  std::vector<Tensor> others;
  for (int copy = 0; copy < 8; ++copy) others.push_back(Tensor::full({1000}, 1e30f, d));
  g->replay();
  CHECK(y.to_vector() == std::vector<float>(1000, 6.0f));
  for (Tensor& t : others) REQUIRE(t.to_vector() == std::vector<float>(1000, 1e30f));
}
