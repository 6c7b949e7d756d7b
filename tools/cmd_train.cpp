// `tint train`: the colorizer's training loop. Photos -> threaded loader (L, ab, mask) -> device -> U-Net ->
// masked L1/L2 loss (regression head) or the weighted cross-entropy over ab bins (classification head) ->
// backward -> Adam; validation loss and the a/b histogram intersection after each epoch;
// a CSV log; one checkpoint file written atomically (tools/train_checkpoint.h), from which a run resumes
// bit-exactly on the CPU backends; Ctrl-C stops after the current step with a checkpoint.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>

#include "data/ab_bins.h"
#include "data/colour.h"
#include "data/dataset.h"
#include "data/grid.h"
#include "data/hints.h"
#include "data/loader.h"
#include "data/metrics.h"
#include "engine/autograd.h"
#include "engine/comm.h"
#include "engine/graph.h"
#include "engine/io.h"
#include "engine/op_registry.h"
#include "engine/optim.h"
#include "models/model_file.h"
#include "models/unet.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/figures.h"
#include "tools/profile_cli.h"
#include "tools/train_checkpoint.h"
#include "tools/train_progress.h"

namespace tint::cli {

namespace {

namespace fs = std::filesystem;

const char* kHelp = R"(usage: tint train [options]

Trains the colorizer's U-Net (L -> ab in CIE Lab) on a folder of photos.

data:
  --data DIR        training photos, scanned recursively (default: the embedded sample, data/samples/train)
  --val DIR         validation photos (default: data/samples/val when --data is the default; else none)
  --size N          image side after resize + pad, 8..8192, a multiple of 2^levels (default 256)
  --fit pad|crop    pad: longest side to N, zero-padded (the seed's way); crop: random N x N crops (default pad)
  --workers N       decoding threads, 1..64 (default: one per core)
  --cache-mb N      keep decoded, resized photos in memory for later epochs, up to N MiB, 0..1048576
                    (default 1024: 5000-8000 photos at --size 256 with --fit pad; 0: decode every epoch)
  --no-mask         average the loss over padding too (the seed's unmasked loss)
model and optimiser:
  --width N         U-Net channels at full resolution, 1..1024 (default 64)
  --levels N        U-Net downsamplings, 1..6 (default 4)
  --head regression|classification
                    regression (default): ab through tanh, --loss l1 or l2. classification: logits over
                    the ab bins of sRGB (Zhang et al. 2016), soft targets over the 5 nearest bins, the
                    weighted cross-entropy; the class weights come from a pass over --data at the start,
                    and the model file keeps bins and weights (colorize and eval need no flag)
  --loss l1|l2      the regression head's loss (default l2)
  --hints           user-guided colorization (Zhang et al. 2017): the input is L plus hint a, b and a hint
                    mask; each training image gets simulated hints (a geometric number of points, 8 on
                    average, none in 1/8 of the images; each a 1..9 px patch given its mean true ab), drawn
                    from (--seed, epoch, sample) so a resume sees the same. colorize --hints gives real ones
  --lr X            Adam learning rate, > 0 and <= 10 (default 3e-4)
  --weight-decay X  0..10 (default 0)
  --batch N         1..4096 (default 8)
run:
  --device NAME     cpu (default), cpu-ref, cuda-emu, cuda
  --epochs N        the run's length in passes over the data, 1..1000000 (default 10; with only --steps
                    given: no epoch limit). On --resume, the checkpoint's value unless given.
  --steps N         stop once the run's step count reaches N (counted from the run's start, so
                    --steps 3 then --resume continues where it stopped); not stored in the checkpoint
  --seed N          shuffling, flips, crops and initialisation, 0..2^31-1 (default 0)
  --out DIR         the run folder (default runs/train-<time>); refused when it already holds a run
  --overwrite       replace the run in --out (its checkpoint, model and log)
  --resume DIR      continue the run in DIR from its checkpoint.safetensors: same configuration (a flag
                    that contradicts it is an error), same data order; bit-exact on cpu and cpu-ref
  --log-every N     without a terminal, print a line every N steps (default 10)
distributed (data-parallel over processes; see the README):
  --distributed     be one rank of an MPI job (mpirun -np N tint train ...; implied when an MPI launcher
                    starts more than one process): --batch is the global batch, each rank trains on its
                    part of it, the gradients are summed over the ranks in rank order, every rank takes the
                    same Adam step, rank 0 alone writes the run folder. On cuda: NCCL, one GPU per rank.
  --comm-timeout S  seconds a rank waits for the others before it ends the whole job, naming the rank that
                    did not come, 1..86400 (default 600; it must cover rank 0's validation at epoch ends)
  --micro-batches N split each batch into N parts run one after another, their gradients summed in order
                    (gradient accumulation), 1..batch (default 1). One process with --micro-batches N ends
                    with the same weights, bit for bit on cpu and cpu-ref, as N ranks at the same --batch.
inspection:
  --dump-graph F.dot    write the autograd graph of the first step (ops, shapes, saved tensors) as Graphviz
  --dump-batches DIR    write DIR/init.safetensors (weights before the first step), for each step s
                        DIR/step_<s:06d>_L.npy, _ab.npy, _mask.npy (the tensors fed to the model and the
                        loss; all ones with --no-mask), DIR/losses.csv (step,loss; 9 significant digits)
                        and DIR/final.safetensors (weights after the last step), for parity checks
  --profile F.json      time every op of the first 200 steps (forward and backward, per layer): a table
                        sorted by time at the end, and a Chrome/Perfetto trace in F.json
  --conv-variant NAME   the convolution kernels on cpu, cuda and cuda-emu (tint op --list names them; the
                        same weights within the kernels' tolerance, at another speed)
  --precision P         fp32 (default) or tf32: on cuda and cuda-emu, tf32 multiplies the 3x3 convolutions
                        on the tensor cores (conv variant winograd2-tf32; operands rounded to 10 mantissa
                        bits, sums in fp32), as PyTorch does with allow_tf32
  --graph on|off        on cuda and cuda-emu, from the second step on, replay the step's forward + loss and
                        backward as two CUDA graphs captured once (one launch each instead of hundreds; the
                        same bits as op by op). Default on where it applies: the regression head without
                        --hints, one process, no --micro-batches and no --profile; a batch of another size
                        (the epoch's last, or one with bad files) runs op by op

The run folder holds checkpoint.safetensors (weights, Adam's moments, configuration, position; what
--resume reads), model.safetensors (weights for colorize, eval and PyTorch), log.csv, loss.svg (training
and validation loss against the step) and samples.png (grey | prediction | truth of the first validation
photos), the last three rewritten after every epoch.
On a terminal a progress bar is drawn per epoch. Ctrl-C (SIGINT) or SIGTERM finishes the current step,
writes the checkpoint and exits with status 130; a second Ctrl-C aborts at once.
Exit status: 0 done, 1 error (one line naming the flag, file or tensor), 130 interrupted (resumable).
)";

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
}

// Installs the stop-after-this-step handlers for the loop's lifetime. SA_RESETHAND: the second Ctrl-C gets
// the default action, so a stuck checkpoint write can still be aborted.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = 0;
    struct sigaction sa = {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

std::string default_samples(const std::string& split) {
  for (std::string base :
       {std::string("data/samples/"), fmt::format("{}/data/samples/", TINT_SOURCE_DIR_FOR_TOOLS)}) {
    if (fs::is_directory(base + split)) return base + split;
  }
  return "";
}

std::string absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal().string() : p.string();
}

struct Uploaded {
  Tensor L, ab, mask;
};

// The loader's batch buffers (pinned on a GPU) -> device tensors: samples [begin, end) of the batch.
Uploaded upload(const Batch& b, Device device, int64_t begin, int64_t end) {
  const int64_t n = end - begin, s = b.image_size;
  auto put = [&](const float* src, int64_t c) {
    Tensor t = Tensor::empty({n, c, s, s}, device);
    auto& rt = runtime(device);
    rt.backend.copy_from_host(rt.stream, t.data(), src + begin * c * s * s,
                              size_t(n * c * s * s) * sizeof(float));
    return t;
  };
  Uploaded u{put(b.L, 1), put(b.ab, 2), put(b.mask, 1)};
  runtime(device).synchronize();  // the batch's buffers go back to the loader when `b` dies
  return u;
}

// The classification head's soft targets (N, K, S, S) and per-pixel weights (N, 1, S, S) of a batch, encoded
// on the host from its ab and uploaded. `host` is reused between steps.
struct ClassTargets {
  Tensor target, weight;
};
ClassTargets class_targets(const models::ClassificationHead& head, const Batch& b, Device device,
                           std::vector<float>& host) {
  const int64_t n = b.size, s = b.image_size, k = head.bins.size(), hw = s * s;
  host.resize(size_t(n * k * hw + n * hw));
  float* target = host.data();
  float* weight = target + n * k * hw;
  cic::encode_targets(head.bins, head.class_weights, b.ab, int(n), hw, target, weight);
  ClassTargets t{Tensor::empty({n, k, s, s}, device), Tensor::empty({n, 1, s, s}, device)};
  auto& rt = runtime(device);
  rt.backend.copy_from_host(rt.stream, t.target.data(), target, size_t(n * k * hw) * sizeof(float));
  rt.backend.copy_from_host(rt.stream, t.weight.data(), weight, size_t(n * hw) * sizeof(float));
  rt.synchronize();  // `host` is rewritten by the next step
  return t;
}

// The network's input: L alone, or L and the simulated hints (data/hints.h) of each sample, drawn from
// (seed, epoch, first_sample + i) so that every run, worker count and resume sees the same hints.
Tensor model_input(const TrainConfig& config, const Uploaded& u, const Batch& b, int64_t epoch,
                   int64_t first_sample, Device device, std::vector<float>& host) {
  if (config.unet.in_channels == 1) return u.L;
  const int64_t n = b.size, s = b.image_size, hw = s * s;
  host.resize(size_t(n * 4 * hw));
  for (int64_t i = 0; i < n; ++i) {
    float* x = host.data() + i * 4 * hw;
    std::copy(b.L + i * hw, b.L + (i + 1) * hw, x);
    hints::simulate(config.seed, epoch, first_sample + i, b.ab + 2 * i * hw, b.mask + i * hw, int(s), -1,
                    x + hw);
  }
  Tensor t = Tensor::empty({n, 4, s, s}, device);
  auto& rt = runtime(device);
  rt.backend.copy_from_host(rt.stream, t.data(), host.data(), host.size() * sizeof(float));
  rt.synchronize();
  return t;
}

// The loss of either head on one batch.
// `count` is the whole batch's element count when the batch is trained in parts (0: this part's own).
Tensor batch_loss(const TrainConfig& config, const Tensor& out, const Uploaded& u, const Batch& b,
                  Device device, std::vector<float>& host, double count = 0) {
  const Tensor mask = config.mask ? u.mask : Tensor();
  if (config.classification) {
    const ClassTargets t = class_targets(*config.classification, b, device, host);
    return ops::softmax_cross_entropy(out, t.target, t.weight, mask);
  }
  return config.loss == "l1" ? ops::l1_loss(out, u.ab, mask, count) : ops::mse_loss(out, u.ab, mask, count);
}

// The classification head's bins and class weights: the bins sRGB reaches, and the rebalancing weights from
// the nearest-bin counts of every real pixel of the training set (one pass, as training sees the photos but
// unflipped).
models::ClassificationHead compute_class_prior(const std::vector<std::string>& files,
                                               const LoaderOptions& base) {
  cic::AbBins bins = cic::gamut_bins();
  LoaderOptions o = base;
  o.shuffle = false, o.flip = false, o.epochs = 1, o.drop_last = false;
  o.start_epoch = 0, o.start_position = 0;
  o.warn = [](const std::string&) {};  // the training loader reports them
  Loader loader(files, o);
  std::vector<double> counts;
  int64_t images = 0;
  while (auto batch = loader.next()) {
    cic::count_bins(bins, batch->ab, batch->mask, batch->size, int64_t(batch->image_size) * batch->image_size,
                    counts);
    images += batch->size;
  }
  double pixels = 0;
  for (double c : counts) pixels += c;
  std::vector<float> weights = cic::class_weights(bins, counts);
  const auto [lo, hi] = std::minmax_element(weights.begin(), weights.end());
  fmt::print("class prior: {} ab bins, {:.0f} real pixels of {} images; class weights {:.3f}..{:.3f}\n",
             bins.size(), pixels, images, *lo, *hi);
  return models::ClassificationHead{std::move(bins), std::move(weights)};
}

struct ValResult {
  double loss = 0;
  AbIntersection hi;
  int64_t images = 0;
  std::vector<std::vector<Image>> samples;  // grey | prediction | truth of the first validation images
};

constexpr int kSampleRows = 6;

// The run folder's loss curve (loss.svg) from its log.csv: training loss and, where there is one, the
// validation loss, against the step. Rewritten after every epoch, so it is always current.
void write_loss_plot(const std::string& log_path, const std::string& svg_path) {
  std::ifstream in(log_path);
  std::string line;
  std::getline(in, line);  // header: step,epoch,train_loss,val_loss,...
  figures::Series train{"training loss (mean over the epoch)", "#1f77b4", {}, {}, false};
  figures::Series val{"validation loss", "#d62728", {}, {}, false};
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    size_t start = 0;
    for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1)
      cells.push_back(line.substr(start, comma - start));
    cells.push_back(line.substr(start));
    if (cells.size() < 4 || cells[0].empty() || cells[2].empty()) continue;
    const double step = std::strtod(cells[0].c_str(), nullptr);
    train.xs.push_back(step), train.ys.push_back(std::strtod(cells[2].c_str(), nullptr));
    if (!cells[3].empty()) val.xs.push_back(step), val.ys.push_back(std::strtod(cells[3].c_str(), nullptr));
  }
  if (train.xs.empty()) return;
  std::vector<figures::Series> series{train};
  if (!val.xs.empty()) series.push_back(val);
  figures::write_line_plot_svg(svg_path, "tint train: loss", "step", "loss", series, true);
}

ValResult validate(models::UNet& unet, const std::vector<std::string>& files, const LoaderOptions& base,
                   Device device, const TrainConfig& config) {
  ValResult r;
  if (files.empty()) return r;
  LoaderOptions o = base;
  o.shuffle = false, o.flip = false, o.epochs = 1, o.drop_last = false, o.fit = FitMode::pad;
  o.start_epoch = 0, o.start_position = 0;
  o.shard_count = 0;                   // rank 0 validates on the whole set
  o.warn = [](const std::string&) {};  // already reported by the training scan
  Loader loader(files, o);
  NoGradGuard no_grad;
  unet.eval();
  PooledAbHistograms hist;
  double weighted = 0;
  std::vector<float> host, input_host;
  while (auto batch = loader.next()) {
    Uploaded u = upload(*batch, device, 0, batch->size);
    // Validation images get the same simulated hints every epoch (epoch -1, their index in file order).
    Tensor out = unet(model_input(config, u, *batch, -1, r.images, device, input_host));
    Tensor loss = batch_loss(config, out, u, *batch, device, host);
    Tensor pred =
        config.classification
            ? ops::annealed_mean_decode(out,
                                        Tensor::from_vector(config.classification->bins.scaled_centres(),
                                                            {config.classification->bins.size(), 2}, device),
                                        unet.temperature())
            : out;
    weighted += double(loss.item()) * batch->size;
    r.images += batch->size;
    const int64_t hw = int64_t(batch->image_size) * batch->image_size;
    std::vector<float> p = pred.to_vector();
    hist.add_batch(p.data(), batch->ab, batch->mask, batch->size, hw);
    for (int i = 0; i < batch->size; ++i) {
      const float* m = batch->mask + i * hw;
      if (int(r.samples.size()) < kSampleRows) {
        const float* L = batch->L + i * hw;
        const int s = batch->image_size;
        r.samples.push_back(
            {padded_sample_to_image(L, nullptr, nullptr, m, s),
             padded_sample_to_image(L, p.data() + (2 * i) * hw, p.data() + (2 * i + 1) * hw, m, s),
             padded_sample_to_image(L, batch->ab + (2 * i) * hw, batch->ab + (2 * i + 1) * hw, m, s)});
      }
    }
  }
  unet.train();
  r.loss = r.images ? weighted / double(r.images) : 0;
  r.hi = hist.intersection();
  return r;
}

// Sums a and b (Lab units) over the batch's real pixels, for the data set's mean colour.
void accumulate_mean_ab(const Batch& b, TrainProgress& p) {
  const int64_t hw = int64_t(b.image_size) * b.image_size;
  for (int i = 0; i < b.size; ++i) {
    const float* a = b.ab + 2 * i * hw;
    const float* bb = a + hw;
    const float* m = b.mask + i * hw;
    for (int64_t k = 0; k < hw; ++k)
      if (m[k] > 0.5f) {
        p.sum_a += double(a[k]) * 110.0;
        p.sum_b += double(bb[k]) * 110.0;
        p.pixels++;
      }
  }
}

// The loss's element count over samples [begin, end): a and b of every real pixel (every pixel unmasked).
// Exact in double; the loss kernels count the same way.
double loss_elements(const Batch& b, int64_t begin, int64_t end, bool masked) {
  const int64_t hw = int64_t(b.image_size) * b.image_size;
  if (!masked) return double(2 * hw * (end - begin));
  double ones = 0;
  for (const float* m = b.mask + begin * hw; m < b.mask + end * hw; ++m) ones += double(*m);
  return 2 * ones;
}

// Step timings of a distributed run, for the scaling line it prints at the end.
struct StepTimes {
  int64_t steps = 0, images = 0;
  double step_s = 0, comm_s = 0;
};

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

// The run folder this command writes. A folder it created is removed again if the command fails before
// its first checkpoint, so failed commands leave nothing behind.
class RunFolder {
 public:
  // `created`: the folders this command made, innermost (the run folder) first.
  RunFolder(std::string path, std::vector<fs::path> created)
      : path_(std::move(path)), created_(std::move(created)) {}
  ~RunFolder() {
    if (kept_) return;
    std::error_code ec;
    if (created_.empty()) {
      if (wrote_log_) fs::remove(fs::path(path_) / kLogFile, ec);
      return;
    }
    fs::remove_all(created_[0], ec);
    // Parents (runs/) only while empty: another run may have been started in them meanwhile.
    for (size_t i = 1; i < created_.size(); ++i)
      if (!fs::remove(created_[i], ec)) break;
  }
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const char* name) const { return (fs::path(path_) / name).string(); }
  void wrote_log() { wrote_log_ = true; }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  std::vector<fs::path> created_;
  bool wrote_log_ = false, kept_ = false;
};

