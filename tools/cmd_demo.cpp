// `tint demo`: the engine end to end on a synthetic task, in seconds: a small U-Net learns to map a
// random smooth "L" image to two channels (a blurred copy and a contrast curve of it), with masked MSE and
// Adam, printing the loss as it falls. Writes the graph of one step (Graphviz) and the trained weights
// (safetensors) when asked.
#include <chrono>
#include <cmath>

#include "engine/io.h"
#include "engine/optim.h"
#include "models/unet.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace tint::cli {

namespace {

const char* kHelp = R"(usage: tint demo [options]

Trains a small U-Net on a synthetic task (no data needed) and prints the loss falling.

options:
  --device NAME   cpu (default), cpu-ref, cuda-emu, cuda
  --steps N       training steps (default 60)
  --batch N       images per step (default 4)
  --size N        image side, divisible by 2^levels (default 32)
  --width N       U-Net channels at full resolution (default 8)
  --levels N      U-Net downsamplings (default 2)
  --lr X          Adam learning rate (default 3e-3)
  --seed N        random seed (default 1)
  --dot PATH      write the graph of one training step as Graphviz
  --save PATH     write the trained weights as .safetensors
)";

// Smooth random images: a sum of a few Gaussian blobs, in [-1, 1].
std::vector<float> smooth_images(int n, int size, Rng& rng) {
  std::vector<float> out(size_t(n) * size * size);
  for (int b = 0; b < n; ++b) {
    float cx[4], cy[4], s[4], w[4];
    for (int k = 0; k < 4; ++k)
      cx[k] = rng.uniform(0, size), cy[k] = rng.uniform(0, size), s[k] = rng.uniform(size / 8.f, size / 3.f),
      w[k] = rng.uniform(-1, 1);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        float v = 0;
        for (int k = 0; k < 4; ++k)
          v += w[k] * std::exp(-((x - cx[k]) * (x - cx[k]) + (y - cy[k]) * (y - cy[k])) / (2 * s[k] * s[k]));
        out[(size_t(b) * size + y) * size + x] = std::tanh(v);
      }
  }
  return out;
}

// Target channel 0: a 5x5 box blur of L (needs spatial context); channel 1: 0.8 * L^3 (a pointwise curve).
std::vector<float> targets(const std::vector<float>& L, int n, int size) {
  std::vector<float> out(size_t(n) * 2 * size * size);
  for (int b = 0; b < n; ++b)
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        float acc = 0;
        int cnt = 0;
        for (int dy = -2; dy <= 2; ++dy)
          for (int dx = -2; dx <= 2; ++dx) {
            int yy = y + dy, xx = x + dx;
            if (yy < 0 || xx < 0 || yy >= size || xx >= size) continue;
            acc += L[(size_t(b) * size + yy) * size + xx];
            ++cnt;
          }
        float l = L[(size_t(b) * size + y) * size + x];
        out[((size_t(b) * 2 + 0) * size + y) * size + x] = acc / float(cnt);
        out[((size_t(b) * 2 + 1) * size + y) * size + x] = 0.8f * l * l * l;
      }
  return out;
}

}  // namespace

int run_demo(int argc, char** argv) {
  Args args(argc, argv,
            Options{{}, {"device", "steps", "batch", "size", "width", "levels", "lr", "seed", "dot", "save"}, 0, ""});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const Device device = Device::parse(args.get("device", "cpu"));
  TINT_CHECK(device.available(), "device '{}' is not available in this build or on this machine", device.str());
  const int steps = args.get_int("steps", 60, 1, 1'000'000), batch = args.get_int("batch", 4, 1, 1024);
  const int levels = args.get_int("levels", 2, 1, 6);
  const int size = args.get_int("size", 32, 1, 4096);
  TINT_CHECK(size % (1 << levels) == 0, "demo: --size {} must be divisible by 2^levels = {}", size, 1 << levels);
  models::UNetConfig config{args.get_int("width", 8, 1, 512), levels};
  const double lr = args.get_double("lr", 3e-3, 0, 10);

  Rng rng(uint64_t(args.get_int("seed", 1, 0, 2'000'000'000)));
  models::UNet unet(config, rng);
  nn::FlatParameters flat = nn::flatten_parameters(unet, device);
  AdamHyper hyper;
  hyper.lr = float(lr);
  optim::Adam adam(flat, hyper);
  fmt::print("tint demo: U-Net width {} levels {} ({} parameters) on {}, batch {} of {}x{}, {} steps\n", config.width,
             config.levels, unet.parameter_count(), device.str(), batch, size, size, steps);

  // A fixed pool of 8 batches, cycled: enough variety that the net must learn the mapping, not the images.
  std::vector<std::pair<Tensor, Tensor>> pool;
  for (int i = 0; i < 8; ++i) {
    auto L = smooth_images(batch, size, rng);
    pool.emplace_back(Tensor::from_vector(L, {batch, 1, size, size}, device),
                      Tensor::from_vector(targets(L, batch, size), {batch, 2, size, size}, device));
  }
  auto start = std::chrono::steady_clock::now();
  float first = 0, last = 0;
  for (int step = 1; step <= steps; ++step) {
    auto& [L, target] = pool[size_t(step - 1) % pool.size()];
    adam.zero_grad();
    Tensor loss = ops::mse_loss(unet(L), target);
    if (step == 1 && args.has("dot")) {
      write_graphviz(loss, args.get("dot", ""));
      fmt::print("wrote the graph of one step to {}\n", args.get("dot", ""));
    }
    loss.backward();
    adam.step();
    last = loss.item();
    TINT_CHECK(std::isfinite(last), "demo: the loss became {} at step {}", last, step);
    if (step == 1) first = last;
    if (step == 1 || step % std::max(1, steps / 10) == 0 || step == steps) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("step {:4d}  loss {:.5f}  ({:.1f} ms/step)\n", step, last, 1e3 * secs / step);
    }
  }
  fmt::print("loss {:.5f} -> {:.5f} ({:.1f}x lower)\n", first, last, first / std::max(last, 1e-12f));
  if (args.has("save")) {
    std::vector<std::pair<std::string, Tensor>> named;
    for (auto& [name, t] : unet.named_parameters()) named.emplace_back(name, *t);
    io::save_safetensors(args.get("save", ""), named, {{"format", "pt"}, {"model", "tint.UNet"}});
    fmt::print("wrote the weights to {}\n", args.get("save", ""));
  }
  return 0;
}

}  // namespace tint::cli
