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
#include "engine/graph.h"
#include "engine/optim.h"
#include "models/unet.h"

using namespace tint;

namespace {

constexpr int kBatch = 2;
int kSize = 16, kWidth = 4;  // the first-step test widens them, to need more workspace than the reductions'

struct Batch {
  std::vector<float> L, ab, mask;
};

std::vector<Batch> make_batches(int steps) {
  Rng rng(31);
  std::vector<Batch> out(static_cast<size_t>(steps));
  for (Batch& b : out) {
    for (int i = 0; i < kBatch * kSize * kSize; ++i) {
      b.L.push_back(rng.uniform(-1, 1));
      b.mask.push_back(rng.uniform(0, 1) < 0.8f ? 1.f : 0.f);
    }
    for (int i = 0; i < 2 * kBatch * kSize * kSize; ++i) b.ab.push_back(rng.uniform(-0.5f, 0.5f));
  }
  return out;
}

struct Run {
  std::vector<float> losses, weights;
};

struct Model {
  Rng rng{17};
  models::UNet unet{{kWidth, 2}, rng};
  nn::FlatParameters flat;
  std::unique_ptr<optim::Adam> adam;
  explicit Model(Device d) : flat(nn::flatten_parameters(unet, d)) {
    AdamHyper h;
    h.lr = 1e-2f;
    adam = std::make_unique<optim::Adam>(flat, h);
  }
};

Run eager(Device d, const std::vector<Batch>& batches) {
  Model m(d);
  Run r;
  for (const Batch& b : batches) {
    m.adam->zero_grad();
    Tensor L = Tensor::from_vector(b.L, {kBatch, 1, kSize, kSize}, d);
    Tensor ab = Tensor::from_vector(b.ab, {kBatch, 2, kSize, kSize}, d);
    Tensor mask = Tensor::from_vector(b.mask, {kBatch, 1, kSize, kSize}, d);
    Tensor loss = ops::mse_loss(m.unet(L), ab, mask);
    loss.backward();
    m.adam->step();
    r.losses.push_back(loss.item());
  }
  r.weights = m.flat.params.to_vector();
  return r;
}

// The same steps with the forward and the backward captured once (after `eager_steps` steps op by op) and
// replayed. Between the two replays of each step, tensors are allocated and filled: were the graphs' blocks
// not kept from them, the backward would read their bytes instead of the forward's saved tensors.
Run graphed(Device d, const std::vector<Batch>& batches, int eager_steps, size_t* workspace_grew = nullptr) {
  Model m(d);
  Run r;
  DeviceRuntime& rt = runtime(d);
  for (int k = 0; k < eager_steps; ++k) {
    const Batch& b = batches[size_t(k)];
    m.adam->zero_grad();
    Tensor loss = ops::mse_loss(m.unet(Tensor::from_vector(b.L, {kBatch, 1, kSize, kSize}, d)),
                                Tensor::from_vector(b.ab, {kBatch, 2, kSize, kSize}, d),
                                Tensor::from_vector(b.mask, {kBatch, 1, kSize, kSize}, d));
    loss.backward();
    m.adam->step();
    r.losses.push_back(loss.item());
  }
  GraphPool pool(d);
  Tensor L = Tensor::empty({kBatch, 1, kSize, kSize}, d);
  Tensor ab = Tensor::empty({kBatch, 2, kSize, kSize}, d);
  Tensor mask = Tensor::empty({kBatch, 1, kSize, kSize}, d);
  Tensor loss;
  m.adam->zero_grad();  // the recorded backward then overwrites each gradient
  const size_t workspace_before = rt.stream.workspace_bytes;
  auto forward = std::make_unique<CapturedGraph>(pool, [&] { loss = ops::mse_loss(m.unet(L), ab, mask); });
  auto backward = std::make_unique<CapturedGraph>(pool, [&] { loss.backward(); });
  if (workspace_grew) *workspace_grew = rt.stream.workspace_bytes - workspace_before;
  const auto put = [&](Tensor& t, const std::vector<float>& v) {
    rt.backend.copy_from_host(rt.stream, t.data(), v.data(), v.size() * sizeof(float));
  };
  for (size_t k = size_t(eager_steps); k < batches.size(); ++k) {
    put(L, batches[k].L), put(ab, batches[k].ab), put(mask, batches[k].mask);
    forward->replay();
    std::vector<Tensor> others;
    for (int64_t n : {64, 500, 2048, 4096, 16384}) others.push_back(Tensor::full({n}, 1e30f, d));
    backward->replay();
    m.adam->step();  // no zero_grad: the replayed backward overwrites every gradient
    r.losses.push_back(loss.item());
    for (Tensor& t : others) REQUIRE(t.to_vector() == std::vector<float>(size_t(t.numel()), 1e30f));
  }
  backward.reset();
  forward.reset();
  r.weights = m.flat.params.to_vector();
  return r;
}

void require_same(const Run& a, const Run& b) {
  REQUIRE(a.losses.size() == b.losses.size());
  for (size_t i = 0; i < a.losses.size(); ++i) {
    INFO("step " << i << ": graph " << a.losses[i] << ", op by op " << b.losses[i]);
    REQUIRE(a.losses[i] == b.losses[i]);
  }
  REQUIRE(a.weights.size() == b.weights.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.weights.size(); ++i) differ += a.weights[i] != b.weights[i];
  INFO(differ << " of " << a.weights.size() << " weights differ");
  REQUIRE(differ == 0);
}

}  // namespace

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
