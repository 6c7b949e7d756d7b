// The engine itself on a real GPU: the same U-Net training steps on `cuda` and on the `cpu` reference of the
// same math, from the same initial weights and data, must give the same losses and weights (up to float
// rounding of different summation orders). Labelled `gpu`; without a GPU every test exits 77 (skipped).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/optim.h"
#include "engine_test_util.h"
#include "graph_test_util.h"
#include "models/unet.h"

using namespace tint;

namespace {
void require_gpu() {
  if (Device::cuda().available()) return;
  std::printf("SKIP: no CUDA device%s\n", cuda_backend() ? "" : " (built without nvcc)");
  std::exit(77);
}

struct Run {
  std::vector<float> losses;
  std::vector<float> weights;
};

Run train(Device d, int steps, bool l1) {
  Rng rng(99);
  models::UNet unet({8, 2}, rng);
  nn::FlatParameters flat = nn::flatten_parameters(unet, d);
  AdamHyper h;
  h.lr = 1e-3f;
  optim::Adam adam(flat, h);
  Rng data(7);
  Tensor L = Tensor::uniform({2, 1, 32, 32}, -1, 1, data, d);
  Tensor target = Tensor::uniform({2, 2, 32, 32}, -0.5f, 0.5f, data, d);
  std::vector<float> mv(2 * 32 * 32);
  for (size_t i = 0; i < mv.size(); ++i) mv[i] = (i % 32) < 24 ? 1.f : 0.f;  // a padded right edge
  Tensor mask = Tensor::from_vector(mv, {2, 1, 32, 32}, d);
  Run r;
  for (int s = 0; s < steps; ++s) {
    adam.zero_grad();
    Tensor pred = unet(L);
    Tensor loss = l1 ? ops::l1_loss(pred, target, mask) : ops::mse_loss(pred, target, mask);
    loss.backward();
    adam.step();
    r.losses.push_back(loss.item());
  }
  r.weights = flat.params.to_vector();
  return r;
}
}  // namespace

TEST_CASE("gpu: U-Net training steps on cuda match the cpu backend", "[gpu][engine]") {
  require_gpu();
  for (bool l1 : {false, true}) {
    Run gpu = train(Device::cuda(), 5, l1);
    Run cpu = train(Device::cpu(), 5, l1);
    INFO((l1 ? "L1" : "L2"));
    for (size_t i = 0; i < gpu.losses.size(); ++i) {
      INFO("step " << i + 1 << ": cuda " << gpu.losses[i] << " cpu " << cpu.losses[i]);
      CHECK(std::isfinite(gpu.losses[i]));
      CHECK(gpu.losses[i] == Approx(cpu.losses[i]).epsilon(1e-4));
    }
    // After 5 Adam steps the weights agree closely; Adam's normalised step amplifies tiny gradient
    // differences only where a gradient is near zero, so compare in norm.
    CHECK(tint::testing::rel_error(gpu.weights, cpu.weights) < 1e-3);
  }
}

TEST_CASE("gpu: a training step allocates nothing after warm-up", "[gpu][engine]") {
  require_gpu();
  const Device d = Device::cuda();
  Rng rng(5);
  models::UNet unet({8, 2}, rng);
  nn::FlatParameters flat = nn::flatten_parameters(unet, d);
  AdamHyper h;
  optim::Adam adam(flat, h);
  Tensor L = Tensor::uniform({2, 1, 32, 32}, -1, 1, rng, d);
  Tensor target = Tensor::uniform({2, 2, 32, 32}, -1, 1, rng, d);
  uint64_t after_warmup = 0;
  for (int s = 0; s < 6; ++s) {
    adam.zero_grad();
    Tensor loss = ops::mse_loss(unet(L), target);
    loss.backward();
    adam.step();
    runtime(d).synchronize();
    if (s == 1) after_warmup = runtime(d).allocator.stats().backend_allocs;
  }
  CHECK(runtime(d).allocator.stats().backend_allocs == after_warmup);
}

TEST_CASE("gpu: a U-Net step captured as CUDA graphs replays to the bits of the steps op by op", "[gpu][graph]") {
  require_gpu();
  const Device d = Device::cuda();
  REQUIRE(CapturedGraph::supported(d));
  const std::vector<graph_test::Batch> batches = graph_test::make_batches(5);
  // Captured after one step op by op, as tint bench does, and on the very first step (nothing cached yet: the
  // allocator's cudaMalloc and the workspace's growth happen while the stream captures).
  const graph_test::Run first = graph_test::graphed(d, batches, 0);
  const graph_test::Run after_one = graph_test::graphed(d, batches, 1);
  const graph_test::Run by_ops = graph_test::eager(d, batches);
  graph_test::require_same(after_one, by_ops);
  graph_test::require_same(first, by_ops);
}
