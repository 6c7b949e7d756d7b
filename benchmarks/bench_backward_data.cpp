// Two cpu convolution algorithms (kernels/cpu/conv_algos.h) against each other on one product of every
// U-Net layer, interleaved in one process: round r runs A then B (then A then B ...) on the same buffers, and
// each gets the median of its rounds, so that a load change on a shared machine hits both alike. Made for
// backward-data (gemm's col2im against implicit's stride phases); --product picks another.
//
// A transposed layer's row is the product the role swap runs (make_conv_transpose2d): for backward-data
// that is the up conv's forward. The first conv's backward-data (dx of the network input) is listed too
// though training never asks for it. FLOP counts come from engine/op_cost.h.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/op_cost.h"
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_algos.h"
#include "models/unet.h"
#include "tools/args.h"

using namespace tint;

namespace {

const char* kHelp = R"(usage: bench_backward_data [options]

Times two cpu conv algorithms on one product of every U-Net layer, interleaved (ABAB...) in this process.

  --a NAME          first algorithm (default gemm)
  --b NAME          second algorithm (default implicit)
  --product P       forward, backward-data or backward-weight (default backward-data)
  --size S          image size (default: two runs, 256 at batch 1 and 128 at batch 8)
  --batch N         batch size with --size (default 1)
  --rounds N        interleaved rounds; each side reports the median (default 7)
  --threads N       thread pool size (default: TINT_THREADS or all hardware threads)
  --layer S         only layers whose name contains S
  --json PATH       also write every row as JSON
)";

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? "unknown" : a + " " + b + " " + c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<float> random_vec(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = d(rng);
  return v;
}

const cpu::ConvAlgo& algo_named(const std::string& flag, const std::string& name) {
  const cpu::ConvAlgo* a = cpu::find_conv_algo(name);
  if (!a) {
    std::string valid;
    for (const cpu::ConvAlgo& x : cpu::conv_algos())
      valid += (valid.empty() ? "" : ", ") + std::string(x.name);
    throw Error(
        fmt::format("bench_backward_data: {} {}: no such cpu conv algorithm (valid: {})", flag, name, valid));
  }
  return *a;
}

cpu::ConvProduct product_named(const std::string& name) {
  for (cpu::ConvProduct p :
       {cpu::ConvProduct::forward, cpu::ConvProduct::backward_data, cpu::ConvProduct::backward_weight})
    if (name == cpu::product_name(p)) return p;
  throw Error(fmt::format(
      "bench_backward_data: --product {}: expected forward, backward-data or backward-weight", name));
}

ConvProduct cost_product(cpu::ConvProduct p) {
  switch (p) {
    case cpu::ConvProduct::forward:
      return ConvProduct::forward;
    case cpu::ConvProduct::backward_data:
      return ConvProduct::backward_data;
    case cpu::ConvProduct::backward_weight:
      return ConvProduct::backward_weight;
  }
  return ConvProduct::forward;
}

struct Totals {
  double a_ms = 0, b_ms = 0;
};

// One JSON object per layer and run, collected for --json.
std::vector<std::string> g_json_rows;