bool holds_a_run(const std::string& dir) {
  std::error_code ec;
  for (const char* f : {kCheckpointFile, kModelFile, kOldOptimizerFile, kLogFile})
    if (fs::exists(fs::path(dir) / f, ec)) return true;
  return false;
}

// Creates (or checks) the folder --out names; errors name the flag and the reason.
std::vector<fs::path> prepare_out_folder(const std::string& out, bool overwrite) {
  std::error_code ec;
  std::vector<fs::path> created;
  const bool existed = fs::exists(out, ec);
  if (existed) {
    TINT_CHECK(fs::is_directory(out, ec), "--out '{}' is a file, not a folder", out);
    if (holds_a_run(out)) {
      TINT_CHECK(overwrite,
                 "--out '{}' already holds a run (checkpoint, model or log); pass --resume {} to continue "
                 "it, or --overwrite to replace it",
                 out, out);
      for (const char* f : {kCheckpointFile, kModelFile, kOldOptimizerFile, kLogFile})
        fs::remove(fs::path(out) / f, ec);
    }
  } else {
    for (fs::path p = fs::absolute(out).lexically_normal(); !p.empty() && !fs::exists(p, ec);
         p = p.parent_path()) {
      if (p.filename().empty()) p = p.parent_path();  // "runs/new/" ends in an empty name
      created.push_back(p);
      if (p == p.parent_path()) break;
    }
    fs::create_directories(out, ec);
    TINT_CHECK(!ec, "--out '{}': cannot create the run folder: {}", out, ec.message());
  }
  TINT_CHECK(::access(out.c_str(), W_OK | X_OK) == 0, "--out '{}': the folder is not writable", out);
  return created;
}

