// One training step of the colorizer's U-Net through the whole engine (forward, masked loss, backward
// through the tape, one Adam launch), at batch 1 and 8, against the same U-Net in PyTorch in the same run.
//
// Median of --repeats steps after --warmup, each step ended by a device synchronisation. GFLOP/s counts
// the convolutions' multiply-adds (x2): forward, backward-data (except for the input image, which needs
// no gradient) and backward-weight of every layer; element-wise work is not counted.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engine/optim.h"
#include "engine/thread_pool.h"
#include "kernels/cuda/conv2d.h"
#include "models/unet.h"
#include "models/unet_cases.h"
#include "tools/args.h"

using namespace tint;

namespace {

const char* kHelp = R"(usage: bench_train_step [options]

Times one U-Net training step (forward, loss, backward, Adam) through tint's engine, and the same U-Net in
PyTorch (benchmarks/peers/torch_unet_step.py) in the same run where an interpreter with torch is found.

options:
  --device NAME     cpu (default), cpu-ref, cuda-emu, cuda
  --batches LIST    comma-separated batch sizes (default 1,8)
  --size N          image side (default 256)
  --width N         U-Net width (default 64)
  --levels N        U-Net levels (default 4)
  --loss l1|l2      (default l2)
  --warmup N        untimed steps first (default 3)
  --repeats N       timed steps (default 10)
  --python PATH     interpreter for the PyTorch peer (default: the first of python3, /usr/bin/python3
                    that imports torch); --no-peer skips it
  --peer-script P   path of torch_unet_step.py (default: benchmarks/peers/ under the source tree or cwd)
  --conv-variant V  CUDA convolution variant for cuda and cuda-emu, by name (naive, igemm, igemm-nosplit,
                    igemm2; kernels/cuda/conv2d.h; an index 0-3 is still accepted); default: the backend's
  --json PATH       write the results as JSON
)";

// Every launch of every U-Net conv case (engine/op_registry.h), but the input layer's data gradient,
// which a training step never computes.
double conv_flops_per_step(int batch, int size, int width, int levels) {
  double total = 0;
  for (const OpCase& layer : models::unet_conv_cases(models::UNetConfig{width, levels}, size, batch))
    for (const OpLaunch& launch : layer.op->launches)
      if (!(layer.label == "down.0.conv1" && std::string(launch.name) == "bwd-data")) total += launch.cost(layer.dims).flops;
  return total;
}