void run(ThreadPool& pool, const cpu::ConvAlgo& a, const cpu::ConvAlgo& b, cpu::ConvProduct p, int size,
         int batch, int rounds, const std::string& only) {
  fmt::print("\n{}x{} batch {}, {}: {} (A) against {} (B), {} rounds, load {}\n", size, size, batch,
             cpu::product_name(p), a.name, b.name, rounds, load_average());
  fmt::print("{:<16} {:<36} {:>9} {:>9} {:>8} {:>8} {:>7}\n", "layer", "shape", "A ms", "B ms", "A GF/s",
             "B GF/s", "A/B");
  Totals t;
  for (const models::ConvLayer& l : models::unet_conv_layers(models::UNetConfig{}, batch, size)) {
    if (!only.empty() && l.name.find(only) == std::string::npos) continue;
    const Conv2dShape& s = l.shape;
    // out = f(in1, in2): forward (y; x, w), backward-data (dx; dy, w), backward-weight (dw; x, dy).
    const int64_t out_n = p == cpu::ConvProduct::forward         ? s.y_size()
                          : p == cpu::ConvProduct::backward_data ? s.x_size()
                                                                 : s.w_size();
    const int64_t in1_n = p == cpu::ConvProduct::backward_data ? s.y_size() : s.x_size();
    const int64_t in2_n = p == cpu::ConvProduct::backward_weight ? s.y_size() : s.w_size();
    const std::vector<float> in1 = random_vec(in1_n, 1), in2 = random_vec(in2_n, 2);
    std::vector<float> out(static_cast<size_t>(out_n));
    std::vector<double> ta, tb;
    auto time_one = [&](const cpu::ConvAlgo& algo) {
      const auto t0 = std::chrono::steady_clock::now();
      cpu::conv_run_with(algo, p, &pool, out.data(), in1.data(), in2.data(), s);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    time_one(a), time_one(b);  // warm-up: grows the thread-local scratch, faults the pages in
    for (int r = 0; r < rounds; ++r) {
      ta.push_back(time_one(a));
      tb.push_back(time_one(b));
    }
    const double ma = median(ta), mb = median(tb);
    const double flops = conv2d_cost(s, cost_product(p)).flops;
    t.a_ms += ma * 1e3, t.b_ms += mb * 1e3;
    g_json_rows.push_back(fmt::format(
        R"({{"size": {}, "batch": {}, "product": "{}", "layer": "{}", "shape": "{}", "a": "{}", "b": "{}", )"
        R"("a_ms": {:.4f}, "b_ms": {:.4f}, "gflop": {:.4f}}})",
        size, batch, cpu::product_name(p), l.name, s.str(), a.name, b.name, ma * 1e3, mb * 1e3,
        flops * 1e-9));
    fmt::print("{:<16} {:<36} {:>9.3f} {:>9.3f} {:>8.1f} {:>8.1f} {:>7.2f}{}\n", l.name, s.str(), ma * 1e3,
               mb * 1e3, flops / ma * 1e-9, flops / mb * 1e-9, ma / mb,
               cpu::algo_takes(b, s, p) ? "" : "  (B falls back to gemm)");
  }
  fmt::print("{:<16} {:<36} {:>9.3f} {:>9.3f} {:>8} {:>8} {:>7.2f}   load after {}\n", "all layers", "",
             t.a_ms, t.b_ms, "", "", t.a_ms / t.b_ms, load_average());
}

}  // namespace

int main(int argc, char** argv) try {
  const cli::Args args(
      argc, argv,
      cli::Options{{},
                   {"a", "b", "product", "size", "batch", "rounds", "threads", "layer", "json"},
                   0,
                   "bench_backward_data"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const cpu::ConvAlgo& a = algo_named("--a", args.get("a", "gemm"));
  const cpu::ConvAlgo& b = algo_named("--b", args.get("b", "implicit"));
  const cpu::ConvProduct p = product_named(args.get("product", "backward-data"));
  const int rounds = args.get_int("rounds", 7, 1, 1000);
  const int threads = args.get_int("threads", 0, 0, 256);
  const std::string only = args.get("layer", "");
  // Opened before the long run, so that a bad path fails at once.
  std::ofstream json;
  if (args.has("json")) {
    json.open(args.get("json", ""));
    TINT_CHECK(json.good(), "bench_backward_data: --json {}: cannot write the file", args.get("json", ""));
  }
  ThreadPool pool(threads);
  fmt::print("bench_backward_data: {} threads, micro-kernel {}\n", pool.size(),
             cpu::isa_name(cpu::best_isa()));
  if (args.has("size")) {
    run(pool, a, b, p, args.get_int("size", 256, 16, 4096), args.get_int("batch", 1, 1, 1024), rounds, only);
  } else {
    run(pool, a, b, p, 256, 1, rounds, only);
    run(pool, a, b, p, 128, 8, rounds, only);
  }
  if (args.has("json")) {
    const std::string path = args.get("json", "");
    std::ofstream& f = json;
    f << "{\"threads\": " << pool.size() << ", \"isa\": \"" << cpu::isa_name(cpu::best_isa())
      << "\", \"rows\": [\n";
    for (size_t i = 0; i < g_json_rows.size(); ++i)
      f << "  " << g_json_rows[i] << (i + 1 < g_json_rows.size() ? ",\n" : "\n");
    f << "]}\n";
    TINT_CHECK(f.good(), "bench_backward_data: --json {}: write failed", path);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
