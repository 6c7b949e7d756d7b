// `tint bench`: the colorizer's training step at batch 1 against batch 8, split into its phases, with the
// same step in PyTorch timed in the same invocation (benchmarks/peers/torch_unet_step.py).
//
// The data comes through the real threaded loader, so "data wait" is what training would wait. Each phase
// ends with a device synchronisation, so that a GPU's asynchronous work is charged to the phase that queued
// it; the step time is the sum of the phases. Medians over --steps steps after --warmup.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "data/dataset.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/op_registry.h"
#include "engine/optim.h"
#include "engine/profiler.h"
#include "engine/thread_pool.h"
#include "models/unet.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/profile_cli.h"

namespace tint::cli {

namespace {

namespace fs = std::filesystem;

const char* kHelp = R"(usage: tint bench [options]

Times the colorizer's training step (data wait, upload, forward + loss, backward, Adam) at each batch size,
and the same U-Net step in PyTorch in the same invocation with --peer.

  --device NAME       cpu (default), cpu-ref, cuda-emu, cuda
  --size N            image side, 8..8192, a multiple of 2^levels (default 256)
  --width N           U-Net width, 1..1024 (default 64)
  --levels N          U-Net levels, 1..6 (default 4)
  --loss l1|l2        (default l2)
  --batches LIST      comma-separated batch sizes, each 1..4096 (default 1,8)
  --steps N           timed steps per batch size, 1..100000 (default 10)
  --warmup N          untimed steps first, 0..10000 (default 3)
  --data DIR          photos for the loader (default: the embedded sample, data/samples/train)
  --workers N         loader threads, 1..64 (default: one per core)
  --peer PYTHON       also time the step in PyTorch with this interpreter (benchmarks/peers/torch_unet_step.py);
                      without the interpreter or without torch the column says skipped
  --peer-setting S    PyTorch's memory format and Adam: best (default: the faster of the fused Adam in the
                      default format and channels_last + fused Adam), plain, fused, channels_last,
                      channels_last+fused
  --json FILE         write the results as JSON
  --profile FILE.json profile --steps more steps per batch size after the timed ones: a table per batch and
                      a Chrome/Perfetto trace (FILE_b<N>.json when several batch sizes are given)
  --dump-graph F.dot  the autograd graph of the first step (ops, shapes, saved tensors) as Graphviz
  --conv-variant NAME the convolution variant on cpu, cuda and cuda-emu (tint op --list names them)
  --ab-variants A,B   two conv variants in one process, step by step (A B, then B A, ...), warm-up steps
                      alternated too: each pair of steps gives a ratio, robust to a noisy machine where two
                      runs one after the other are not. The table's row is variant A; a line per batch
                      gives both medians and the pairs' ratios (above 1: B is faster)
  --precision P       fp32 (default) or tf32: tint's 3x3 convolutions on TF32 tensor cores (winograd2-tf32)
                      and the peer with cuDNN's and cuBLAS's allow_tf32 on; fp32 keeps TF32 off on both
  --reduce-variant V  the reduction kernels (sum, losses, bias gradient) on cuda and cuda-emu: block
                      (one block), tree (default) or tree4 (four loads in flight per thread)

Each phase ends with a device synchronisation; ms/step is the median of the phases' sum. img/s = batch /
step time; peak MiB is the device allocator's high-water mark during the batch size's steps. PyTorch/tint is
PyTorch's median step time over tint's (above 1: tint is faster). The peer gets as many CPU threads as tint.
)";

struct Phases {
  double data = 0, upload = 0, forward = 0, backward = 0, optimiser = 0;
  double total() const { return data + upload + forward + backward + optimiser; }
};

struct PeerResult {
  bool ran = false;
  std::string note;  // why it was skipped, or what ran ("torch 2.5.1, cpu (2 threads)")
  double ms = 0;
  std::string json;  // the peer's own line
};

// --ab-variants: the two variants' step times, alternated step by step.
struct AbResult {
  std::vector<double> a_ms, b_ms;  // the steps of each, pair i at index i
};

