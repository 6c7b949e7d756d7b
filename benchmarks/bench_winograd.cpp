// The cpu convolution algorithms against each other on the U-Net's 3x3 stride-1 layers: for each layer and
// product, the named variants (default: gemm, winograd4, winograd2) timed interleaved in one process
// (ABCABC..., so that load from other processes falls on all of them alike), median of each, and each
// variant's time relative to the first. This is the measurement behind pick_auto in conv_algos.cpp.
//
//   bench_winograd --size 256 --batch 1 [--repeats 7] [--threads N] [--only down.2] [--variants a,b,c]
//
// GFLOP/s are the direct convolution's FLOPs (engine/op_cost.h) over the time, so that the algorithms are
// compared on the same work.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/op_cost.h"
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cpu/conv_winograd.h"
#include "models/unet.h"
#include "tools/args.h"

using namespace tint;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (float& e : v) e = d(rng);
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(int argc, char** argv) {
  cli::Args args(argc, argv,
                 {{"help", "cpu-time"},
                  {"size", "batch", "repeats", "threads", "only", "variants"},
                  0,
                  "bench_winograd"});
  if (args.help()) {
    std::puts(
        "bench_winograd: cpu conv algorithms interleaved on the U-Net's 3x3 stride-1 layers (fp32).\n"
        "  --size N        input image size, a multiple of 16 (default 256)\n"
        "  --batch N       batch size (default 1)\n"
        "  --repeats N     timed rounds, median reported (default 7; one warm-up round first)\n"
        "  --threads N     thread pool size (default: all hardware threads, or TINT_THREADS)\n"
        "  --only TEXT     only layers whose name contains TEXT\n"
        "  --variants A,B  algorithms to compare, the first is the baseline (default "
        "gemm,winograd4,winograd2)\n"
        "  --cpu-time      time the process's CPU time, not wall time: with --threads 1, a machine shared "
        "with other\n"
        "                  jobs then charges each variant only for its own work");
    return 0;
  }
  const int size = args.get_int("size", 256, 16, 4096);
  const int batch = args.get_int("batch", 1, 1, 1024);
  const int repeats = args.get_int("repeats", 7, 1, 1000);
  const int threads = args.get_int("threads", 0, 0, ThreadPool::kMaxThreads);
  const std::string only = args.get("only", "");
  TINT_CHECK(size % 16 == 0, "--size {} is not a multiple of 16", size);
  std::vector<const cpu::ConvAlgo*> algos;
  std::stringstream names(args.get("variants", "gemm,winograd4,winograd2"));
  for (std::string name; std::getline(names, name, ',');) {
    const cpu::ConvAlgo* a = cpu::find_conv_algo(name);
    TINT_CHECK(a != nullptr, "--variants: unknown cpu conv algorithm '{}'", name);
    algos.push_back(a);
  }
  TINT_CHECK(!algos.empty(), "--variants names no algorithm");

  const bool cpu_time = args.has("cpu-time");
  auto now_ms = [cpu_time] {
    if (!cpu_time)
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
  };
  ThreadPool pool(threads);
  std::printf("size %d, batch %d, %d threads, isa %s, median of %d interleaved rounds, %s\n", size, batch,
              pool.size(), cpu::isa_name(cpu::best_isa()), repeats,
              cpu_time ? "process CPU time" : "wall time");
  std::printf("%-12s %-34s %-15s", "layer", "shape", "product");
  for (const cpu::ConvAlgo* a : algos) std::printf(" %10s ms %6s", a->name, "GF/s");
  std::printf("  %s\n", "time / first");
  using cpu::ConvProduct;
  for (const models::ConvLayer& layer : models::unet_conv_layers(models::UNetConfig{}, batch, size)) {
    const Conv2dShape& s = layer.shape;
    if (layer.transposed || !cpu::winograd_takes(s) || layer.name.find(only) == std::string::npos) continue;
    const std::vector<float> x = random_vec(size_t(s.x_size()), 1), w = random_vec(size_t(s.w_size()), 2);
    const std::vector<float> dy = random_vec(size_t(s.y_size()), 3);
    std::vector<float> out(size_t(std::max({s.x_size(), s.y_size(), s.w_size()})));
    for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight}) {
      const float* a = p == ConvProduct::backward_data ? dy.data() : x.data();
      const float* b = p == ConvProduct::backward_weight ? dy.data() : w.data();
      std::vector<std::vector<double>> ms(algos.size());
      for (int round = 0; round <= repeats; ++round)
        for (size_t i = 0; i < algos.size(); ++i) {
          const double t0 = now_ms();
          cpu::conv_run_with(*algos[i], p, &pool, out.data(), a, b, s);
          const double t = now_ms() - t0;
          if (round > 0) ms[i].push_back(t);  // round 0 warms the scratch buffers and caches
        }
      const tint::ConvProduct cost_p = p == ConvProduct::forward         ? tint::ConvProduct::forward
                                       : p == ConvProduct::backward_data ? tint::ConvProduct::backward_data
                                                                         : tint::ConvProduct::backward_weight;
      const double flops = conv2d_cost(s, cost_p).flops;
      std::printf("%-12s %-34s %-15s", layer.name.c_str(), s.str().c_str(), cpu::product_name(p));
      const double base = median(ms[0]);
      for (size_t i = 0; i < algos.size(); ++i) {
        const double m = median(ms[i]);
        std::printf(" %13.2f %6.0f", m, flops / m * 1e-6);
      }
      std::printf(" ");
      for (size_t i = 1; i < algos.size(); ++i) std::printf(" %.2f", median(ms[i]) / base);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_winograd: %s\n", e.what());
    return 1;
  }
}
