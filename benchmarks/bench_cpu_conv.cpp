// Benchmark of the `cpu` backend's convolutions on every U-Net layer shape (the op registry's U-Net conv
// cases, models/unet_cases.h): forward, backward-data and backward-weight (the case's three launches), under
// each of the named algorithms asked for (kernels/cpu/conv_algos.h), against the machine's fp32 FMA peak
// measured in the same run, the `cpu-ref` oracle and, with --peer PYTHON, PyTorch on the same shapes.
// Prints a table, writes JSON with --json.
//
// Timing: the variants of one product are run interleaved (A B A B ...) after one warm-up each (which also
// grows the kernels' thread-local scratch), and each variant's median is reported, so that a load that
// changes during the run (this is a shared machine) weighs on every variant alike. The reference is far
// too slow for full shapes: it is timed once on the same layers of a 32x32-input U-Net at batch 1 (same
// channels, 1/64 of the pixels), and the speed-up is the ratio of GFLOP/s. Peak: an AVX-512 (or AVX2) loop
// of independent FMAs on the whole pool, at the start and at the end; the higher one is the denominator.
// The load average is read at the start and the end, and printed: a figure taken under load says so.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
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
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cpu/gemm_micro.h"
#include "models/unet_cases.h"
#include "tools/args.h"

using namespace tint;

namespace {

const char* kOps[3] = {"forward", "backward-data", "backward-weight"};

const char* kUsage = R"(bench_cpu_conv: the cpu backend's convolutions on the U-Net's layer shapes (fp32).

  --batches LIST    comma-separated batch sizes, each 1..64 (default 1,8)
  --size N          the U-Net's input size in pixels, 32..1024, a multiple of 32 (default 256)
  --variants LIST   comma-separated cpu conv variants to time side by side, interleaved in one run
                    (default auto; the names: tint op --list, or kernels/cpu/conv_algos.h)
  --repeats N       timed runs per variant and product, 1..1000; the median is reported (default 5)
  --threads N       thread pool size, 0..256 (default 0: all hardware threads, or TINT_THREADS)
  --layer S         only layers whose name contains S
  --quick           batch 1 and 2 repeats unless given
  --peer PYTHON     also time PyTorch with this interpreter (benchmarks/peers/torch_conv_cpu.py, same
                    threads); skipped with a note when it cannot import torch
  --no-ref          skip the cpu-ref column (it takes a while on the big layers)
  --json PATH       also write the results as JSON
  --help            this text

Columns: ms (median), GFLOP/s, % of the FMA peak measured in this run, x ref (speed over cpu-ref),
torch ms and x torch (PyTorch's time over this variant's: above 1, tint is faster).
)";

struct Options {
  std::vector<int> batches = {1, 8};
  std::vector<std::string> variants = {"auto"};
  int size = 256;
  int repeats = 5;
  int threads = 0;
  bool ref = true;
  std::string json, only, peer;
};

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  const cli::Args args(argc, argv,
                       cli::Options{{"quick", "no-ref"},
                                    {"batches", "size", "variants", "repeats", "threads", "layer", "peer",
                                     "json"},
                                    0,
                                    "bench_cpu_conv"});
  if (args.help()) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  Options o;
  const bool quick = args.has("quick");
  if (args.has("batches") || quick) {
    o.batches.clear();
    const std::string list = args.get("batches", "1");
    for (const std::string& item : split_list(list)) {
      char* end = nullptr;
      const long v = std::strtol(item.c_str(), &end, 10);
      TINT_CHECK(!item.empty() && *end == '\0' && v >= 1 && v <= 64,
                 "--batches '{}': '{}' is not a batch size (each a whole number, 1..64)", list, item);
      o.batches.push_back(int(v));
    }
    TINT_CHECK(!o.batches.empty(), "--batches: the list is empty");
  }
  if (args.has("variants")) {
    o.variants = split_list(args.get("variants", ""));
    TINT_CHECK(!o.variants.empty(), "--variants: the list is empty");
    const std::vector<std::string> valid = cpu::conv_variants();
    for (const std::string& v : o.variants)
      if (std::find(valid.begin(), valid.end(), v) == valid.end()) {
        std::string names;
        for (const std::string& n : valid) names += (names.empty() ? "" : ", ") + n;
        throw Error(fmt::format("--variants: unknown cpu conv variant '{}' (valid: {})", v, names));
      }
  }
  o.size = args.get_int("size", 256, 32, 1024);
  TINT_CHECK(o.size % 32 == 0, "--size {}: must be a multiple of 32 (the U-Net halves it at each level)",
             o.size);
  o.repeats = args.get_int("repeats", quick ? 2 : 5, 1, 1000);
  o.threads = args.get_int("threads", 0, 0, 256);
  o.ref = !args.has("no-ref");
  o.only = args.get("layer", "");
  o.peer = args.get("peer", "");
  TINT_CHECK(!args.has("peer") || !o.peer.empty(), "--peer: needs the path of a Python interpreter");
  o.json = args.get("json", "");
  return o;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