std::string find_python(const std::string& preferred) {
  std::vector<std::string> candidates;
  if (!preferred.empty()) candidates.push_back(preferred);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (auto& py : candidates) {
    std::string cmd = py + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

std::string find_peer_script(const std::string& given) {
  std::vector<std::string> candidates;
  if (!given.empty()) candidates.push_back(given);
#ifdef TINT_SOURCE_DIR
  candidates.push_back(std::string(TINT_SOURCE_DIR) + "/benchmarks/peers/torch_unet_step.py");
#endif
  candidates.push_back("benchmarks/peers/torch_unet_step.py");
  for (auto& c : candidates)
    if (std::ifstream(c).good()) return c;
  return "";
}

// Runs the peer and pulls "ms_median" and "device" out of its one line of JSON.
bool run_peer(const std::string& python, const std::string& script, const std::string& device, int batch, int size,
              int width, int levels, const std::string& loss, int warmup, int repeats, double& ms,
              std::string& what) {
  // On the CPU, PyTorch gets as many threads as tint's pool (1 for the single-threaded reference).
  const int threads = device == "cpu" ? runtime(Device::cpu()).stream.pool->size() : 1;
  std::string cmd = fmt::format("{} {} --device {} --batch {} --size {} --width {} --levels {} --loss {} --warmup {} "
                                "--repeats {} --threads {} 2>&1",
                                python, script, device == "cuda" ? "cuda" : "cpu", batch, size, width, levels, loss,
                                warmup, repeats, threads);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  size_t k = out.find("\"ms_median\": ");
  if (rc != 0 || k == std::string::npos) {
    std::fprintf(stderr, "PyTorch peer failed (rc %d): %s\n", rc, out.c_str());
    return false;
  }
  ms = std::atof(out.c_str() + k + 13);
  size_t d = out.find("\"device\": \"");
  if (d != std::string::npos) what = out.substr(d + 11, out.find('"', d + 11) - d - 11);
  size_t t = out.find("\"torch\": \"");
  if (t != std::string::npos) what += ", torch " + out.substr(t + 10, out.find('"', t + 10) - t - 10);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    cli::Args args(argc, argv, {"no-peer"});
    if (args.help()) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    args.check_known({"device", "batches", "size", "width", "levels", "loss", "warmup", "repeats", "python",
                      "peer-script", "json", "no-peer", "conv-variant"});
    const Device device = Device::parse(args.get("device", "cpu"));
    if (!device.available()) {
      std::fprintf(stderr, "bench_train_step: device '%s' is not available here\n", device.str().c_str());
      return 77;
    }
    std::string variant_note;
    if (args.has("conv-variant")) {
      std::string v = args.get("conv-variant", "");
      // Older scripts pass the variant's index: map it onto the name.
      if (v.size() == 1 && v[0] >= '0' && v[0] < char('0' + cuda_emu::conv_variants().size()))
        v = cuda_emu::conv_variants()[size_t(v[0] - '0')];
      if (device.kind == DeviceKind::CudaEmu) {
        cuda_emu::set_conv_variant(v);
        variant_note = ", conv variant " + v;
      }
#ifdef TINT_HAVE_CUDA
      if (device.kind == DeviceKind::Cuda) {
        cuda::set_conv_variant(v);
        variant_note = ", conv variant " + v;
      }
#endif
      TINT_CHECK(!variant_note.empty(), "--conv-variant applies to the cuda and cuda-emu devices only");
    }
    const int size = args.get_int("size", 256), width = args.get_int("width", 64), levels = args.get_int("levels", 4);
    const int warmup = args.get_int("warmup", 3), repeats = args.get_int("repeats", 10);
    const std::string loss_name = args.get("loss", "l2");
    TINT_CHECK(loss_name == "l1" || loss_name == "l2", "--loss must be l1 or l2, got '{}'", loss_name);
    TINT_CHECK(repeats > 0 && warmup >= 0, "--repeats must be positive");
    std::vector<int> batches;
    {
      std::string list = args.get("batches", "1,8");
      size_t pos = 0;
      while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!item.empty()) batches.push_back(std::stoi(item));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
    std::string python, script;
    if (!args.has("no-peer")) {
      python = find_python(args.get("python", ""));
      script = find_peer_script(args.get("peer-script", ""));
      if (python.empty()) std::puts("PyTorch peer: no interpreter with torch found (tried python3, /usr/bin/python3); skipped");
      if (script.empty()) std::puts("PyTorch peer: torch_unet_step.py not found; skipped");
    }
    const bool peer = !python.empty() && !script.empty();

    fmt::print("U-Net training step: {}x{} input, width {}, {} levels, {} loss, fp32 (no TF32), device {}{}\n", size,
               size, width, levels, loss_name, device.str(), variant_note);
    fmt::print("{:>5} {:>12} {:>10} {:>10} {:>12} {:>10}\n", "batch", "tint ms", "img/s", "GFLOP/s", "pytorch ms",
               "x pytorch");
    std::string json = fmt::format("{{\"device\": \"{}\", \"size\": {}, \"width\": {}, \"levels\": {}, \"loss\": \"{}\", "
                                   "\"warmup\": {}, \"repeats\": {}, \"results\": [",
                                   device.str(), size, width, levels, loss_name, warmup, repeats);
    for (size_t bi = 0; bi < batches.size(); ++bi) {
      const int batch = batches[bi];
      Rng rng(1234);
      models::UNet unet({width, levels}, rng);
      nn::FlatParameters flat = nn::flatten_parameters(unet, device);
      AdamHyper hyper;
      optim::Adam adam(flat, hyper);
      Tensor L = Tensor::uniform({batch, 1, size, size}, -1, 1, rng, device);
      Tensor target = Tensor::uniform({batch, 2, size, size}, -1, 1, rng, device);
      std::vector<float> mv(size_t(batch) * size * size);
      for (auto& m : mv) m = rng.uniform01() < 0.9f ? 1.f : 0.f;
      Tensor mask = Tensor::from_vector(mv, {batch, 1, size, size}, device);
      auto& rt = runtime(device);
      auto step = [&] {
        adam.zero_grad();
        Tensor pred = unet(L);
        Tensor loss = loss_name == "l1" ? ops::l1_loss(pred, target, mask) : ops::mse_loss(pred, target, mask);
        loss.backward();
        adam.step();
        rt.synchronize();
      };
      for (int i = 0; i < warmup; ++i) step();
      std::vector<double> ms;
      for (int i = 0; i < repeats; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        step();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const double gflops = conv_flops_per_step(batch, size, width, levels) / (med * 1e6);
      double peer_ms = 0;
      std::string peer_what;
      const bool have_peer = peer && run_peer(python, script, device.str(), batch, size, width, levels, loss_name,
                                              warmup, repeats, peer_ms, peer_what);
      fmt::print("{:>5} {:>12.2f} {:>10.1f} {:>10.0f} {:>12} {:>10}\n", batch, med, batch * 1e3 / med, gflops,
                 have_peer ? fmt::format("{:.2f}", peer_ms) : "-",
                 have_peer ? fmt::format("{:.2f}", peer_ms / med) : "-");
      if (have_peer && bi + 1 == batches.size()) fmt::print("peer: {}\n", peer_what);
      json += fmt::format("{}{{\"batch\": {}, \"tint_ms_median\": {:.4f}, \"tint_ms_min\": {:.4f}, \"tint_ms_max\": {:.4f}, "
                          "\"images_per_s\": {:.3f}, \"conv_gflops\": {:.1f}, \"pytorch_ms_median\": {}, "
                          "\"pytorch\": \"{}\", \"peak_bytes_in_use\": {}}}",
                          bi ? ", " : "", batch, med, ms.front(), ms.back(), batch * 1e3 / med, gflops,
                          have_peer ? fmt::format("{:.4f}", peer_ms) : "null", peer_what,
                          rt.allocator.stats().peak_bytes_in_use);
    }
    json += "]}\n";
    fmt::print("x pytorch = PyTorch time / tint time (higher is better for tint)\n");
    if (args.has("json")) {
      std::ofstream f(args.get("json", ""));
      TINT_CHECK(f.good(), "cannot write '{}'", args.get("json", ""));
      f << json;
      fmt::print("json: {}\n", args.get("json", ""));
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_train_step: error: %s\n", e.what());
    return 1;
  }
}