// A flag given on --resume must agree with the run's configuration.
template <typename T>
void must_match(const char* flag, bool given, const T& flag_value, const T& stored,
                const std::string& checkpoint) {
  if (given && !(flag_value == stored))
    throw Error(
        fmt::format("--{} {} contradicts the run being resumed ({} in '{}'); a resumed run keeps its "
                    "configuration",
                    flag, flag_value, stored, checkpoint));
}

int train(int argc, char** argv, std::unique_ptr<Comm>& comm) {
  Args args(argc, argv,
            Options{{"no-mask", "overwrite", "distributed", "hints"},
                    {"data",       "val",          "size",         "fit",           "workers", "width",
                     "levels",     "loss",         "lr",           "weight-decay",  "batch",   "device",
                     "epochs",     "steps",        "seed",         "out",           "resume",  "log-every",
                     "dump-graph", "dump-batches", "comm-timeout", "micro-batches", "profile", "head",
                     "cache-mb",   "conv-variant", "precision",    "graph"},
                    1,
                    ""});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  TINT_CHECK(args.positional().empty(),
             "unexpected argument '{}' (options take the form --name value; did you mean "
             "--data {}?)",
             args.positional()[0], args.positional()[0]);

  // From here on Ctrl-C means "stop after the current step, with a checkpoint", never a half-made folder.
  InterruptScope interrupts;

  // ---- every flag checked before anything is created ----------------------------------------------------
  const Device device = Device::parse(args.get("device", "cpu"));
  if (args.has("conv-variant")) select_conv_variant(device, "--conv-variant", args.get("conv-variant", ""));
  select_precision(device, args.get("precision", ""), args.get("conv-variant", ""));
  const int launched = launcher_world_size();
  const bool distributed = args.has("distributed") || launched > 1;
  const double comm_timeout = args.get_double("comm-timeout", 600, 1, 86400);
  const int micro_batches = args.get_int("micro-batches", 1, 1, 4096);
  TINT_CHECK(!distributed || micro_batches == 1,
             "--micro-batches {} with --distributed: each rank already trains on its part of the batch; "
             "use one or the other",
             micro_batches);
  TINT_CHECK((!distributed && micro_batches == 1) || !args.has("dump-batches"),
             "--dump-batches writes one process's whole batches; it does not combine with --distributed or "
             "--micro-batches");
  // Before the device is first used: on cuda the rank's GPU is chosen here.
  comm = distributed ? Comm::distributed(device.kind, comm_timeout) : Comm::single();
  const bool lead = comm->rank() == 0;  // writes the run folder and prints
  TINT_CHECK(device.available(), "device '{}' is not available in this build or on this machine",
             device.str());
  TrainConfig config;
  config.unet.width = args.get_int("width", 64, 1, 1024);
  config.unet.levels = args.get_int("levels", 4, 1, 6);
  config.image_size = args.get_int("size", 256, 8, 8192);
  config.batch = args.get_int("batch", 8, 1, 4096);
  const std::string head = args.get("head", "regression");
  TINT_CHECK(head == "regression" || head == "classification",
             "--head must be regression or classification, got '{}'", head);
  config.loss = args.get("loss", "l2");
  TINT_CHECK(config.loss == "l1" || config.loss == "l2", "--loss must be l1 or l2, got '{}'", config.loss);
  if (head == "classification") {
    TINT_CHECK(!args.has("loss"),
               "--loss {} is for the regression head; the classification head's loss is the weighted "
               "cross-entropy over ab bins",
               config.loss);
    config.loss = "ce";
  }
  config.unet.in_channels = args.has("hints") ? 4 : 1;
  config.fit = args.get("fit", "pad");
  TINT_CHECK(config.fit == "pad" || config.fit == "crop", "--fit must be pad or crop, got '{}'", config.fit);
  config.mask = !args.has("no-mask");
  const double lr = args.get_double("lr", 3e-4, 0, 10);
  TINT_CHECK(lr > 0, "--lr must be above 0, got {}", lr);
  config.lr = float(lr);
  config.weight_decay = float(args.get_double("weight-decay", 0, 0, 10));
  config.seed = uint64_t(args.get_int("seed", 0, 0, 2147483647));
  // Absent, they mean "one per core" and "no step limit".
  const int workers = args.has("workers") ? args.get_int("workers", 0, 1, 64) : 0;
  const int cache_mb = args.get_int("cache-mb", 1024, 0, 1 << 20);
  const int64_t max_steps = args.has("steps") ? args.get_int("steps", 0, 1, 2147483647) : 0;
  config.epochs = args.get_int("epochs", 10, 1, 1000000);
  if (args.has("steps") && !args.has("epochs")) config.epochs = 0;  // the step limit ends the run
  const int log_every = args.get_int("log-every", 10, 1, 1000000);
  const std::string dump_graph = args.get("dump-graph", ""), dump_batches = args.get("dump-batches", "");
  const bool overwrite = args.has("overwrite");

  // ---- resume: the configuration comes from the checkpoint ----------------------------------------------
  const std::string resume = args.get("resume", "");
  std::optional<Checkpoint> ck;
  std::string out = args.get("out", "");
  if (!resume.empty()) {
    TINT_CHECK(!overwrite,
               "--resume and --overwrite contradict each other (continue the run, or replace it?)");
    TINT_CHECK(out.empty() || absolute(out) == absolute(resume),
               "--out '{}' differs from --resume '{}': a resumed run continues in its own folder", out,
               resume);
    out = resume;
    ck = read_checkpoint(checkpoint_in_run_folder(resume));
    const TrainConfig& s = ck->config;
    const std::string& f = ck->path;
    must_match("width", args.has("width"), config.unet.width, s.unet.width, f);
    must_match("levels", args.has("levels"), config.unet.levels, s.unet.levels, f);
    must_match("size", args.has("size"), config.image_size, s.image_size, f);
    must_match("batch", args.has("batch"), config.batch, s.batch, f);
    must_match("head", args.has("head"), head,
               std::string(s.classification ? "classification" : "regression"), f);
    must_match("loss", args.has("loss"), config.loss, s.loss, f);
    TINT_CHECK(
        !args.has("hints") || s.unet.in_channels == 4,
        "--hints contradicts the run being resumed (it was trained without hints, in '{}'); a resumed run "
        "keeps its configuration",
        f);
    must_match("fit", args.has("fit"), config.fit, s.fit, f);
    TINT_CHECK(!args.has("no-mask") || !s.mask,
               "--no-mask contradicts the run being resumed (it masks the loss, "
               "in '{}'); a resumed run keeps its configuration",
               f);
    must_match("lr", args.has("lr"), config.lr, s.lr, f);
    must_match("weight-decay", args.has("weight-decay"), config.weight_decay, s.weight_decay, f);
    must_match("seed", args.has("seed"), config.seed, s.seed, f);
    must_match("data", args.has("data"), absolute(args.get("data", "")), s.data, f);
    const int64_t epochs = args.has("epochs") ? config.epochs : s.epochs;
    const std::string val = args.has("val") ? absolute(args.get("val", "")) : s.val;
    config = s;
    config.epochs = epochs;
    config.val = val;
    const TrainProgress& p = ck->progress;
    if (config.epochs > 0)
      TINT_CHECK(p.epoch < config.epochs,
                 "--resume '{}': the run has finished its {} epoch{} (step {}); pass "
                 "--epochs N with N > {} to train it further",
                 resume, p.epoch, p.epoch == 1 ? "" : "s", p.step, p.epoch);
    else
      TINT_CHECK(max_steps > 0,
                 "--resume '{}': the run has no epoch limit (it was started with --steps only); pass "
                 "--steps N or --epochs N",
                 resume);
    TINT_CHECK(max_steps == 0 || max_steps > p.step, "--steps {}: the run in '{}' is already at step {}",
               max_steps, resume, p.step);
  } else {
    TINT_CHECK(config.image_size % (1 << config.unet.levels) == 0,
               "--size {} must be a multiple of 2^levels = {} "
               "(--levels {})",
               config.image_size, 1 << config.unet.levels, config.unet.levels);
    std::string data_dir = args.get("data", ""), val_dir = args.get("val", "");
    if (data_dir.empty()) {
      data_dir = default_samples("train");
      TINT_CHECK(!data_dir.empty(),
                 "no --data given and the embedded sample (data/samples/train) was not found; "
                 "run from the repository root or pass --data DIR");
      if (!args.has("val")) val_dir = default_samples("val");
    }
    config.data = absolute(data_dir);
    config.val = absolute(val_dir);
  }
  const int world = comm->world();
  TINT_CHECK(micro_batches <= config.batch, "--micro-batches {} is more than the batch of {}", micro_batches,
             config.batch);
  TINT_CHECK(config.batch >= world,
             "--batch {} is the global batch: it must give each of the {} ranks a sample", config.batch,
             world);
  // CUDA graphs (engine/graph.h): the plain regression step only. Its inputs are the three uploaded tensors;
  // the classification targets and the hints are made on the host inside the step, and the parts of a split
  // batch and the profiler's per-op timing need the step op by op.
  const std::string graph_flag = args.get("graph", "auto");
  TINT_CHECK(graph_flag == "auto" || graph_flag == "on" || graph_flag == "off", "--graph {}: expected on or off",
             graph_flag);
  const bool graph_applies = CapturedGraph::supported(device) && !distributed && micro_batches == 1 &&
                             config.loss != "ce" && config.unet.in_channels == 1 && !args.has("profile");
  if (graph_flag == "on")
    TINT_CHECK(graph_applies,
               "--graph on: CUDA graphs need --device cuda or cuda-emu and the regression head without --hints, "
               "--distributed, --micro-batches or --profile");
  const bool use_graph = graph_flag != "off" && graph_applies;
  // The classification targets and the simulated hints are made for a whole batch on the host; splitting
  // a batch into parts is written for the regression losses only so far.
  TINT_CHECK((!distributed && micro_batches == 1) || (config.loss != "ce" && config.unet.in_channels == 1),
             "--distributed and --micro-batches train the regression head without --hints only (for now); "
             "this run asks for {}",
             config.loss == "ce" ? "--head classification" : "--hints");

  std::vector<std::string> files = scan_images(config.data);
  TINT_CHECK(!files.empty(), "no images found under '{}'", config.data);
  std::vector<std::string> val_files =
      config.val.empty() || !lead ? std::vector<std::string>{} : scan_images(config.val);
  TrainProgress progress;
  if (ck) {
    progress = ck->progress;
    TINT_CHECK(int64_t(files.size()) == progress.files,
               "--resume: '{}' now has {} images, the run was trained on {}; "
               "the data order would differ, so it cannot resume exactly",
               config.data, files.size(), progress.files);
  }
  progress.files = int64_t(files.size());

  LoaderOptions lo;
  lo.image_size = config.image_size;
  lo.batch_size = config.batch;
  lo.workers = workers;
  lo.cache_bytes = int64_t(cache_mb) << 20;
  lo.seed = config.seed;
  lo.fit = config.fit == "crop" ? FitMode::crop : FitMode::pad;
  lo.epochs = config.epochs;
  lo.start_epoch = progress.epoch;
  lo.start_position = progress.epoch_position;
  if (distributed) lo.shard_index = comm->rank(), lo.shard_count = world;
  const Backend& backend = device.backend();
  if (backend.alloc_pinned) lo.allocator = HostAllocator{backend.alloc_pinned, backend.free_pinned};

  if (config.loss == "ce" && !config.classification) {
    config.classification = compute_class_prior(files, lo);
    config.unet.bins = config.classification->bins.size();
  }
  Rng rng(config.seed + 1);
  models::UNet unet(config.unet, rng);
  if (config.classification)
    unet.set_decode(
        Tensor::from_vector(config.classification->bins.scaled_centres(), {config.unet.bins, 2}, device),
        cic::kDefaultTemperature);
  nn::FlatParameters flat = nn::flatten_parameters(unet, device);
  AdamHyper hyper;
  hyper.lr = config.lr;
  hyper.weight_decay = config.weight_decay;
  optim::Adam adam(flat, hyper);
  if (ck) {
    restore_checkpoint(*ck, unet, flat, adam);
    ck->file = {};  // the tensors are copied; free the host copies
  }
  // Every rank built the same weights from the seed (or read the same checkpoint); rank 0's are sent anyway,
  // so that ranks can never start apart.
  comm->broadcast(flat.params, 0, "the initial weights");
  const int64_t start_step = progress.step;

  // Checked before the run folder exists, so a bad path leaves nothing behind.
  const std::string profile_path = args.get("profile", "");
  if (args.has("profile") && lead) check_profile_path(profile_path);
  if (!dump_graph.empty() && lead) {
    std::ofstream probe(dump_graph);
    TINT_CHECK(probe.good(), "--dump-graph '{}': cannot write this file", dump_graph);
  }
  if (!dump_batches.empty()) {
    std::error_code ec;
    fs::create_directories(dump_batches, ec);
    TINT_CHECK(!ec && fs::is_directory(dump_batches), "--dump-batches '{}': cannot create the folder{}",
               dump_batches, ec ? ": " + ec.message() : std::string());
  }

  Loader loader(files, lo);  // starts its threads: a failure names --workers

  // ---- the run folder (rank 0's) ------------------------------------------------------------------------
  if (out.empty()) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    out = std::string("runs/train-") + stamp;
  }
  RunFolder folder(out,
                   resume.empty() && lead ? prepare_out_folder(out, overwrite) : std::vector<fs::path>{});
  if (!resume.empty() && lead) {
    folder.keep();  // a resumed run's folder is never removed
    TINT_CHECK(::access(out.c_str(), W_OK | X_OK) == 0, "--resume '{}': the folder is not writable", out);
  }
  std::ofstream log;
  if (lead) {
    for (const std::string& name : remove_stale_temporaries(out))
      fmt::print("removed {}/{}, left by an interrupted write\n", out, name);
    const bool append = !resume.empty() && fs::exists(folder.file(kLogFile));
    log.open(folder.file(kLogFile), append ? std::ios::app : std::ios::trunc);
    TINT_CHECK(log.good(), "cannot write '{}'", folder.file(kLogFile));
    folder.wrote_log();
    if (!append) log << "step,epoch,train_loss,val_loss,val_hi_a,val_hi_b,seconds\n";

    if (ck)
      fmt::print("resumed {} at step {} (epoch {}, after {} batch{} of it)\n", resume, progress.step,
                 progress.epoch + 1, progress.epoch_batches, progress.epoch_batches == 1 ? "" : "es");
    fmt::print(
        "tint train: {} images in {} ({} for validation), U-Net width {} levels {} ({:.2f} M parameters), "
        "{} loss{}, batch {} of {}x{} ({}), Adam lr {}, {}, on {}\n",
        files.size(), config.data, val_files.size(), config.unet.width, config.unet.levels,
        unet.parameter_count() / 1e6,
        config.classification
            ? fmt::format("classification head ({} ab bins), weighted cross-entropy", config.unet.bins)
            : config.loss,
        config.mask ? " (masked to real pixels)" : "",
        config.batch, config.image_size, config.image_size, config.fit, config.lr,
        config.epochs > 0 ? fmt::format("{} epoch{}", config.epochs, config.epochs == 1 ? "" : "s")
                          : fmt::format("{} steps", max_steps),
        device.str());
    if (distributed)
      fmt::print(
          "distributed{}: {} rank{} ({}), {} sample{} of each batch per rank, gradients summed in {}\n",
          args.has("distributed") ? "" : " (started by an MPI launcher)", world, world == 1 ? "" : "s",
          comm->kind(), config.batch / world, config.batch / world == 1 ? "" : "s",
          comm->kind() == "nccl" ? "NCCL's order" : "rank order");
    if (micro_batches > 1)
      fmt::print("micro-batches: {} per batch, gradients summed in order\n", micro_batches);
    if (use_graph) fmt::print("CUDA graphs: the step replayed from step 2 of this invocation (--graph off: op by op)\n");
    if (is_tf32_variant(selected_conv_variant(device)))
      fmt::print("precision: TF32 tensor cores for the 3x3 convolutions (conv variant {}), fp32 elsewhere\n",
                 selected_conv_variant(device));
    fmt::print("run folder: {}\n", out);
    std::fflush(stdout);
  }

  std::ofstream losses;
  auto dump_path = [&](const std::string& name) { return (fs::path(dump_batches) / name).string(); };
  if (!dump_batches.empty()) {
    std::vector<std::pair<std::string, Tensor>> init;
    for (auto& [name, t] : flat.named) init.emplace_back(name, *t);
    io::save_safetensors(dump_path("init.safetensors"), init, models::model_metadata(config.unet));
    losses.open(dump_path("losses.csv"), std::ios::trunc);
    TINT_CHECK(losses.good(), "--dump-batches: cannot write '{}'", dump_path("losses.csv"));
    losses << "step,loss\n";
  }

  auto write_checkpoint = [&](const std::string& why) {
    // Never replace a good checkpoint with a diverged model.
    TINT_CHECK(all_finite(flat.params),
               "the weights hold NaN or infinity at step {}; the checkpoint in '{}' is "
               "not replaced (try a lower --lr than {})",
               progress.step, out, config.lr);
    TINT_CHECK(all_finite(adam.m) && all_finite(adam.v),
               "Adam's moments hold NaN or infinity at step {}; the "
               "checkpoint in '{}' is not replaced (try a lower --lr than {})",
               progress.step, out, config.lr);
    save_checkpoint(folder.file(kCheckpointFile), flat, adam, config, progress);
    std::map<std::string, std::string> meta =
        models::model_metadata(config.unet, config.classification ? &*config.classification : nullptr);
    meta.insert({{"image_size", std::to_string(config.image_size)},
                 {"loss", config.loss},
                 {"step", std::to_string(progress.step)},
                 {"mean_ab", progress.mean_ab()}});
    models::save_unet(folder.file(kModelFile), unet, meta);
    folder.keep();
    fmt::print("checkpoint ({}): {} at step {}\n", why, folder.file(kCheckpointFile), progress.step);
  };

  Progress show(lead && isatty(fileno(stdout)) != 0, log_every, config.epochs);
  const int64_t epoch_images = int64_t(files.size());
  auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double running = 0;
  int running_n = 0;
  int64_t images = 0, epoch_done_images = 0;
  CachingAllocator& allocator = runtime(device).allocator;
  uint64_t late_allocs = 0, late_frees = 0;  // backend allocations in steps after this invocation's first
  bool interrupted = false;
  std::optional<profiler::Session> profile;
  if (!profile_path.empty() && lead) profile.emplace(device);
  static const std::string kLossScope = "loss", kAdamScope = "adam";
  StepTimes times;
  int64_t epoch_samples = 0;
  bool whole_epoch = false;  // whether this command saw the epoch from its start
  // One batch is split into parts: this rank's share when distributed (the loader already cut it), or the
  // micro-batches. Their losses are normalised by the whole batch's count, so that the parts' gradients sum
  // to the whole batch's gradient.
  const bool split = distributed || micro_batches > 1;
  std::vector<float> target_host, input_host;
  // --graph: the step's forward + loss and backward, captured at this invocation's second step and replayed
  // for every batch of the captured size. The graphs write the gradients the captured backward reached,
  // overwriting them (zero_grad had left them pending), so after each replay the pending marks are set as
  // the capture left them. Members are destroyed bottom up: the graphs, their pool, then the tensors.
  struct StepGraph {
    int64_t batch = 0;
    Tensor L, ab, mask, loss;
    std::vector<char> pending_after;
    std::unique_ptr<GraphPool> pool;
    std::unique_ptr<CapturedGraph> forward, backward;
  };
  std::unique_ptr<StepGraph> graph;
  int64_t eager_steps = 0;

  for (;;) {
    if (profile) profile->step_begin();
    std::optional<Batch> batch;
    {
      profiler::Phase phase("data wait");
      batch = loader.next();
    }
    if (!batch) break;
    const auto step_start = std::chrono::steady_clock::now();
    double comm_s = 0;
    auto timed = [&](auto&& collective) {
      const auto t0 = std::chrono::steady_clock::now();
      collective();
      comm_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const int64_t epoch = batch->epoch;
    const int64_t step = progress.step + 1;
    const CachingAllocator::Stats before = allocator.stats();
    // Counts over the global batch: the loss's elements, the samples, and the training set's colour sums.
    TrainProgress colour;
    const bool sum_colour = epoch == 0 && !progress.mean_complete;
    if (sum_colour) accumulate_mean_ab(*batch, distributed ? colour : progress);
    std::vector<double> totals{loss_elements(*batch, 0, batch->size, config.mask), double(batch->size),
                               colour.sum_a, colour.sum_b, double(colour.pixels)};
    timed([&] { comm->all_reduce_sum(totals, fmt::format("the batch counts of step {}", step)); });
    const int64_t global_samples = int64_t(totals[1]);
    // The unsharded loader refuses an epoch without a usable image itself; the ranks' parts only know
    // together.
    if (progress.epoch_position == 0) epoch_samples = 0, whole_epoch = true;
    epoch_samples += global_samples;
    TINT_CHECK(epoch_samples > 0 || !batch->last_in_epoch || !whole_epoch,
               "no usable image among the {} files of '{}' in epoch {}", files.size(), config.data,
               epoch + 1);
    if (sum_colour && distributed) {
      progress.sum_a += totals[2], progress.sum_b += totals[3];
      progress.pixels += int64_t(totals[4]);
    }

    {
      profiler::Scope scope(kAdamScope);
      adam.zero_grad();
    }
    double value = 0;
    const int parts = distributed ? 1 : micro_batches;
    for (int k = 0; k < parts; ++k) {
      const ShardRange part = batch_shard(batch->size, k, parts);
      if (part.size() == 0) continue;  // adds nothing to the gradients
      // A replay needs the captured batch size (and one step op by op before the capture, so that caches and
      // workspaces exist and --dump-graph sees the autograd graph).
      const bool replay = use_graph && eager_steps > 0 && (graph ? graph->batch == batch->size : true);
      Uploaded u;
      {
        profiler::Phase phase("upload");
        if (replay && !graph) {
          graph = std::make_unique<StepGraph>();
          graph->batch = batch->size;
          graph->pool = std::make_unique<GraphPool>(device);
          const int64_t n = batch->size, s = batch->image_size;
          graph->L = Tensor::empty({n, 1, s, s}, device);
          graph->ab = Tensor::empty({n, 2, s, s}, device);
          graph->mask = Tensor::empty({n, 1, s, s}, device);
        }
        if (replay) {
          u = {graph->L, graph->ab, graph->mask};
          auto& rt = runtime(device);
          for (auto [dst, src] : {std::pair{&u.L, batch->L}, {&u.ab, batch->ab}, {&u.mask, batch->mask}})
            rt.backend.copy_from_host(rt.stream, dst->data(), src, size_t(dst->numel()) * sizeof(float));
          rt.synchronize();  // the batch's buffers go back to the loader when `batch` dies
        } else {
          u = upload(*batch, device, part.begin, part.end);
        }
      }
      Tensor loss;
      const auto forward = [&] {
        // Without parts, the part is the whole batch (the only case with classification or hints).
        Tensor pred = unet(
            model_input(config, u, *batch, epoch, batch->end_position - batch->size, device, input_host));
        const double count = split ? totals[0] : 0;
        profiler::Scope scope(kLossScope);
        loss = batch_loss(config, pred, u, *batch, device, target_host, count);
      };
      {
        profiler::Phase phase("forward");
        if (replay && !graph->forward) {
          graph->forward = std::make_unique<CapturedGraph>(*graph->pool, forward);
          graph->loss = loss;
        }
        if (replay)
          graph->forward->replay(), loss = graph->loss;
        else
          forward();
      }
      if (!dump_graph.empty() && lead && progress.step == start_step && k == 0)
        write_graphviz(loss, dump_graph);
      {
        profiler::Phase phase("backward");
        if (replay && !graph->backward) {
          graph->backward = std::make_unique<CapturedGraph>(*graph->pool, [&] { loss.backward(); });
          graph->pending_after = flat.pending_marks();
        }
        if (replay) {
          graph->backward->replay();
          flat.set_pending_marks(graph->pending_after);
        } else {
          loss.backward();
          ++eager_steps;
        }
        value += double(loss.item());
      }
      if (!dump_batches.empty()) {
        const std::string stem = dump_path(fmt::format("step_{:06d}", step));
        io::save_npy(stem + "_L.npy", u.L);
        io::save_npy(stem + "_ab.npy", u.ab);
        io::save_npy(stem + "_mask.npy",
                     config.mask ? u.mask
                                 : Tensor::from_vector(std::vector<float>(size_t(u.mask.numel()), 1.f),
                                                       u.mask.shape()));
      }
    }
    flat.finish_grads();
    timed([&] { comm->all_reduce_sum(flat.grads, fmt::format("the gradients of step {}", step)); });
    // The loss for the log and whether any rank was asked to stop, so that all stop after the same step.
    std::vector<double> after{value, g_interrupted != 0 ? 1.0 : 0.0};
    timed([&] { comm->all_reduce_sum(after, fmt::format("the loss of step {}", step)); });
    value = after[0];
    if (!std::isfinite(value)) {
      show.finish_line();
      // Keep the last good checkpoint: do not update the weights, do not save.
      // Loaded weights were checked finite, so only steps taken here can be blamed on --lr.
      const std::string cause =
          progress.step > start_step
              ? fmt::format("The training diverged: try a lower --lr than {}", config.lr)
          : ck ? fmt::format(
                     "This is the first step from '{}', whose weights and moments are finite: the model "
                     "it holds overflows on this batch",
                     ck->path)
               : std::string("This is the first step, from freshly initialised weights: check the data");
      throw Error(fmt::format("the loss became {} at step {} (batch of {}, first file '{}'); {}. {}", value,
                              step, global_samples, batch->paths.empty() ? "?" : batch->paths[0],
                              fs::exists(folder.file(kCheckpointFile))
                                  ? "the last good checkpoint in '" + out + "' is kept"
                                  : "no checkpoint was written",
                              cause));
    }
    if (global_samples > 0) {  // a global batch of bad files only: no gradient, no step
      profiler::Phase phase("optimiser");
      profiler::Scope scope(kAdamScope);
      adam.step();
    }
    if (profile) profile->step_end();
    if (progress.step > start_step) {
      const CachingAllocator::Stats after_stats = allocator.stats();
      late_allocs += after_stats.backend_allocs - before.backend_allocs;
      late_frees += after_stats.backend_frees - before.backend_frees;
      runtime(device).synchronize();
      times.steps++;
      times.images += global_samples;
      times.step_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
      times.comm_s += comm_s;
    }
    if (!dump_batches.empty()) losses << fmt::format("{},{:.9g}\n", step, value) << std::flush;
    if (sum_colour) progress.mean_complete = batch->last_in_epoch;
    progress.step++;
    progress.epoch = batch->end_position / progress.files;
    progress.epoch_position = batch->end_position % progress.files;
    progress.epoch_batches = batch->last_in_epoch ? 0 : progress.epoch_batches + 1;
    images += global_samples;
    epoch_done_images = batch->last_in_epoch ? epoch_images : batch->end_position - epoch * progress.files;
    running += value;
    ++running_n;
    if (lead)
      show.step(progress.step, epoch, epoch_done_images, epoch_images, running / running_n,
                batch->last_in_epoch, images / std::max(seconds(), 1e-9));

    const bool stop = max_steps > 0 && progress.step >= max_steps;
    interrupted = after[1] > 0;
    if (batch->last_in_epoch || stop || interrupted) {
      if (lead) {
        show.finish_line();
        ValResult v;
        if (!interrupted) v = validate(unet, val_files, lo, device, config);
        if (v.images)
          fmt::print(
              "epoch {:3d} validation: loss {:.5f}, histogram intersection a {:.3f} b {:.3f} ({} images)\n",
              epoch + 1, v.loss, v.hi.a, v.hi.b, v.images);
        log << fmt::format("{},{},{:.6f},{},{},{},{:.1f}\n", progress.step, epoch + 1, running / running_n,
                           v.images ? fmt::format("{:.6f}", v.loss) : "",
                           v.images ? fmt::format("{:.4f}", v.hi.a) : "",
                           v.images ? fmt::format("{:.4f}", v.hi.b) : "", seconds());
        log.flush();
        TINT_CHECK(log.good(), "cannot write '{}' (disk full?)", folder.file(kLogFile));
        write_loss_plot(folder.file(kLogFile), folder.file("loss.svg"));
        if (!v.samples.empty()) figures::write_image_grid(folder.file("samples.png"), v.samples, 128);
        write_checkpoint(interrupted ? std::string("interrupted")
                         : stop      ? std::string("end")
                                     : fmt::format("epoch {}", epoch + 1));
      }
      running = 0, running_n = 0;
      // The others wait here while rank 0 validates and writes; --comm-timeout must cover it.
      comm->barrier(fmt::format("the checkpoint of step {} (rank 0 validates and writes it)", progress.step));
      if (stop || interrupted) break;
    }
  }
  // The sum alone, with every rank arrived (after a barrier): the transfer without the wait for the slowest.
  double bare_sum_s = 0;
  constexpr int kProbes = 5;
  if (distributed && world > 1 && times.steps > 0 && !interrupted) {
    Tensor probe = flat.grads.clone();
    for (int i = 0; i < kProbes; ++i) {
      comm->barrier("the timing of the gradient sum");
      const auto t0 = std::chrono::steady_clock::now();
      comm->all_reduce_sum(probe, "the timing of the gradient sum");
      bare_sum_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / kProbes;
    }
  }
  if (!lead) return interrupted ? 130 : 0;
  show.finish_line();
  if (!dump_batches.empty()) {
    std::vector<std::pair<std::string, Tensor>> last;
    for (auto& [name, t] : flat.named) last.emplace_back(name, *t);
    io::save_safetensors(dump_path("final.safetensors"), last, models::model_metadata(config.unet));
  }
  fmt::print("{}{}\n", distributed ? "rank 0's loader: " : "", loader.stats().summary());
  if (profile) finish_profile(*profile, profile_path);
  fmt::print("allocations after step 1: {} allocs, {} frees\n", late_allocs, late_frees);
  fmt::print("mean a,b of the training set (Lab, real pixels{}): {}\n",
             progress.mean_complete ? "" : ", first epoch so far", progress.mean_ab());
  if (distributed && times.steps > 0)
    fmt::print(
        "scaling: {} rank{} ({}), global batch {}: {:.4f} s/step, {:.2f} img/s, communication {:.1f}% of the "
        "step ({:.2f} ms/step, {:.2f} MB of gradients summed per step; waits for the slowest rank included; "
        "the sum alone {:.2f} ms), over the {} steps after the first\n",
        world, world == 1 ? "" : "s", comm->kind(), config.batch, times.step_s / double(times.steps),
        double(times.images) / times.step_s, 100 * times.comm_s / times.step_s,
        1e3 * times.comm_s / double(times.steps), double(flat.total) * 4 / 1e6, 1e3 * bare_sum_s,
        times.steps);
  if (interrupted) {
    fmt::print("interrupted at step {}; the checkpoint is written. Continue with: tint train --resume {}\n",
               progress.step, out);
    return 130;
  }
  fmt::print("done: {} steps ({} in this run), {} images in {:.1f} s; log {}\n", progress.step,
             progress.step - start_step, images, seconds(), folder.file(kLogFile));
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  std::unique_ptr<Comm> comm;
  try {
    return train(argc, argv, comm);
  } catch (const std::exception& e) {
    if (!comm || comm->world() == 1) throw;
    // A failure on one rank that the others cannot see would leave them waiting: end the whole job.
    const std::string what = e.what();
    std::fprintf(stderr, "tint train: error: %s%s\n",
                 what.rfind("rank ", 0) == 0 ? "" : fmt::format("rank {}: ", comm->rank()).c_str(),
                 what.c_str());
    comm->abort(1);
  }
}

}  // namespace tint::cli
