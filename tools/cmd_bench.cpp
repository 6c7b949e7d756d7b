// `tint bench`: the colorizer's training step at batch 1 against batch 8, split into its phases, with the
// same step in PyTorch timed in the same invocation (benchmarks/peers/torch_unet_step.py).
//
// The data comes through the real threaded loader, so "data wait" is what training would wait. Each phase
// ends with a device synchronisation, so that a GPU's asynchronous work is charged to the phase that queued
// it; the step time is the sum of the phases. Medians over --steps steps after --warmup.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "data/dataset.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/op_registry.h"
#include "engine/graph.h"
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
  --peer-mode M       interleaved (default): the peer runs beside tint and the timed steps alternate (tint
                      then PyTorch, then PyTorch then tint, ...), each process idle while the other runs, so
                      each pair gives a ratio and a load that comes and goes weighs on both alike; a line per
                      batch gives the pairs' median and range. sequential: tint's steps, then the peer's
  --peer-script FILE  the peer's script (default benchmarks/peers/torch_unet_step.py): another peer that
                      takes the same arguments and speaks the same --serve protocol
  --peer-name NAME    what the table and the per-pair line call the peer (default pytorch)
  --serve             be a peer: warm up, print "ready tint", then run one timed step per line "step" on
                      stdin, answering "TOTAL FORWARD BACKWARD OPTIMISER" in ms; "end" prints a JSON line
                      over the served steps. One batch size. Another build as the peer, interleaved:
                      TINT_PEER=OTHER/tint tint bench --peer bash --peer-script
                      benchmarks/peers/tint_peer.sh --peer-name other
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
  --graph on|off      cuda and cuda-emu: after one step op by op, capture the forward + loss and the backward
                      as two CUDA graphs and replay them each step (one launch each instead of hundreds; the
                      batch is uploaded into the captured inputs). The second step captures (the first
                      without warm-up), so --warmup 2 or more keeps the capture out of the timed steps.
                      Default on there; off on the CPU backends and with --ab-variants. --profile's steps
                      run op by op (the profiler times each op)

Each phase ends with a device synchronisation; ms/step is the median of the phases' sum. img/s = batch /
step time; peak MiB is the device allocator's high-water mark during the batch size's steps. PyTorch/tint is
PyTorch's median step time over tint's (above 1: tint is faster; interleaved, the median of the pairs'
ratios). The peer gets as many CPU threads as tint.
)";

struct Phases {
  double data = 0, upload = 0, forward = 0, backward = 0, optimiser = 0;
  double total() const { return data + upload + forward + backward + optimiser; }
  double loss = 0;  // the step's loss, read after its timed phases
};

struct PeerResult {
  bool ran = false;
  std::string note;  // why it was skipped, or what ran ("torch 2.5.1, cpu (2 threads)")
  double ms = 0;
  std::string json;  // the peer's own line
  // Interleaved: the peer's step and tint's, pair i at index i (the pairs' ratios are peer / tint).
  std::vector<double> pair_peer_ms, pair_tint_ms;
};