std::array<double, 3> loadavg() {
  std::array<double, 3> l = {NAN, NAN, NAN};
  std::ifstream f("/proc/loadavg");
  f >> l[0] >> l[1] >> l[2];
  return l;
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out + "\"";
}

std::string json_number(double v, int decimals = 4) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "null";
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

// GFLOP/s of `threads` threads each running the FMA loop at once; the best of three.
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
  (void)threads;
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
  int op;  // index into kOps
  std::string shape;
  double gflop;
  std::vector<double> ms;  // per variant
  double ref_gflops, torch_ms;
};

struct Peer {
  std::map<std::string, double> ms;  // (layer, batch, op) -> milliseconds
  std::string note;                  // what ran (torch version, layout) or why it was skipped
};

std::string peer_key(const std::string& layer, int batch, const std::string& op) {
  return fmt::format("{}|{}|{}", layer, batch, op);
}

std::filesystem::path peer_script() {
  for (std::filesystem::path p :
       {std::filesystem::path("benchmarks/peers/torch_conv_cpu.py"),
        std::filesystem::path(TINT_SOURCE_DIR) / "benchmarks/peers/torch_conv_cpu.py"})
    if (std::filesystem::exists(p)) return p;
  return {};
}

// Runs the PyTorch peer on the layers; its times are empty (and the note says why) when it cannot run.
Peer run_peer(const std::string& python, const std::vector<OpCase>& layers, int threads, int repeats,
              const std::string& json_path) {
  Peer peer;
  if (std::system(fmt::format("{} -c 'import torch' >/dev/null 2>&1", shell_quote(python)).c_str()) != 0) {
    peer.note = fmt::format("skipped: '{}' cannot import torch", python);
    return peer;
  }
  const std::filesystem::path script = peer_script();
  if (script.empty()) {
    peer.note = "skipped: benchmarks/peers/torch_conv_cpu.py not found";
    return peer;
  }
  const std::filesystem::path shapes = std::filesystem::temp_directory_path() /
                                       fmt::format("tint_bench_cpu_conv_shapes_{}.txt", long(::getpid()));
  {
    std::ofstream f(shapes);
    f << "# name transposed n c_in h_in w_in c_out h_out w_out kh kw stride_h stride_w pad_h pad_w\n";
    for (const auto& l : layers) {
      bool transposed = false;
      const Conv2dShape s = conv_shape_of(l, &transposed);
      f << fmt::format("{} {} {} {} {} {} {} {} {} {} {} {} {} {} {}\n", l.label, int(transposed), s.n,
                       s.c_in, s.h_in, s.w_in, s.c_out, s.h_out, s.w_out, s.kh, s.kw, s.stride_h, s.stride_w,
                       s.pad_h, s.pad_w);
    }
  }
  const std::string cmd = fmt::format("{} {} --shapes {} --threads {} --repeats {}{}", shell_quote(python),
                                      shell_quote(script.string()), shell_quote(shapes.string()), threads,
                                      repeats, json_path.empty() ? "" : " --json " + shell_quote(json_path));
  fmt::print("Running the PyTorch peer: {}\n", cmd);
  std::fflush(stdout);
  FILE* p = popen(cmd.c_str(), "r");
  TINT_CHECK(p != nullptr, "bench_cpu_conv: cannot run {}", cmd);
  char line[512];
  std::string torch_version = "?", layout = "?";
  while (std::fgets(line, sizeof line, p)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "RESULT") {
      std::string name, op;
      int batch = 0;
      double value = 0;
      if (in >> name >> batch >> op >> value) peer.ms[peer_key(name, batch, op)] = value;
    } else if (tag == "TORCH") {
      in >> torch_version;
    } else if (tag == "LAYOUT") {
      std::getline(in >> std::ws, layout);
    }
  }
  const int status = pclose(p);
  std::filesystem::remove(shapes);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  peer.note = fmt::format("torch {}, {} threads, layout {}", torch_version, threads, layout);
  if (rc != 0) peer.note += fmt::format(" (the peer exited with status {}: its results may be partial)", rc);
  return peer;
}