struct BatchResult {
  int batch = 0;
  AbResult ab;
  Phases median;
  double step_ms = 0;
  double images_per_s = 0;
  size_t peak_bytes = 0;
  double profiled_ms = -1;  // median step with the profiler on (when --profile)
  PeerResult peer;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<int> parse_batches(const std::string& list) {
  std::vector<int> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = list.find(',', pos);
    const std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    TINT_CHECK(!item.empty() && end && *end == '\0' && v >= 1 && v <= 4096,
               "--batches '{}': '{}' is not a batch size (each must be a whole number, 1..4096)", list, item);
    out.push_back(int(v));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string default_samples() {
  for (std::string base :
       {std::string("data/samples/train"), fmt::format("{}/data/samples/train", TINT_SOURCE_DIR_FOR_TOOLS)})
    if (fs::is_directory(base)) return base;
  return "";
}

std::string peer_script() {
  for (std::string p : {std::string("benchmarks/peers/torch_unet_step.py"),
                        fmt::format("{}/benchmarks/peers/torch_unet_step.py", TINT_SOURCE_DIR_FOR_TOOLS)})
    if (fs::exists(p)) return p;
  return "";
}

std::string machine() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::ifstream loadavg("/proc/loadavg");
  double load = -1;
  loadavg >> load;
  return fmt::format("{}, {} hardware threads, load average {:.2f}", model,
                     std::thread::hardware_concurrency(), load);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out + "\"";
}

std::string ab_json(const std::vector<std::string>& names, const AbResult& ab) {
  auto list = [](const std::vector<double>& v) {
    std::string out;
    for (double x : v) out += fmt::format("{}{:.4f}", out.empty() ? "" : ", ", x);
    return "[" + out + "]";
  };
  return fmt::format(", \"ab_variants\": [{}, {}], \"ab_a_step_ms\": {}, \"ab_b_step_ms\": {}",
                     json_string(names[0]), json_string(names[1]), list(ab.a_ms), list(ab.b_ms));
}


// A number after "key": in the peer's one line of JSON (it prints nothing else on stdout).
std::optional<double> json_number(const std::string& json, const std::string& key) {
  const size_t k = json.find("\"" + key + "\": ");
  if (k == std::string::npos) return std::nullopt;
  const char* start = json.c_str() + k + key.size() + 4;
  char* end = nullptr;
  const double v = std::strtod(start, &end);
  if (end == start) return std::nullopt;
  return v;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

PeerResult run_peer(const std::string& python, const std::string& setting, const std::string& precision,
                    Device device, int batch, int size, int width, int levels, const std::string& loss, int warmup,
                    int steps) {
  PeerResult r;
  const std::string script = peer_script();
  if (script.empty()) {
    r.note = "skipped: benchmarks/peers/torch_unet_step.py not found";
    return r;
  }
  if (device.kind == DeviceKind::CpuRef || device.kind == DeviceKind::CudaEmu) {
    r.note = fmt::format("skipped: PyTorch has no {} device", device.str());
    return r;
  }
  const int threads = device.kind == DeviceKind::Cpu ? runtime(device).stream.pool->size() : 1;
  const std::string cmd = fmt::format(
      "{} {} --device {} --batch {} --size {} --width {} --levels {} --loss {} --warmup {} --repeats {} "
      "--threads {} --setting {} --precision {} 2>&1",
      shell_quote(python), shell_quote(script), device.kind == DeviceKind::Cuda ? "cuda" : "cpu", batch, size,
      width, levels, loss, warmup, steps, threads, shell_quote(setting), precision);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    r.note = "skipped: cannot start a shell";
    return r;
  }
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string last_line = out;
  while (!last_line.empty() && last_line.back() == '\n') last_line.pop_back();
  if (const size_t nl = last_line.rfind('\n'); nl != std::string::npos) last_line = last_line.substr(nl + 1);
  if (rc == 127) {
    r.note = fmt::format("skipped: interpreter '{}' not found", python);
  } else if (rc == 3) {
    r.note = fmt::format("skipped: no torch (or no such device) for '{}'", python);
  } else if (const auto ms = json_number(last_line, "ms_median"); rc == 0 && ms) {
    r.ran = true;
    r.ms = *ms;
    r.json = last_line;
    const size_t t = last_line.find("\"torch\": \"");
    const size_t d = last_line.find("\"device\": \"");
    if (t != std::string::npos && d != std::string::npos)
      r.note = fmt::format("torch {}, {}", last_line.substr(t + 10, last_line.find('"', t + 10) - t - 10),
                           last_line.substr(d + 11, last_line.find('"', d + 11) - d - 11));
    if (const size_t s = last_line.find("\"setting\": \""); s != std::string::npos)
      r.note += fmt::format(", setting {}", last_line.substr(s + 12, last_line.find('"', s + 12) - s - 12));
  } else {
    r.note = fmt::format("skipped: the peer failed (exit {}): {}", rc, last_line.substr(0, 200));
  }
  return r;
}

}  // namespace

