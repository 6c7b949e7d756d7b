// Benchmark of the `cpu` backend's convolutions on every U-Net layer shape (the op registry's U-Net conv
// cases, models/unet_cases.h): forward, backward-data and backward-weight (the case's three launches), against the machine's measured fp32 FMA peak, the `cpu-ref` oracle and (when the
// system python has torch) PyTorch on the same shapes. Prints a table, writes JSON with --json.
//
// Timing: median of --repeats runs after one warm-up run (which also grows the kernels' thread-local
// scratch). The reference is far too slow for full shapes: it is timed once on the same layers of a
// 32x32-input U-Net at batch 1 (same channels, 1/64 of the pixels), and the speed-up is the ratio of
// GFLOP/s. Peak: an AVX-512 (or AVX2) loop of independent FMAs, per core and on the whole pool.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <fmt/format.h>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/op_registry.h"
#include "kernels/cpu/gemm_micro.h"
#include "engine/thread_pool.h"
#include "models/unet_cases.h"

using namespace tint;

namespace {

const char* kOps[3] = {"forward", "backward-data", "backward-weight"};

struct Options {
  std::vector<int> batches = {1, 8};
  int repeats = 5;
  bool quick = false;
  bool torch = true;
  int threads = 0;
  std::string json;
  std::string only;  // a substring of layer names
};

void usage() {
  std::puts(
      "bench_cpu_conv: the cpu backend's convolutions on the U-Net's layer shapes (fp32).\n"
      "  --batch N      batch size (repeatable; default: 1 and 8)\n"
      "  --quick        batch 1 only, 2 repeats, no PyTorch peer unless --torch\n"
      "  --repeats N    timed runs per measurement (median reported; default 5)\n"
      "  --threads N    thread pool size (default: all hardware threads, or TINT_THREADS)\n"
      "  --layer S      only layers whose name contains S\n"
      "  --no-torch     skip the PyTorch peer (benchmarks/peers/torch_conv_cpu.py)\n"
      "  --torch        run the PyTorch peer even with --quick\n"
      "  --json PATH    also write the results as JSON\n"
      "  --help         this text");
}

Options parse(int argc, char** argv) {
  Options o;
  bool batch_given = false, torch_forced = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      TINT_CHECK(i + 1 < argc, "bench_cpu_conv: {} needs a value", a);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--batch") {
      if (!batch_given) o.batches.clear();
      batch_given = true;
      o.batches.push_back(std::stoi(value()));
      TINT_CHECK(o.batches.back() > 0, "bench_cpu_conv: --batch must be positive");
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--repeats") {
      o.repeats = std::max(1, std::stoi(value()));
    } else if (a == "--threads") {
      o.threads = std::stoi(value());
    } else if (a == "--layer") {
      o.only = value();
    } else if (a == "--no-torch") {
      o.torch = false;
    } else if (a == "--torch") {
      torch_forced = true;
    } else if (a == "--json") {
      o.json = value();
    } else {
      throw Error(fmt::format("bench_cpu_conv: unknown argument '{}' (see --help)", a));
    }
  }
  if (o.quick) {
    if (!batch_given) o.batches = {1};
    o.repeats = std::min(o.repeats, 2);
    if (!torch_forced) o.torch = false;
  }
  return o;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median_seconds(const std::function<void()>& fn, int repeats, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = now();
    fn();
    t.push_back(now() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// ---- peak: independent FMA chains, enough of them to cover the FMA latency on two ports ----------------

#if defined(__x86_64__)
__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k)
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return double(out[0]) + iters * 16.0 * 16 * 2;  // flops, with the value kept alive
}
__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return double(out[0]) + iters * 12.0 * 8 * 2;
}
#endif

// GFLOP/s of `threads` threads each running the FMA loop at once.
double measure_peak(int threads) {
#if defined(__x86_64__)
  const cpu::Isa isa = cpu::best_isa();
  if (isa == cpu::Isa::generic) return 0;
  const int64_t iters = 20'000'000;
  auto one = [&] { return isa == cpu::Isa::avx512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters); };
  one();  // warm the clocks up
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> pool;
    std::vector<double> flops(static_cast<size_t>(threads), 0.0);
    const double t0 = now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { flops[size_t(t)] = one(); });
    for (auto& th : pool) th.join();
    const double dt = now() - t0;
    double total = 0;
    for (double f : flops) total += std::floor(f / 1e6) * 1e6;  // drop the kept-alive value
    best = std::max(best, total / dt / 1e9);
  }
  return best;
#else
  return 0;
#endif
}