PeerResult peer_skipped(std::string note) {
  PeerResult r;
  r.note = std::move(note);
  return r;
}

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
  std::vector<double> losses;  // of the timed steps, in order (--json): graph and op by op give the same bits
  size_t graph_nodes[2] = {0, 0};  // --graph: the forward's and the backward's
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// num[i] / den[i], pair by pair (two step times taken side by side).
std::vector<double> pair_ratios(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> r;
  for (size_t i = 0; i < num.size(); ++i) r.push_back(num[i] / den[i]);
  return r;
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

// Times with 4 decimals; `exact`: every bit of a float (the losses).
std::string json_list(const std::vector<double>& v, bool exact = false) {
  std::string out;
  for (double x : v)
    out += exact ? fmt::format("{}{:.9g}", out.empty() ? "" : ", ", x)
                 : fmt::format("{}{:.4f}", out.empty() ? "" : ", ", x);
  return "[" + out + "]";
}

std::string ab_json(const std::vector<std::string>& names, const AbResult& ab) {
  return fmt::format(", \"ab_variants\": [{}, {}], \"ab_a_step_ms\": {}, \"ab_b_step_ms\": {}",
                     json_string(names[0]), json_string(names[1]), json_list(ab.a_ms), json_list(ab.b_ms));
}

// Interleaved: the two processes' step times pair by pair ("peer_mode" says which way the peer ran).
std::string pairs_json(const PeerResult& p) {
  if (p.pair_peer_ms.empty()) return p.ran ? ", \"peer_mode\": \"sequential\"" : "";
  return fmt::format(", \"peer_mode\": \"interleaved\", \"pair_pytorch_ms\": {}, \"pair_tint_ms\": {}",
                     json_list(p.pair_peer_ms), json_list(p.pair_tint_ms));
}

// PyTorch's time over tint's: the pairs' median ratio when interleaved, else the ratio of the medians.
double peer_over_tint(const BatchResult& r) {
  return r.peer.pair_peer_ms.empty() ? r.peer.ms / r.step_ms
                                     : median(pair_ratios(r.peer.pair_peer_ms, r.peer.pair_tint_ms));
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

// The string after "key": in the peer's line of JSON (no escapes in the values it prints).
std::optional<std::string> json_text(const std::string& json, const std::string& key) {
  const std::string open = "\"" + key + "\": \"";
  const size_t k = json.find(open);
  if (k == std::string::npos) return std::nullopt;
  const size_t start = k + open.size(), end = json.find('"', start);
  if (end == std::string::npos) return std::nullopt;
  return json.substr(start, end - start);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// What the peer is asked to time: the same step as tint's.
struct PeerArgs {
  std::string python, script, setting, precision, loss;
  Device device;
  int batch = 1, size = 0, width = 0, levels = 0, warmup = 0, steps = 0;
};

// Why the peer cannot run at all (no script, no such device in PyTorch), or "" when it can.
std::string peer_unavailable(const PeerArgs& a) {
  if (a.script.empty()) return "skipped: benchmarks/peers/torch_unet_step.py not found";
  if (a.device.kind == DeviceKind::CpuRef || a.device.kind == DeviceKind::CudaEmu)
    return fmt::format("skipped: PyTorch has no {} device", a.device.str());
  return "";
}

std::vector<std::string> peer_argv(const PeerArgs& a, bool serve) {
  const int threads = a.device.kind == DeviceKind::Cpu ? runtime(a.device).stream.pool->size() : 1;
  // Served, --repeats is only what "best" times each candidate setting with before the requests.
  const int repeats = serve ? std::min(a.steps, 5) : a.steps;
  std::vector<std::string> v = {a.python, a.script, "--device", a.device.kind == DeviceKind::Cuda ? "cuda" : "cpu",
                                "--batch", std::to_string(a.batch), "--size", std::to_string(a.size),
                                "--width", std::to_string(a.width), "--levels", std::to_string(a.levels),
                                "--loss", a.loss, "--warmup", std::to_string(a.warmup),
                                "--repeats", std::to_string(repeats), "--threads", std::to_string(threads),
                                "--setting", a.setting, "--precision", a.precision};
  if (serve) v.push_back("--serve");
  return v;
}

std::string last_line_of(std::string out) {
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (const size_t nl = out.rfind('\n'); nl != std::string::npos) out = out.substr(nl + 1);
  return out;
}

// The peer's result from its exit code and last line (its JSON object, or its error).
PeerResult peer_outcome(const std::string& python, int rc, const std::string& last_line) {
  PeerResult r;
  if (rc == 127) {
    r.note = fmt::format("skipped: interpreter '{}' not found", python);
  } else if (rc == 3) {
    r.note = fmt::format("skipped: no torch (or no such device) for '{}'", python);
  } else if (const auto ms = json_number(last_line, "ms_median"); rc == 0 && ms) {
    r.ran = true;
    r.ms = *ms;
    r.json = last_line;
    const auto torch = json_text(last_line, "torch"), who = json_text(last_line, "peer");
    if (const auto device = json_text(last_line, "device"); device && (torch || who))
      r.note = torch ? fmt::format("torch {}, {}", *torch, *device) : fmt::format("{}, {}", *who, *device);
    if (const auto setting = json_text(last_line, "setting")) r.note += fmt::format(", setting {}", *setting);
  } else {
    r.note = fmt::format("skipped: the peer failed (exit {}): {}", rc, last_line.substr(0, 200));
  }
  return r;
}

// --peer-mode sequential: the peer times its own steps after tint's.
PeerResult run_peer(const PeerArgs& a) {
  if (std::string why = peer_unavailable(a); !why.empty()) return peer_skipped(why);
  std::string cmd;
  for (const std::string& arg : peer_argv(a, false)) {
    if (!cmd.empty()) cmd += ' ';
    cmd += shell_quote(arg);
  }
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (!pipe) return peer_skipped("skipped: cannot start a shell");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return peer_outcome(a.python, WIFEXITED(status) ? WEXITSTATUS(status) : -1, last_line_of(out));
}

// --peer-mode interleaved: the peer started with --serve, asked for one step at a time. Its stderr goes to a
// temporary file, whose last line names the trouble when it stops early.
class ServedPeer {
 public:
  explicit ServedPeer(const PeerArgs& a) : python_(a.python) {
    if (std::string why = peer_unavailable(a); !why.empty()) {
      result_.note = why;
      return;
    }
    old_sigpipe_ = std::signal(SIGPIPE, SIG_IGN);  // a peer that died makes write() fail, not kill tint
    char path[] = "/tmp/tint_bench_peer_XXXXXX";
    const int err = ::mkstemp(path);
    if (err < 0) {
      result_.note = "skipped: cannot create a file for the peer's errors";
      return;
    }
    err_path_ = path;
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      ::close(err);
      result_.note = "skipped: cannot make pipes for the peer";
      return;
    }
    std::vector<std::string> argv = peer_argv(a, true);
    std::vector<char*> cargv;
    for (std::string& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0), ::dup2(out[1], 1), ::dup2(err, 2);
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(in[0]), ::close(out[1]), ::close(err);
    to_ = in[1];
    from_ = ::fdopen(out[0], "r");
    if (pid_ < 0 || !from_) {
      result_.note = "skipped: cannot start the peer";
      stop();
      return;
    }
    const std::optional<std::string> ready = read_line();
    if (!ready || ready->rfind("ready", 0) != 0) {
      fail();
      return;
    }
    ok_ = true;
  }
  ServedPeer(const ServedPeer&) = delete;
  ServedPeer& operator=(const ServedPeer&) = delete;
  ~ServedPeer() {
    stop();
    if (!err_path_.empty()) ::unlink(err_path_.c_str());
    if (old_sigpipe_ != SIG_ERR) std::signal(SIGPIPE, old_sigpipe_);
  }

  bool ok() const { return ok_; }

  // One step's milliseconds as the peer timed it (the sum of its phases), or nullopt when it failed.
  std::optional<double> step() {
    if (!ok_) return std::nullopt;
    const std::optional<std::string> line = send("step\n") ? read_line() : std::nullopt;
    char* end = nullptr;
    const double ms = line ? std::strtod(line->c_str(), &end) : 0;
    if (!line || end == line->c_str() || !(ms > 0)) {
      fail();
      return std::nullopt;
    }
    return ms;
  }

  // Ends the session: the peer's JSON over the steps it served, or why there is none.
  PeerResult finish() {
    if (ok_) {
      const std::optional<std::string> line = send("end\n") ? read_line() : std::nullopt;
      const int rc = wait_exit();
      result_ = peer_outcome(python_, rc, line ? *line : last_error());
      ok_ = false;
    }
    return result_;
  }

 private:
  bool send(const std::string& msg) { return ::write(to_, msg.data(), msg.size()) == ssize_t(msg.size()); }

  std::optional<std::string> read_line() {
    char* buf = nullptr;
    size_t cap = 0;
    const ssize_t n = ::getline(&buf, &cap, from_);
    std::optional<std::string> line;
    if (n > 0) line = last_line_of(std::string(buf, size_t(n)));
    std::free(buf);
    return line;
  }

  std::string last_error() const {
    std::ifstream f(err_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return last_line_of(ss.str());
  }

  int wait_exit() {
    if (to_ >= 0) ::close(to_), to_ = -1;  // end of input: a peer still reading stops
    int status = 0;
    const bool waited = pid_ > 0 && ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return waited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void fail() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);  // one that is still running but answers nonsense
    const int rc = wait_exit();
    result_ = peer_outcome(python_, rc == 0 ? -1 : rc, last_error());
    if (result_.ran) result_ = peer_skipped("skipped: the peer stopped answering");
    ok_ = false;
  }

  void stop() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    wait_exit();
    if (from_) std::fclose(from_), from_ = nullptr;
  }

  std::string python_, err_path_;
  void (*old_sigpipe_)(int) = SIG_ERR;
  pid_t pid_ = -1;
  int to_ = -1;
  FILE* from_ = nullptr;
  bool ok_ = false;
  PeerResult result_;
};

// --serve: the other side of ServedPeer. `step` runs one training step (as timed above) into its Phases.
template <class Step>
int serve_steps(Step& step, int warmup, Device device, int batch, int size, DeviceRuntime& rt) {
  Phases p;
  for (int i = 0; i < warmup; ++i) step(p);
  std::fputs("ready tint\n", stdout);
  std::fflush(stdout);
  std::vector<Phases> served;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "end") break;
    TINT_CHECK(line == "step", "tint bench --serve: unknown request '{}' (expected step or end)", line);
    step(p);
    served.push_back(p);
    fmt::print("{:.4f} {:.4f} {:.4f} {:.4f}\n", p.total(), p.forward, p.backward, p.optimiser);
    std::fflush(stdout);
  }
  TINT_CHECK(!served.empty(), "tint bench --serve: served no steps");
  auto med = [&](double (*f)(const Phases&)) {
    std::vector<double> v;
    for (const Phases& q : served) v.push_back(f(q));
    return median(v);
  };
  std::vector<double> totals;
  for (const Phases& q : served) totals.push_back(q.total());
  const std::string threads =
      device.kind == DeviceKind::Cpu ? fmt::format(" ({} threads)", rt.stream.pool->size()) : std::string();
  fmt::print(
      "{{\"peer\": \"tint\", \"device\": \"{}{}\", \"batch\": {}, \"size\": {}, \"ms_median\": {:.4f}, "
      "\"ms_min\": {:.4f}, \"ms_max\": {:.4f}, \"forward_ms\": {:.4f}, \"backward_ms\": {:.4f}, "
      "\"optimiser_ms\": {:.4f}, \"repeats\": {}, \"served\": true, \"setting\": {}}}\n",
      device.str(), threads, batch, size, median(totals), *std::min_element(totals.begin(), totals.end()),
      *std::max_element(totals.begin(), totals.end()), med([](const Phases& q) { return q.forward; }),
      med([](const Phases& q) { return q.backward; }), med([](const Phases& q) { return q.optimiser; }),
      served.size(), json_string("conv variant " + selected_conv_variant(device)));
  std::fflush(stdout);
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  Args args(argc, argv,
            Options{{"serve"},
                    {"device", "size", "width", "levels", "loss", "batches", "steps", "warmup", "data", "workers",
                     "peer", "peer-setting", "peer-mode", "peer-script", "peer-name", "json", "profile", "dump-graph", "conv-variant", "ab-variants", "reduce-variant",
                     "precision", "graph"},
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
  // CUDA graphs: on by default where the device can capture, unless the run times ops one by one.
  const std::string graph_flag = args.get("graph", "auto");
  TINT_CHECK(graph_flag == "auto" || graph_flag == "on" || graph_flag == "off", "--graph {}: expected on or off",
             graph_flag);
  if (graph_flag == "on") {
    TINT_CHECK(CapturedGraph::supported(device), "--graph on: device '{}' cannot capture graphs (cuda and "
               "cuda-emu can)", device.str());
    TINT_CHECK(!args.has("ab-variants"),
               "--graph on: --ab-variants switches variants step by step, which a replay cannot; give --graph off "
               "or leave it out");
  }
  const bool use_graph =
      graph_flag == "on" || (graph_flag == "auto" && CapturedGraph::supported(device) && !args.has("ab-variants"));
  const std::string peer_setting = args.get("peer-setting", "best");
  if (peer_setting != "best" && peer_setting != "plain" && peer_setting != "fused" &&
      peer_setting != "channels_last" && peer_setting != "channels_last+fused")
    throw Error(fmt::format("--peer-setting {}: expected best, plain, fused, channels_last or channels_last+fused",
                            peer_setting));
  const std::string peer_mode = args.get("peer-mode", "interleaved");
  TINT_CHECK(peer_mode == "interleaved" || peer_mode == "sequential",
             "--peer-mode {}: expected interleaved or sequential", peer_mode);
  const std::string peer_script_path = args.has("peer-script") ? args.get("peer-script", "") : peer_script();
  if (args.has("peer-script"))
    TINT_CHECK(fs::is_regular_file(peer_script_path), "--peer-script '{}': no such file", peer_script_path);
  const int levels = args.get_int("levels", 4, 1, 6);
  const int size = args.get_int("size", 256, 8, 8192);
  TINT_CHECK(size % (1 << levels) == 0, "--size {} must be a multiple of 2^levels = {} (--levels {})", size,
             1 << levels, levels);
  const int width = args.get_int("width", 64, 1, 1024);
  const std::string loss_name = args.get("loss", "l2");
  TINT_CHECK(loss_name == "l1" || loss_name == "l2", "--loss must be l1 or l2, got '{}'", loss_name);
  const std::vector<int> batches = parse_batches(args.get("batches", "1,8"));
  const bool serve = args.has("serve");
  if (serve) {
    TINT_CHECK(batches.size() == 1, "--serve: one batch size (--batches N), got {}", args.get("batches", "1,8"));
    TINT_CHECK(!args.has("peer") && !args.has("profile") && !args.has("ab-variants") && !args.has("json") &&
                   !args.has("dump-graph"),
               "--serve answers requests on stdin; --peer, --profile, --ab-variants, --json and --dump-graph "
               "belong to the bench that asks");
  }
  const std::string peer_name = args.get("peer-name", "pytorch");
  TINT_CHECK(!peer_name.empty() && peer_name.size() <= 16 && peer_name.find_first_of(" \t\n") == std::string::npos,
             "--peer-name '{}': one word of at most 16 characters", peer_name);
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
      serve ? stderr : stdout,  // a server's stdout is the protocol's
      "tint bench: U-Net width {}, {} levels, {}x{}, {} loss, {}, on {}{}; {} photos from {}, {} loader "
      "worker{}; median of {} steps after {} warm-up{}\nmachine: {}\n",
      width, levels, size, size, loss_name, tf32 ? "TF32 3x3 convolutions" : "fp32", device.str(), threads,
      files.size(), data_dir, workers, workers == 1 ? "" : "s", steps, warmup,
      use_graph ? fmt::format("; CUDA graphs (captured at step {})", warmup == 0 ? 1 : 2) : "", machine());
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

    // --graph: the step's forward + loss and its backward, captured once and replayed. The capture comes
    // after one step op by op (the caches, workspaces and kernel attributes are then set up); the inputs
    // are fixed tensors that each step's upload refills. Members are destroyed bottom up: the graphs, then
    // their pool, then the tensors they use.
    struct Graphed {
      Tensor L, ab, mask, loss;
      std::vector<char> pending_after;  // the gradients' pending-zero marks after the captured backward
      std::unique_ptr<GraphPool> pool;
      std::unique_ptr<CapturedGraph> forward, backward;
    };
    std::unique_ptr<Graphed> graphed;
    int steps_run = 0;
    bool graph_now = use_graph;  // the profiled steps after the timed ones run op by op

    auto step = [&](Phases& p) {
      using clock = std::chrono::steady_clock;
      // This step captures when it is the second one (or the first, without warm-up).
      const bool capture = graph_now && !graphed && (steps_run >= 1 || warmup == 0);
      ++steps_run;
      if (capture) {
        graphed = std::make_unique<Graphed>();
        graphed->pool = std::make_unique<GraphPool>(device);
        graphed->L = Tensor::empty({batch, 1, size, size}, device);
        graphed->ab = Tensor::empty({batch, 2, size, size}, device);
        graphed->mask = Tensor::empty({batch, 1, size, size}, device);
      }
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
        auto put = [&](const float* src, int64_t c, const Tensor& into) {
          Tensor x = into.defined() ? into : Tensor::empty({n, c, s, s}, device);
          rt.backend.copy_from_host(rt.stream, x.data(), src, size_t(n * c * s * s) * sizeof(float));
          return x;
        };
        const Graphed none;
        const Graphed& in = graphed ? *graphed : none;
        L = put(b->L, 1, in.L), ab = put(b->ab, 2, in.ab), mask = put(b->mask, 1, in.mask);
        rt.synchronize();  // the batch's host buffers go back to the loader with `b`
      }
      p.upload = ms_since(t);
      t = clock::now();
      Tensor loss;
      const auto forward = [&] {
        Tensor pred = unet(L);
        static const std::string kLoss = "loss";
        profiler::Scope scope(kLoss);
        loss = l1 ? ops::l1_loss(pred, ab, mask) : ops::mse_loss(pred, ab, mask);
      };
      {
        profiler::Phase phase("forward");
        if (capture)  // the gradients are pending zero (adam.zero_grad), so the backward recorded overwrites them
          graphed->forward = std::make_unique<CapturedGraph>(*graphed->pool, forward), graphed->loss = loss;
        if (graphed)
          graphed->forward->replay(), loss = graphed->loss;
        else
          forward();
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
        if (capture) {
          graphed->backward = std::make_unique<CapturedGraph>(*graphed->pool, [&] { loss.backward(); });
          graphed->pending_after = flat.pending_marks();
        }
        if (capture)
          fmt::print(serve ? stderr : stdout, "batch {}: CUDA graphs captured at step {}: forward + loss {} nodes, "
                     "backward {} (kernel launches, copies and fills), one launch each from now on\n",
                     batch, steps_run, graphed->forward->nodes(), graphed->backward->nodes());
        if (graphed)
          graphed->backward->replay(), flat.set_pending_marks(graphed->pending_after);
        else
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
      p.loss = loss.item();  // after the timed phases: not charged to the step
    };

    Phases p;
    BatchResult r;
    r.batch = batch;
    std::vector<Phases> timed;
    const PeerArgs peer_args{args.get("peer", ""), peer_script_path, peer_setting, precision, loss_name, device,
                             batch, size, width, levels, warmup, steps};
    std::unique_ptr<ServedPeer> served;
    if (args.has("peer") && peer_mode == "interleaved") {
      fmt::print("batch {}: starting the peer (it warms up first)\n", batch);
      std::fflush(stdout);
      served = std::make_unique<ServedPeer>(peer_args);
    }
    if (serve) return serve_steps(step, warmup, device, batch, size, rt);
    if (ab.empty()) {
      for (int i = 0; i < warmup; ++i) step(p);
      for (int i = 0; i < steps; ++i) {
        // Interleaved with the peer: tint first in even pairs, the peer first in odd ones.
        std::optional<double> peer_ms;
        if (served && i % 2 == 1) peer_ms = served->step();
        step(p);
        timed.push_back(p);
        if (served && i % 2 == 0) peer_ms = served->step();
        if (peer_ms) r.peer.pair_peer_ms.push_back(*peer_ms), r.peer.pair_tint_ms.push_back(p.total());
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
    for (const Phases& q : timed) totals.push_back(q.total()), r.losses.push_back(q.loss);
    r.step_ms = median(totals);
    r.images_per_s = batch * 1e3 / r.step_ms;
    r.peak_bytes = rt.allocator.stats().peak_bytes_in_use;
    if (graphed) r.graph_nodes[0] = graphed->forward->nodes(), r.graph_nodes[1] = graphed->backward->nodes();

    if (!profile_path.empty()) {
      std::string path = profile_path;
      if (batches.size() > 1) {
        const fs::path p0(profile_path);
        path =
            (p0.parent_path() / (p0.stem().string() + fmt::format("_b{}", batch) + p0.extension().string()))
                .string();
      }
      fmt::print("\n-- batch {}: {} profiled steps{}\n", batch, steps, graphed ? ", op by op (no graphs)" : "");
      graphed.reset(), graph_now = false;
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
    if (served) {
      // The pairs stand only if the peer served every step; its median is over the steps it served.
      PeerResult pr = served->finish();
      if (pr.ran && int(r.peer.pair_peer_ms.size()) == steps) {
        pr.pair_peer_ms = std::move(r.peer.pair_peer_ms), pr.pair_tint_ms = std::move(r.peer.pair_tint_ms);
      } else if (pr.ran) {
        pr = peer_skipped(
            fmt::format("skipped: the peer served {} of {} steps", r.peer.pair_peer_ms.size(), steps));
      }
      r.peer = pr;
    } else if (args.has("peer")) {
      r.peer = run_peer(peer_args);
    }
    results.push_back(r);
  }

  fmt::print("\n{:>5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>11} {:>13}\n", "batch", "data ms",
             "upload ms", "fwd ms", "bwd ms", "adam ms", "step ms", "img/s", "peak MiB", peer_name + " ms",
             peer_name + "/tint");
  for (const BatchResult& r : results) {
    const std::string peer_ms = r.peer.ran ? fmt::format("{:.2f}", r.peer.ms) : "skipped";
    const std::string ratio = r.peer.ran ? fmt::format("{:.2f}", peer_over_tint(r)) : "skipped";
    fmt::print(
        "{:>5} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10.2f} {:>9.1f} {:>9.1f} {:>11} {:>13}\n",
        r.batch, r.median.data, r.median.upload, r.median.forward, r.median.backward, r.median.optimiser,
        r.step_ms, r.images_per_s, r.peak_bytes / 1048576.0, args.has("peer") ? peer_ms : "-",
        args.has("peer") ? ratio : "-");
  }
  for (const BatchResult& r : results) {
    if (r.ab.a_ms.empty()) continue;
    const std::vector<double> ratios = pair_ratios(r.ab.a_ms, r.ab.b_ms);
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    fmt::print("batch {}: {} {:.2f} ms, {} {:.2f} ms; {} / {} per pair: median {:.3f} (range {:.3f}-{:.3f}, {} pairs)\n",
               r.batch, ab[0], median(r.ab.a_ms), ab[1], median(r.ab.b_ms), ab[0], ab[1], median(ratios), *lo, *hi,
               ratios.size());
  }
  for (const BatchResult& r : results) {
    if (r.peer.pair_peer_ms.empty()) continue;
    const std::vector<double> ratios = pair_ratios(r.peer.pair_peer_ms, r.peer.pair_tint_ms);
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    fmt::print("batch {}: {} / tint per pair, interleaved: median {:.3f} (range {:.3f}-{:.3f}, {} pairs)\n",
               r.batch, peer_name, median(ratios), *lo, *hi, ratios.size());
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
        "\"levels\": {}, \"loss\": \"{}\", \"precision\": \"{}\", \"graph\": {}, \"steps\": {}, \"warmup\": {}, "
        "\"data\": {}, \"results\": [",
        json_string(machine()), device.str(), size, width, levels, loss_name, precision, use_graph, steps, warmup,
        json_string(data_dir));
    for (size_t i = 0; i < results.size(); ++i) {
      const BatchResult& r = results[i];
      j += fmt::format(
          "{}\n  {{\"batch\": {}, \"data_wait_ms\": {:.4f}, \"upload_ms\": {:.4f}, \"forward_ms\": {:.4f}, "
          "\"backward_ms\": {:.4f}, \"optimiser_ms\": {:.4f}, \"step_ms\": {:.4f}, \"images_per_s\": {:.4f}, "
          "\"peak_bytes\": {}, \"profiled_step_ms\": {}, \"pytorch_ms\": {}, \"pytorch_over_tint\": {}, "
          "\"losses\": {}, \"graph_nodes\": {}, \"peer\": {}{}{}}}",
          i ? "," : "", r.batch, r.median.data, r.median.upload, r.median.forward, r.median.backward,
          r.median.optimiser, r.step_ms, r.images_per_s, r.peak_bytes,
          r.profiled_ms >= 0 ? fmt::format("{:.4f}", r.profiled_ms) : "null",
          r.peer.ran ? fmt::format("{:.4f}", r.peer.ms) : "null",
          r.peer.ran ? fmt::format("{:.4f}", peer_over_tint(r)) : "null", json_list(r.losses, true),
          r.graph_nodes[0] ? fmt::format("[{}, {}]", r.graph_nodes[0], r.graph_nodes[1]) : "null",
          r.peer.ran ? r.peer.json : json_string(args.has("peer") ? r.peer.note : "not asked"),
          r.ab.a_ms.empty() ? "" : ab_json(ab, r.ab), pairs_json(r.peer));
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