int run_bench(int argc, char** argv) {
  Args args(argc, argv,
            Options{{},
                    {"device", "size", "width", "levels", "loss", "batches", "steps", "warmup", "data", "workers",
                     "peer", "peer-setting", "json", "profile", "dump-graph", "conv-variant", "ab-variants", "reduce-variant",
                     "precision"},
                    0,
                    ""});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const Device device = Device::parse(args.get("device", "cpu"));
  TINT_CHECK(device.available(), "--device '{}' is not available in this build or on this machine", device.str());
  if (args.has("conv-variant")) select_conv_variant(device, "--conv-variant", args.get("conv-variant", ""));
  std::vector<std::string> ab;  // --ab-variants A,B
  if (args.has("ab-variants")) {
    const std::string list = args.get("ab-variants", "");
    const size_t comma = list.find(',');
    TINT_CHECK(comma != std::string::npos && list.find(',', comma + 1) == std::string::npos,
               "--ab-variants '{}': expected two variants separated by a comma, e.g. auto,gemm", list);
    ab = {list.substr(0, comma), list.substr(comma + 1)};
    TINT_CHECK(!args.has("conv-variant"), "--ab-variants and --conv-variant: give one or the other");
    TINT_CHECK(!args.has("profile") && !args.has("peer"),
               "--ab-variants times two variants against each other; --profile and --peer take one");
    for (const std::string& v : ab) {
      TINT_CHECK(!is_tf32_variant(v), "--ab-variants: {} is a TF32 variant; compare fp32 variants", v);
      select_conv_variant(device, "--ab-variants", v);  // checks the name
    }
  }
  select_precision(device, args.get("precision", ""), args.get("conv-variant", ""));
  const bool tf32 = is_tf32_variant(selected_conv_variant(device));
  const std::string precision = tf32 ? "tf32" : "fp32";  // what the peer is told to match
  if (args.has("reduce-variant"))
    select_reduce_variant(device, "--reduce-variant", args.get("reduce-variant", ""));
  const std::string peer_setting = args.get("peer-setting", "best");
  if (peer_setting != "best" && peer_setting != "plain" && peer_setting != "fused" &&
      peer_setting != "channels_last" && peer_setting != "channels_last+fused")
    throw Error(fmt::format("--peer-setting {}: expected best, plain, fused, channels_last or channels_last+fused",
                            peer_setting));
  const int levels = args.get_int("levels", 4, 1, 6);
  const int size = args.get_int("size", 256, 8, 8192);
  TINT_CHECK(size % (1 << levels) == 0, "--size {} must be a multiple of 2^levels = {} (--levels {})", size,
             1 << levels, levels);
  const int width = args.get_int("width", 64, 1, 1024);
  const std::string loss_name = args.get("loss", "l2");
  TINT_CHECK(loss_name == "l1" || loss_name == "l2", "--loss must be l1 or l2, got '{}'", loss_name);
  const std::vector<int> batches = parse_batches(args.get("batches", "1,8"));
  const int steps = args.get_int("steps", 10, 1, 100000);
  const int warmup = args.get_int("warmup", 3, 0, 10000);
  const int workers = args.get_int("workers", int(std::max(1u, std::thread::hardware_concurrency())), 1, 64);
  const std::string json_path = args.get("json", "");
  const std::string profile_path = args.get("profile", "");
  const std::string dump_graph = args.get("dump-graph", "");
  if (args.has("json")) {
    std::ofstream probe(json_path, std::ios::app);
    TINT_CHECK(!json_path.empty() && probe.good(), "--json '{}': cannot write this file", json_path);
  }
  if (args.has("profile")) check_profile_path(profile_path);
  if (args.has("dump-graph")) {
    std::ofstream probe(dump_graph, std::ios::app);
    TINT_CHECK(!dump_graph.empty() && probe.good(), "--dump-graph '{}': cannot write this file", dump_graph);
  }
  const std::string data_dir = args.has("data") ? args.get("data", "") : default_samples();
  TINT_CHECK(!data_dir.empty(),
             "no --data given and the embedded sample (data/samples/train) was not found; "
             "run from the repository root or pass --data DIR");
  TINT_CHECK(fs::is_directory(data_dir), "--data '{}' is not a folder", data_dir);
  const std::vector<std::string> files = scan_images(data_dir);
  TINT_CHECK(!files.empty(), "--data '{}': no images found", data_dir);
  for (int batch : batches)
    TINT_CHECK(int64_t(files.size()) >= batch, "--batches: batch {} is larger than the {} photos in '{}'",
               batch, files.size(), data_dir);

  DeviceRuntime& rt = runtime(device);
  const bool l1 = loss_name == "l1";
  const std::string threads =
      device.kind == DeviceKind::Cpu ? fmt::format(" ({} threads)", rt.stream.pool->size()) : std::string();
  fmt::print(
      "tint bench: U-Net width {}, {} levels, {}x{}, {} loss, {}, on {}{}; {} photos from {}, {} loader "
      "worker{}; median of {} steps after {} warm-up\nmachine: {}\n",
      width, levels, size, size, loss_name, tf32 ? "TF32 3x3 convolutions" : "fp32", device.str(), threads, files.size(), data_dir, workers,
      workers == 1 ? "" : "s", steps, warmup, machine());
  std::fflush(stdout);

  std::vector<BatchResult> results;
  bool graph_written = dump_graph.empty();
  for (int batch : batches) {
    LoaderOptions lo;
    lo.image_size = size;
    lo.batch_size = batch;
    lo.workers = workers;
    lo.epochs = 0;  // endless: a small folder is visited as often as the steps need
    lo.drop_last = true;
    if (rt.backend.alloc_pinned)
      lo.allocator = HostAllocator{rt.backend.alloc_pinned, rt.backend.free_pinned};
    Loader loader(files, lo);
    Rng rng(1234);
    models::UNet unet({width, levels}, rng);
    nn::FlatParameters flat = nn::flatten_parameters(unet, device);
    AdamHyper hyper;
    optim::Adam adam(flat, hyper);
    rt.synchronize();
    rt.allocator.reset_peak();

    auto step = [&](Phases& p) {
      using clock = std::chrono::steady_clock;
      auto t = clock::now();
      std::optional<Batch> b;
      {
        profiler::Phase phase("data wait");
        b = loader.next();
      }
      TINT_CHECK(b.has_value(), "the loader stopped early");
      p.data = ms_since(t);
      t = clock::now();
      Tensor L, ab, mask;
      {
        profiler::Phase phase("upload");
        const int64_t n = b->size, s = b->image_size;
        auto put = [&](const float* src, int64_t c) {
          Tensor x = Tensor::empty({n, c, s, s}, device);
          rt.backend.copy_from_host(rt.stream, x.data(), src, size_t(n * c * s * s) * sizeof(float));
          return x;
        };
        L = put(b->L, 1), ab = put(b->ab, 2), mask = put(b->mask, 1);
        rt.synchronize();  // the batch's host buffers go back to the loader with `b`
      }
      p.upload = ms_since(t);
      t = clock::now();
      Tensor loss;
      {
        profiler::Phase phase("forward");
        Tensor pred = unet(L);
        static const std::string kLoss = "loss";
        profiler::Scope scope(kLoss);
        loss = l1 ? ops::l1_loss(pred, ab, mask) : ops::mse_loss(pred, ab, mask);
        rt.synchronize();
      }
      p.forward = ms_since(t);
      if (!graph_written) {
        write_graphviz(loss, dump_graph);
        graph_written = true;
        fmt::print("graph of the first step: {}\n", dump_graph);
      }
      t = clock::now();
      {
        profiler::Phase phase("backward");
        loss.backward();
        rt.synchronize();
      }
      p.backward = ms_since(t);
      t = clock::now();
      {
        profiler::Phase phase("optimiser");
        static const std::string kAdam = "adam";
        profiler::Scope scope(kAdam);
        adam.step();
        adam.zero_grad();
        rt.synchronize();
      }
      p.optimiser = ms_since(t);
    };

    Phases p;
    BatchResult r;
    r.batch = batch;
    std::vector<Phases> timed;
    if (ab.empty()) {
      for (int i = 0; i < warmup; ++i) step(p);
      for (int i = 0; i < steps; ++i) {
        step(p);
        timed.push_back(p);
      }
    } else {
      // Pair i runs A then B for even i, B then A for odd i, so that a drift in the machine's speed within
      // a pair favours neither. The warm-up alternates too: each variant's scratch exists before timing.
      for (int i = 0; i < warmup; ++i)
        for (int k = 0; k < 2; ++k) {
          select_conv_variant(device, "--ab-variants", ab[size_t(k)]);
          step(p);
        }
      for (int i = 0; i < steps; ++i)
        for (int k = 0; k < 2; ++k) {
          const int which = (i % 2) ? 1 - k : k;
          select_conv_variant(device, "--ab-variants", ab[size_t(which)]);
          step(p);
          (which ? r.ab.b_ms : r.ab.a_ms).push_back(p.total());
          if (which == 0) timed.push_back(p);
        }
      select_conv_variant(device, "--ab-variants", ab[0]);
    }
    auto med = [&](double Phases::*field) {
      std::vector<double> v;
      for (const Phases& q : timed) v.push_back(q.*field);
      return median(v);
    };
    r.median = {med(&Phases::data), med(&Phases::upload), med(&Phases::forward), med(&Phases::backward),
                med(&Phases::optimiser)};
    std::vector<double> totals;
    for (const Phases& q : timed) totals.push_back(q.total());
    r.step_ms = median(totals);
    r.images_per_s = batch * 1e3 / r.step_ms;
    r.peak_bytes = rt.allocator.stats().peak_bytes_in_use;

    if (!profile_path.empty()) {
      std::string path = profile_path;
      if (batches.size() > 1) {
        const fs::path p0(profile_path);
        path =
            (p0.parent_path() / (p0.stem().string() + fmt::format("_b{}", batch) + p0.extension().string()))
                .string();
      }
      fmt::print("\n-- batch {}: {} profiled steps\n", batch, steps);
      profiler::Session session(device);
      std::vector<double> profiled;
      for (int i = 0; i < steps; ++i) {
        session.step_begin();
        step(p);
        session.step_end();
        profiled.push_back(p.total());
      }
      r.profiled_ms = median(profiled);
      finish_profile(session, path);
      fmt::print("profiler overhead at batch {}: {:.3f} ms per step profiled, {:.3f} ms not ({:+.1f}%)\n",
                 batch, r.profiled_ms, r.step_ms, 100.0 * (r.profiled_ms / r.step_ms - 1));
    }
    if (args.has("peer"))
      r.peer = run_peer(args.get("peer", ""), peer_setting, precision, device, batch, size, width, levels,
                        loss_name, warmup, steps);
    results.push_back(r);
  }

  fmt::print("\n{:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>11} {:>13}\n", "batch", "data ms",
             "upload ms", "fwd ms", "bwd ms", "adam ms", "step ms", "img/s", "peak MiB", "pytorch ms",
             "pytorch/tint");
  for (const BatchResult& r : results) {
    const std::string peer_ms = r.peer.ran ? fmt::format("{:.2f}", r.peer.ms) : "skipped";
    const std::string ratio = r.peer.ran ? fmt::format("{:.2f}", r.peer.ms / r.step_ms) : "skipped";
    fmt::print(
        "{:>5} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10.2f} {:>9.1f} {:>9.1f} {:>11} {:>13}\n",
        r.batch, r.median.data, r.median.upload, r.median.forward, r.median.backward, r.median.optimiser,
        r.step_ms, r.images_per_s, r.peak_bytes / 1048576.0, args.has("peer") ? peer_ms : "-",
        args.has("peer") ? ratio : "-");
  }
  for (const BatchResult& r : results) {
    if (r.ab.a_ms.empty()) continue;
    std::vector<double> ratios;
    for (size_t i = 0; i < r.ab.a_ms.size(); ++i) ratios.push_back(r.ab.a_ms[i] / r.ab.b_ms[i]);
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    fmt::print("batch {}: {} {:.2f} ms, {} {:.2f} ms; {} / {} per pair: median {:.3f} (range {:.3f}-{:.3f}, {} pairs)\n",
               r.batch, ab[0], median(r.ab.a_ms), ab[1], median(r.ab.b_ms), ab[0], ab[1], median(ratios), *lo, *hi,
               ratios.size());
  }
  const BatchResult* b1 = nullptr;
  const BatchResult* b8 = nullptr;
  for (const BatchResult& r : results) {
    if (r.batch == 1) b1 = &r;
    if (r.batch == 8) b8 = &r;
  }
  if (b1 && b8)
    fmt::print("batch 8 over batch 1: {:.2f}x the images per second\n", b8->images_per_s / b1->images_per_s);
  if (args.has("peer") && !results.empty()) fmt::print("peer: {}\n", results.back().peer.note);

  if (!json_path.empty()) {
    std::string j = fmt::format(
        "{{\"command\": \"tint bench\", \"machine\": {}, \"device\": \"{}\", \"size\": {}, \"width\": {}, "
        "\"levels\": {}, \"loss\": \"{}\", \"precision\": \"{}\", \"steps\": {}, \"warmup\": {}, \"data\": {}, "
        "\"results\": [",
        json_string(machine()), device.str(), size, width, levels, loss_name, precision, steps, warmup,
        json_string(data_dir));
    for (size_t i = 0; i < results.size(); ++i) {
      const BatchResult& r = results[i];
      j += fmt::format(
          "{}\n  {{\"batch\": {}, \"data_wait_ms\": {:.4f}, \"upload_ms\": {:.4f}, \"forward_ms\": {:.4f}, "
          "\"backward_ms\": {:.4f}, \"optimiser_ms\": {:.4f}, \"step_ms\": {:.4f}, \"images_per_s\": {:.4f}, "
          "\"peak_bytes\": {}, \"profiled_step_ms\": {}, \"pytorch_ms\": {}, \"pytorch_over_tint\": {}, "
          "\"peer\": {}{}}}",
          i ? "," : "", r.batch, r.median.data, r.median.upload, r.median.forward, r.median.backward,
          r.median.optimiser, r.step_ms, r.images_per_s, r.peak_bytes,
          r.profiled_ms >= 0 ? fmt::format("{:.4f}", r.profiled_ms) : "null",
          r.peer.ran ? fmt::format("{:.4f}", r.peer.ms) : "null",
          r.peer.ran ? fmt::format("{:.4f}", r.peer.ms / r.step_ms) : "null",
          r.peer.ran ? r.peer.json : json_string(args.has("peer") ? r.peer.note : "not asked"),
          r.ab.a_ms.empty() ? "" : ab_json(ab, r.ab));
    }
    j += fmt::format("\n], \"speedup_batch8_over_batch1\": {}}}\n",
                     b1 && b8 ? fmt::format("{:.4f}", b8->images_per_s / b1->images_per_s) : "null");
    std::ofstream f(json_path, std::ios::trunc);
    f << j;
    f.close();
    TINT_CHECK(f.good(), "--json '{}': error writing the file", json_path);
    fmt::print("json: {}\n", json_path);
  }
  return 0;
}

}  // namespace tint::cli