// ---- one layer's three products --------------------------------------------------------------------
// The case's launches in order: forward, backward-data, backward-weight. For a transposed layer the
// registry runs the role-swapped products (make_conv_transpose2d), so the rows mean the layer's own passes.

std::unique_ptr<OpRun> prepare(const Backend& be, const Stream& st, const OpCase& c) {
  auto run = std::make_unique<OpRun>(be, *c.op, c.dims, make_op_inputs(*c.op, c.dims, 1), st);
  run->reset();
  return run;
}

struct Row {
  std::string layer;
  int batch;
  std::string op;
  std::string shape;
  double gflop, ms, gflops, ref_gflops, torch_ms;
};

// Runs the PyTorch peer on the layers; returns (layer, batch, op) -> milliseconds, empty when unavailable.
std::map<std::string, double> run_torch(const std::vector<OpCase>& layers, int threads, int repeats,
                                        const std::string& json_path) {
  std::map<std::string, double> ms;
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    std::puts("PyTorch peer skipped: /usr/bin/python3 cannot import torch.");
    return ms;
  }
  const std::filesystem::path script = std::filesystem::path(__FILE__).parent_path() / "peers" / "torch_conv_cpu.py";
  if (!std::filesystem::exists(script)) {
    fmt::print("PyTorch peer skipped: {} not found.\n", script.string());
    return ms;
  }
  const std::filesystem::path shapes = std::filesystem::temp_directory_path() /
                                       fmt::format("tint_bench_cpu_conv_shapes_{}.txt", long(::getpid()));
  {
    std::ofstream f(shapes);
    f << "# name transposed n c_in h_in w_in c_out h_out w_out kh kw stride_h stride_w pad_h pad_w\n";
    for (const auto& l : layers) {
      bool transposed = false;
      const Conv2dShape s = conv_shape_of(l, &transposed);
      f << fmt::format("{} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n", l.label, int(transposed), s.n, s.c_in,
                       s.h_in, s.w_in, s.c_out, s.h_out, s.w_out, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_h,
                       s.pad_w);
    }
  }
  const std::string cmd =
      fmt::format("/usr/bin/python3 '{}' --shapes '{}' --threads {} --repeats {}{}", script.string(),
                  shapes.string(), threads, repeats, json_path.empty() ? "" : " --json '" + json_path + "'");
  fmt::print("Running the PyTorch peer: {}\n", cmd);
  std::fflush(stdout);
  FILE* p = popen(cmd.c_str(), "r");
  TINT_CHECK(p != nullptr, "bench_cpu_conv: cannot run {}", cmd);
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    std::istringstream in(line);
    std::string tag, name, op;
    int batch = 0;
    double value = 0;
    if (in >> tag >> name >> batch >> op >> value && tag == "RESULT") ms[fmt::format("{}|{}|{}", name, batch, op)] = value;
  }
  const int rc = pclose(p);
  if (rc != 0) fmt::print("PyTorch peer exited with status {}; its results may be partial.\n", rc);
  std::filesystem::remove(shapes);
  return ms;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  ThreadPool pool(opt.threads);
  Stream st;
  st.pool = &pool;
  const Backend& fast = cpu_backend();
  const Backend& ref = cpu_reference_backend();

  const double peak1 = measure_peak(1), peak_all = measure_peak(pool.size());
  fmt::print("bench_cpu_conv: fp32, {} threads, micro-kernel {}, {} cores reported\n", pool.size(),
             cpu::isa_name(cpu::best_isa()), std::thread::hardware_concurrency());
  fmt::print("measured FMA peak: {:.1f} GFLOP/s on one core, {:.1f} GFLOP/s on {} threads\n\n", peak1, peak_all,
             pool.size());

  // The reference, once, on the layers of a 32x32-input U-Net at batch 1 (see the top of this file).
  std::map<std::string, double> ref_gflops;
  const models::UNetConfig unet;
  for (const OpCase& layer : models::unet_conv_cases(unet, 32, 1)) {
    if (!opt.only.empty() && layer.label.find(opt.only) == std::string::npos) continue;
    auto run = prepare(ref, Stream{}, layer);
    for (int op = 0; op < 3; ++op) {
      const double t = median_seconds([&] { run->launch(size_t(op)); }, 1, 0);
      ref_gflops[layer.label + "|" + kOps[op]] = layer.op->launches[size_t(op)].cost(layer.dims).flops / t / 1e9;
    }
  }

  std::vector<Row> rows;
  std::map<std::string, double> torch_ms;
  for (int batch : opt.batches) {
    std::vector<OpCase> layers;
    for (const OpCase& l : models::unet_conv_cases(unet, 256, batch))
      if (opt.only.empty() || l.label.find(opt.only) != std::string::npos) layers.push_back(l);
    for (const OpCase& layer : layers) {
      auto run = prepare(fast, st, layer);
      for (int op = 0; op < 3; ++op) {
        const double t = median_seconds([&] { run->launch(size_t(op)); }, opt.repeats);
        const double gflop = layer.op->launches[size_t(op)].cost(layer.dims).flops / 1e9;
        rows.push_back({layer.label, batch, kOps[op], conv_shape_of(layer).str(), gflop, t * 1e3, gflop / t,
                        ref_gflops[layer.label + "|" + kOps[op]], NAN});
      }
    }
    if (opt.torch) {
      const std::string torch_json =
          opt.json.empty() ? "" : fmt::format("{}.torch_batch{}.json", opt.json, batch);
      for (auto& [k, v] : run_torch(layers, pool.size(), opt.repeats, torch_json)) torch_ms[k] = v;
    }
  }
  for (auto& r : rows) {
    auto it = torch_ms.find(fmt::format("{}|{}|{}", r.layer, r.batch, r.op));
    if (it != torch_ms.end()) r.torch_ms = it->second;
  }

  // ---- table ----
  fmt::print("\n{:<16} {:>2} {:<15} {:>8} {:>9} {:>8} {:>6} {:>8} {:>9} {:>7}\n", "layer", "n", "op", "GFLOP",
             "ms", "GFLOP/s", "%peak", "x ref", "torch ms", "x torch");
  std::map<int, std::array<double, 3>> totals;  // batch -> (our seconds, torch seconds, flops)
  for (const auto& r : rows) {
    const double vs_torch = std::isnan(r.torch_ms) ? NAN : r.torch_ms / r.ms;
    fmt::print("{:<16} {:>2} {:<15} {:>8.3f} {:>9.2f} {:>8.1f} {:>5.1f}% {:>8.0f} {:>9.2f} {:>7.2f}\n", r.layer,
               r.batch, r.op, r.gflop, r.ms, r.gflops, peak_all > 0 ? 100 * r.gflops / peak_all : NAN,
               r.gflops / r.ref_gflops, r.torch_ms, vs_torch);
    auto& t = totals[r.batch];
    t[0] += r.ms, t[1] += std::isnan(r.torch_ms) ? 0 : r.torch_ms, t[2] += r.gflop;
  }
  for (const auto& [batch, t] : totals)
    fmt::print("\nbatch {}: all convolutions of one step (forward + both backwards): {:.1f} ms, {:.1f} GFLOP/s"
               "{}\n",
               batch, t[0], t[2] / t[0] * 1e3,
               t[1] > 0 ? fmt::format("; PyTorch {:.1f} ms, {:.1f} GFLOP/s, ratio {:.2f}x", t[1],
                                      t[2] / t[1] * 1e3, t[1] / t[0])
                        : "");

  if (!opt.json.empty()) {
    std::ofstream f(opt.json);
    TINT_CHECK(f.good(), "bench_cpu_conv: cannot write {}", opt.json);
    f << "{\n";
    f << fmt::format(" \"benchmark\": \"bench_cpu_conv\", \"precision\": \"fp32\", \"threads\": {}, "
                     "\"isa\": \"{}\",\n \"peak_gflops_one_core\": {:.2f}, \"peak_gflops_all\": {:.2f},\n"
                     " \"reference_note\": \"cpu-ref timed once on the 32x32-input U-Net at batch 1\",\n"
                     " \"results\": [\n",
                     pool.size(), cpu::isa_name(cpu::best_isa()), peak1, peak_all);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      f << fmt::format("  {{\"layer\": \"{}\", \"batch\": {}, \"op\": \"{}\", \"shape\": \"{}\", \"gflop\": {:.6f}, "
                       "\"ms\": {:.4f}, \"gflops\": {:.2f}, \"peak_share\": {:.4f}, \"ref_gflops\": {:.4f}, "
                       "\"speedup_vs_ref\": {:.1f}, \"torch_ms\": {}}}{}\n",
                       r.layer, r.batch, r.op, r.shape, r.gflop, r.ms, r.gflops,
                       peak_all > 0 ? r.gflops / peak_all : 0.0, r.ref_gflops, r.gflops / r.ref_gflops,
                       std::isnan(r.torch_ms) ? std::string("null") : fmt::format("{:.4f}", r.torch_ms),
                       i + 1 < rows.size() ? "," : "");
    }
    f << " ]\n}\n";
    fmt::print("wrote {}\n", opt.json);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cpu_conv: %s\n", e.what());
  return 1;
}
