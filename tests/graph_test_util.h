// U-Net training steps op by op and through captured graphs (engine/graph.h), for test_engine_graph (on
// cuda-emu) and gpu_engine (on cuda): the two must give the same bits.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "engine/graph.h"
#include "engine/optim.h"
#include "models/unet.h"

namespace tint::graph_test {

inline constexpr int kBatch = 2;
inline int kSize = 16, kWidth = 4;  // the first-step test widens them, to need more workspace than the reductions'

struct Batch {
  std::vector<float> L, ab, mask;
};

inline std::vector<Batch> make_batches(int steps) {
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

inline Run eager(Device d, const std::vector<Batch>& batches) {
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
inline Run graphed(Device d, const std::vector<Batch>& batches, int eager_steps, size_t* workspace_grew = nullptr) {
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
  const std::vector<char> pending_after = m.flat.pending_marks();
  if (workspace_grew) *workspace_grew = rt.stream.workspace_bytes - workspace_before;
  const auto put = [&](Tensor& t, const std::vector<float>& v) {
    rt.backend.copy_from_host(rt.stream, t.data(), v.data(), v.size() * sizeof(float));
  };
  for (size_t k = size_t(eager_steps); k < batches.size(); ++k) {
    if (k > size_t(eager_steps)) m.adam->zero_grad();  // as each step op by op does
    put(L, batches[k].L), put(ab, batches[k].ab), put(mask, batches[k].mask);
    forward->replay();
    std::vector<Tensor> others;
    for (int64_t n : {64, 500, 2048, 4096, 16384}) others.push_back(Tensor::full({n}, 1e30f, d));
    backward->replay();
    m.flat.set_pending_marks(pending_after);  // the replay wrote the gradients the capture's backward did
    m.adam->step();
    r.losses.push_back(loss.item());
    for (Tensor& t : others) REQUIRE(t.to_vector() == std::vector<float>(size_t(t.numel()), 1e30f));
  }
  backward.reset();
  forward.reset();
  r.weights = m.flat.params.to_vector();
  return r;
}

inline void require_same(const Run& a, const Run& b) {
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

}  // namespace tint::graph_test