// Sums over rows: seconds per variant, the peer's seconds and the FLOPs (only rows the peer timed count
// towards its ratio, so that a partial peer run compares like with like).
struct Total {
  std::vector<double> ms, ms_where_torch;  // per variant
  double torch_ms = 0, gflop = 0;
};

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  ThreadPool pool(opt.threads);
  Stream st;
  st.pool = &pool;
  const Backend& fast = cpu_backend();
  const Backend& ref = cpu_reference_backend();
  const size_t nv = opt.variants.size();

  const std::array<double, 3> load_start = loadavg();
  const double peak_start = measure_peak(pool.size());
  fmt::print("bench_cpu_conv: fp32, {} threads, {}, micro-kernel {}, {} hardware threads\n", pool.size(),
             cpu_model(), cpu::isa_name(cpu::best_isa()), std::thread::hardware_concurrency());
  fmt::print("load average at the start: {:.2f} {:.2f} {:.2f}\n", load_start[0], load_start[1],
             load_start[2]);
  fmt::print("measured FMA peak at the start: {:.1f} GFLOP/s on {} threads\n", peak_start, pool.size());
  std::string variant_list;
  for (const std::string& v : opt.variants) variant_list += (variant_list.empty() ? "" : ", ") + v;
  fmt::print("U-Net input {}x{}; variants (interleaved): {}\n\n", opt.size, opt.size, variant_list);
  std::fflush(stdout);

  // The reference, once, on the layers of a 32x32-input U-Net at batch 1 (see the top of this file).
  std::map<std::string, double> ref_gflops;
  const models::UNetConfig unet;
  if (opt.ref)
    for (const OpCase& layer : models::unet_conv_cases(unet, 32, 1)) {
      if (!opt.only.empty() && layer.label.find(opt.only) == std::string::npos) continue;
      auto run = prepare(ref, Stream{}, layer);
      for (size_t op = 0; op < 3; ++op) {
        const double t0 = now();
        run->launch(op);
        ref_gflops[layer.label + "|" + kOps[op]] =
            layer.op->launches[op].cost(layer.dims).flops / (now() - t0) / 1e9;
      }
    }

  std::vector<Row> rows;
  Peer peer;
  for (int batch : opt.batches) {
    std::vector<OpCase> layers;
    for (const OpCase& l : models::unet_conv_cases(unet, opt.size, batch))
      if (opt.only.empty() || l.label.find(opt.only) != std::string::npos) layers.push_back(l);
    TINT_CHECK(!layers.empty(), "--layer '{}': no U-Net layer's name contains it", opt.only);
    for (const OpCase& layer : layers) {
      auto run = prepare(fast, st, layer);
      for (size_t op = 0; op < 3; ++op) {
        std::vector<std::vector<double>> times(nv);
        for (size_t v = 0; v < nv; ++v) {  // warm-up: each variant's scratch grows to this shape
          cpu::set_conv_variant(opt.variants[v]);
          run->launch(op);
        }
        for (int rep = 0; rep < opt.repeats; ++rep)
          for (size_t v = 0; v < nv; ++v) {
            cpu::set_conv_variant(opt.variants[v]);
            const double t0 = now();
            run->launch(op);
            times[v].push_back(now() - t0);
          }
        Row r{layer.label,
              batch,
              int(op),
              conv_shape_of(layer).str(),
              layer.op->launches[op].cost(layer.dims).flops / 1e9,
              {},
              NAN,
              NAN};
        for (size_t v = 0; v < nv; ++v) r.ms.push_back(median(times[v]) * 1e3);
        auto ref_it = ref_gflops.find(layer.label + "|" + kOps[op]);
        if (ref_it != ref_gflops.end()) r.ref_gflops = ref_it->second;
        rows.push_back(r);
      }
    }
    if (!opt.peer.empty()) {
      const std::string torch_json =
          opt.json.empty() ? "" : fmt::format("{}.torch_batch{}.json", opt.json, batch);
      Peer p = run_peer(opt.peer, layers, pool.size(), opt.repeats, torch_json);
      peer.ms.insert(p.ms.begin(), p.ms.end());
      peer.note = p.note;
    }
  }
  cpu::set_conv_variant(cpu::conv_default_variant);
  for (auto& r : rows) {
    auto it = peer.ms.find(peer_key(r.layer, r.batch, kOps[r.op]));
    if (it != peer.ms.end()) r.torch_ms = it->second;
  }
  const double peak_end = measure_peak(pool.size());
  const std::array<double, 3> load_end = loadavg();
  const double peak = std::max(peak_start, peak_end);
  auto share = [&](double gflops) { return peak > 0 ? 100 * gflops / peak : NAN; };

  // ---- table: one line per layer, product and variant ----
  fmt::print("\n{:<16} {:>2} {:<15} {:<8} {:>8} {:>9} {:>8} {:>6} {:>7} {:>9} {:>7}\n", "layer", "n", "op",
             "variant", "GFLOP", "ms", "GFLOP/s", "%peak", "x ref", "torch ms", "x torch");
  std::map<std::pair<int, int>, Total> totals;  // (batch, op or 3 for all) -> sums
  for (const auto& r : rows) {
    for (size_t v = 0; v < nv; ++v) {
      const double gflops = r.gflop / r.ms[v] * 1e3;
      fmt::print(
          "{:<16} {:>2} {:<15} {:<8} {:>8.3f} {:>9.2f} {:>8.1f} {:>5.1f}% {:>7.0f} {:>9.2f} {:>7.2f}\n",
          v == 0 ? r.layer : "", r.batch, kOps[r.op], opt.variants[v], r.gflop, r.ms[v], gflops,
          share(gflops), gflops / r.ref_gflops, r.torch_ms, r.torch_ms / r.ms[v]);
    }
    for (int key : {r.op, 3}) {
      Total& t = totals[{r.batch, key}];
      t.ms.resize(nv, 0.0);
      t.ms_where_torch.resize(nv, 0.0);
      t.gflop += r.gflop;
      if (!std::isnan(r.torch_ms)) t.torch_ms += r.torch_ms;
      for (size_t v = 0; v < nv; ++v) {
        t.ms[v] += r.ms[v];
        if (!std::isnan(r.torch_ms)) t.ms_where_torch[v] += r.ms[v];
      }
    }
  }

  fmt::print("\nTotals (x torch: PyTorch's time over the variant's on the products both timed)\n");
  fmt::print("{:>2} {:<15} {:<8} {:>9} {:>8} {:>6} {:>9} {:>8} {:>7}\n", "n", "products", "variant", "ms",
             "GFLOP/s", "%peak", "torch ms", "GFLOP/s", "x torch");
  for (const auto& [key, t] : totals) {
    const bool all = key.second == 3;
    for (size_t v = 0; v < nv; ++v) {
      const double gflops = t.gflop / t.ms[v] * 1e3;
      const bool with_torch = t.torch_ms > 0;
      fmt::print("{:>2} {:<15} {:<8} {:>9.1f} {:>8.1f} {:>5.1f}% {:>9} {:>8} {:>7}\n", key.first,
                 all ? "all" : kOps[key.second], opt.variants[v], t.ms[v], gflops, share(gflops),
                 with_torch ? fmt::format("{:.1f}", t.torch_ms) : "-",
                 with_torch ? fmt::format("{:.1f}", t.gflop / t.torch_ms * 1e3) : "-",
                 with_torch ? fmt::format("{:.2f}", t.torch_ms / t.ms_where_torch[v]) : "-");
    }
  }
  fmt::print("\nmeasured FMA peak: {:.1f} GFLOP/s at the start, {:.1f} at the end (the higher is 100%)\n",
             peak_start, peak_end);
  fmt::print("load average: {:.2f} {:.2f} {:.2f} at the start, {:.2f} {:.2f} {:.2f} at the end\n",
             load_start[0], load_start[1], load_start[2], load_end[0], load_end[1], load_end[2]);
  if (!opt.peer.empty()) fmt::print("PyTorch peer: {}\n", peer.note);

  if (!opt.json.empty()) {
    std::ofstream f(opt.json);
    TINT_CHECK(f.good(), "bench_cpu_conv: cannot write {}", opt.json);
    std::string variants_json;
    for (const std::string& v : opt.variants)
      variants_json += (variants_json.empty() ? "" : ", ") + json_string(v);
    f << "{\n";
    f << fmt::format(
        " \"benchmark\": \"bench_cpu_conv\", \"precision\": \"fp32\", \"threads\": {}, \"isa\": \"{}\",\n"
        " \"cpu\": {}, \"variants\": [{}], \"repeats\": {}, \"timing\": \"variants interleaved, median\",\n"
        " \"peak_gflops_start\": {:.2f}, \"peak_gflops_end\": {:.2f}, \"peak_gflops\": {:.2f},\n"
        " \"loadavg_start\": [{:.2f}, {:.2f}, {:.2f}], \"loadavg_end\": [{:.2f}, {:.2f}, {:.2f}],\n"
        " \"peer\": {},\n"
        " \"reference_note\": \"cpu-ref timed once on the 32x32-input U-Net at batch 1\",\n"
        " \"results\": [\n",
        pool.size(), cpu::isa_name(cpu::best_isa()), json_string(cpu_model()), variants_json, opt.repeats,
        peak_start, peak_end, peak, load_start[0], load_start[1], load_start[2], load_end[0], load_end[1],
        load_end[2], json_string(opt.peer.empty() ? "not asked" : peer.note));
    bool first = true;
    for (const Row& r : rows)
      for (size_t v = 0; v < nv; ++v) {
        const double gflops = r.gflop / r.ms[v] * 1e3;
        f << fmt::format(
            "{}  {{\"layer\": \"{}\", \"batch\": {}, \"op\": \"{}\", \"variant\": \"{}\", "
            "\"shape\": \"{}\", \"gflop\": {:.6f}, \"ms\": {:.4f}, \"gflops\": {:.2f}, "
            "\"peak_share\": {}, \"ref_gflops\": {}, \"torch_ms\": {}, \"vs_torch\": {}}}",
            first ? "" : ",\n", r.layer, r.batch, kOps[r.op], opt.variants[v], r.shape, r.gflop, r.ms[v],
            gflops, json_number(share(gflops) / 100), json_number(r.ref_gflops), json_number(r.torch_ms),
            json_number(r.torch_ms / r.ms[v]));
        first = false;
      }
    f << "\n ],\n \"totals\": [\n";
    first = true;
    for (const auto& [key, t] : totals)
      for (size_t v = 0; v < nv; ++v) {
        const double gflops = t.gflop / t.ms[v] * 1e3;
        f << fmt::format(
            "{}  {{\"batch\": {}, \"products\": \"{}\", \"variant\": \"{}\", \"ms\": {:.3f}, "
            "\"gflops\": {:.2f}, \"peak_share\": {}, \"torch_ms\": {}, \"vs_torch\": {}}}",
            first ? "" : ",\n", key.first, key.second == 3 ? "all" : kOps[key.second], opt.variants[v],
            t.ms[v], gflops, json_number(share(gflops) / 100),
            t.torch_ms > 0 ? json_number(t.torch_ms, 3) : "null",
            t.torch_ms > 0 ? json_number(t.torch_ms / t.ms_where_torch[v]) : "null");
        first = false;
      }
    f << "\n ]\n}\n";
    fmt::print("wrote {}\n", opt.json);
  }
  return 0;
} catch (const std::exception& e) {
  const std::string what = e.what();  // the option parser's errors already name the program
  std::fprintf(stderr, "%s%s\n",
               what.rfind("bench_cpu_conv:", 0) == 0 ? "" : "bench_cpu_conv: ", what.c_str());
  return 1;
}
