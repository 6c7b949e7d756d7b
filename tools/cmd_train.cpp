// `tint train`: the colorizer's training loop. Photos -> threaded loader (L, ab, mask) -> device -> U-Net ->
// masked L1/L2 loss -> backward -> Adam; validation loss and the a/b histogram intersection after each epoch;
// a CSV log; checkpoints written atomically, never over a good one with a diverged model.
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/metrics.h"
#include "engine/io.h"
#include "engine/optim.h"
#include "models/unet.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace tint::cli {

namespace {

namespace fs = std::filesystem;

const char* kHelp = R"(usage: tint train [options]

Trains the colorizer's U-Net (L -> ab in CIE Lab) on a folder of photos.

data:
  --data DIR        training photos, scanned recursively (default: the embedded sample, data/samples/train)
  --val DIR         validation photos (default: data/samples/val when --data is the default; else none)
  --size N          image side after resize + pad (default 256)
  --fit pad|crop    pad: longest side to N, zero-padded (the seed's way); crop: random N x N crops (default pad)
  --workers N       decoding threads (default: one per core)
  --no-mask         average the loss over padding too (the seed's unmasked loss)
model and optimiser:
  --width N         U-Net channels at full resolution (default 64)
  --levels N        U-Net downsamplings (default 4)
  --loss l1|l2      (default l2)
  --lr X            Adam learning rate (default 3e-4)
  --weight-decay X  (default 0)
  --batch N         (default 8)
run:
  --device NAME     cpu (default), cpu-ref, cuda-emu, cuda
  --epochs N        passes over the data (default 10)
  --steps N         stop after N steps (default: no limit)
  --seed N          shuffling, flips and initialisation (default 0)
  --out DIR         run folder: log.csv, model.safetensors, optimizer.safetensors (default runs/train-<time>)
  --resume DIR      continue a run from its folder (weights, optimiser state, step count)
  --log-every N     print a line every N steps (default 10)
)";

std::string default_samples(const std::string& split) {
  for (std::string base : {std::string("data/samples/"), fmt::format("{}/data/samples/", TINT_SOURCE_DIR_FOR_TOOLS)}) {
    if (fs::is_directory(base + split)) return base + split;
  }
  return "";
}

struct Uploaded {
  Tensor L, ab, mask;
};

// The loader's batch buffers (pinned on a GPU) -> device tensors.
Uploaded upload(const Batch& b, Device device) {
  const int64_t n = b.size, s = b.image_size;
  auto put = [&](const float* src, int64_t c) {
    Tensor t = Tensor::empty({n, c, s, s}, device);
    auto& rt = runtime(device);
    rt.backend.copy_from_host(rt.stream, t.data(), src, size_t(n * c * s * s) * sizeof(float));
    return t;
  };
  Uploaded u{put(b.L, 1), put(b.ab, 2), put(b.mask, 1)};
  runtime(device).synchronize();  // the batch's buffers go back to the loader when `b` dies
  return u;
}

struct ValResult {
  double loss = 0;
  AbIntersection hi;
  int64_t images = 0;
};

ValResult validate(models::UNet& unet, const std::vector<std::string>& files, const LoaderOptions& base, Device device,
                   bool l1, bool masked) {
  ValResult r;
  if (files.empty()) return r;
  LoaderOptions o = base;
  o.shuffle = false, o.flip = false, o.epochs = 1, o.drop_last = false, o.fit = FitMode::pad;
  o.warn = [](const std::string&) {};  // already reported by the training scan
  Loader loader(files, o);
  NoGradGuard no_grad;
  unet.eval();
  AbHistogram pred_hist, true_hist;
  double weighted = 0;
  while (auto batch = loader.next()) {
    Uploaded u = upload(*batch, device);
    Tensor pred = unet(u.L);
    Tensor mask = masked ? u.mask : Tensor();
    Tensor loss = l1 ? ops::l1_loss(pred, u.ab, mask) : ops::mse_loss(pred, u.ab, mask);
    weighted += double(loss.item()) * batch->size;
    r.images += batch->size;
    const int64_t hw = int64_t(batch->image_size) * batch->image_size;
    std::vector<float> p = pred.to_vector();
    for (int i = 0; i < batch->size; ++i) {
      const float* m = batch->mask + i * hw;
      pred_hist.add_scaled(p.data() + (2 * i) * hw, p.data() + (2 * i + 1) * hw, m, hw);
      true_hist.add_scaled(batch->ab + (2 * i) * hw, batch->ab + (2 * i + 1) * hw, m, hw);
    }
  }
  unet.train();
  r.loss = r.images ? weighted / double(r.images) : 0;
  r.hi = histogram_intersection(pred_hist, true_hist);
  return r;
}

}  // namespace

int run_train(int argc, char** argv) {
  Args args(argc, argv, {"no-mask"});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  args.check_known({"data", "val", "size", "fit", "workers", "no-mask", "width", "levels", "loss", "lr",
                    "weight-decay", "batch", "device", "epochs", "steps", "seed", "out", "resume", "log-every"});
  const Device device = Device::parse(args.get("device", "cpu"));
  TINT_CHECK(device.available(), "device '{}' is not available in this build or on this machine", device.str());
  std::string data_dir = args.get("data", ""), val_dir = args.get("val", "");
  if (data_dir.empty()) {
    data_dir = default_samples("train");
    TINT_CHECK(!data_dir.empty(), "no --data given and the embedded sample (data/samples/train) was not found; "
               "run from the repository root or pass --data DIR");
    if (!args.has("val")) val_dir = default_samples("val");
  }
  const std::string loss_name = args.get("loss", "l2");
  TINT_CHECK(loss_name == "l1" || loss_name == "l2", "--loss must be l1 or l2, got '{}'", loss_name);
  const bool l1 = loss_name == "l1", masked = !args.has("no-mask");
  const std::string fit = args.get("fit", "pad");
  TINT_CHECK(fit == "pad" || fit == "crop", "--fit must be pad or crop, got '{}'", fit);

  LoaderOptions lo;
  lo.image_size = args.get_int("size", 256);
  lo.batch_size = args.get_int("batch", 8);
  lo.workers = args.get_int("workers", 0);
  lo.seed = uint64_t(args.get_int("seed", 0));
  lo.fit = fit == "crop" ? FitMode::crop : FitMode::pad;
  lo.epochs = args.get_int("epochs", 10);
  const int64_t max_steps = args.get_int("steps", 0);
  if (max_steps > 0 && !args.has("epochs")) lo.epochs = 0;  // endless; the step limit ends the run
  TINT_CHECK(lo.image_size > 0 && lo.batch_size > 0 && lo.epochs >= 0, "--size, --batch and --epochs must be positive");
  const Backend& backend = device.backend();
  if (backend.alloc_pinned) lo.allocator = HostAllocator{backend.alloc_pinned, backend.free_pinned};

  models::UNetConfig config{args.get_int("width", 64), args.get_int("levels", 4)};
  TINT_CHECK(lo.image_size % (1 << config.levels) == 0, "--size {} must be divisible by 2^levels = {}", lo.image_size,
             1 << config.levels);

  std::string out = args.get("out", "");
  const std::string resume = args.get("resume", "");
  if (!resume.empty() && out.empty()) out = resume;
  if (out.empty()) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    out = std::string("runs/train-") + stamp;
  }
  fs::create_directories(out);

  std::vector<std::string> files = scan_images(data_dir);
  TINT_CHECK(!files.empty(), "no images found under '{}'", data_dir);
  std::vector<std::string> val_files = val_dir.empty() ? std::vector<std::string>{} : scan_images(val_dir);

  Rng rng(lo.seed + 1);
  models::UNet unet(config, rng);
  nn::FlatParameters flat = nn::flatten_parameters(unet, device);
  AdamHyper hyper;
  hyper.lr = float(args.get_double("lr", 3e-4));
  hyper.weight_decay = float(args.get_double("weight-decay", 0));
  hyper.step = 0;
  optim::Adam adam(flat, hyper);

  int64_t step = 0;
  if (!resume.empty()) {
    io::NamedTensors model = io::load_safetensors(resume + "/model.safetensors");
    for (auto& [name, t] : flat.named) {
      const Tensor& saved = model.at(name);
      TINT_CHECK(saved.shape() == t->shape(), "--resume: '{}' has shape {} in the checkpoint but {} in this model "
                 "(different --width or --levels?)", name, shape_str(saved.shape()), shape_str(t->shape()));
      t->detach().copy_(saved);
    }
    io::NamedTensors opt = io::load_safetensors(resume + "/optimizer.safetensors");
    adam.m.copy_(opt.at("adam.m"));
    adam.v.copy_(opt.at("adam.v"));
    step = std::stoll(opt.metadata.at("step"));
    adam.hyper.step = step;
    fmt::print("resumed {} at step {}\n", resume, step);
  }

  auto save_checkpoint = [&](const std::string& why) {
    std::vector<std::pair<std::string, Tensor>> named;
    for (auto& [name, t] : flat.named) named.emplace_back(name, *t);
    std::map<std::string, std::string> meta = {
        {"format", "pt"},          {"model", "tint.UNet"},          {"width", std::to_string(config.width)},
        {"levels", std::to_string(config.levels)}, {"image_size", std::to_string(lo.image_size)},
        {"loss", loss_name},       {"step", std::to_string(step)}};
    io::save_safetensors(out + "/model.safetensors", named, meta);
    io::save_safetensors(out + "/optimizer.safetensors", {{"adam.m", adam.m}, {"adam.v", adam.v}},
                         {{"step", std::to_string(step)}, {"lr", fmt::format("{}", adam.hyper.lr)}});
    fmt::print("checkpoint ({}): {}/model.safetensors at step {}\n", why, out, step);
  };

  const bool append = !resume.empty() && fs::exists(out + "/log.csv");
  std::ofstream log(out + "/log.csv", append ? std::ios::app : std::ios::trunc);
  TINT_CHECK(log.good(), "cannot write '{}/log.csv'", out);
  if (!append) log << "step,epoch,train_loss,val_loss,val_hi_a,val_hi_b,seconds\n";

  fmt::print("tint train: {} images in {} ({} for validation), U-Net width {} levels {} ({:.2f} M parameters), "
             "{} loss{}, batch {} of {}x{} ({}), Adam lr {}, on {}\n",
             files.size(), data_dir, val_files.size(), config.width, config.levels, unet.parameter_count() / 1e6,
             loss_name, masked ? " (masked to real pixels)" : "", lo.batch_size, lo.image_size, lo.image_size, fit,
             hyper.lr, device.str());
  fmt::print("run folder: {}\n", out);

  Loader loader(files, lo);
  const int log_every = std::max(1, args.get_int("log-every", 10));
  auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double running = 0;
  int running_n = 0;
  int64_t images = 0;
  int64_t epoch = 0;
  while (auto batch = loader.next()) {
    epoch = batch->epoch;
    Uploaded u = upload(*batch, device);
    adam.zero_grad();
    Tensor pred = unet(u.L);
    Tensor mask = masked ? u.mask : Tensor();
    Tensor loss = l1 ? ops::l1_loss(pred, u.ab, mask) : ops::mse_loss(pred, u.ab, mask);
    loss.backward();
    const float value = loss.item();
    if (!std::isfinite(value)) {
      // Keep the last good checkpoint: do not update the weights, do not save.
      throw Error(fmt::format("the loss became {} at step {} (batch of {}, first file '{}'); the last good "
                              "checkpoint in '{}' is kept. Try a lower --lr.",
                              value, step + 1, batch->size, batch->paths.empty() ? "?" : batch->paths[0], out));
    }
    adam.step();
    ++step;
    images += batch->size;
    running += value;
    ++running_n;
    if (step % log_every == 0 || batch->last_in_epoch) {
      fmt::print("epoch {:3d} step {:6d}  loss {:.5f}  {:.1f} img/s\n", epoch + 1, step, running / running_n,
                 images / std::max(seconds(), 1e-9));
      std::fflush(stdout);
    }
    const bool stop = max_steps > 0 && step >= max_steps;
    if (batch->last_in_epoch || stop) {
      ValResult v = validate(unet, val_files, lo, device, l1, masked);
      if (v.images)
        fmt::print("epoch {:3d} validation: loss {:.5f}, histogram intersection a {:.3f} b {:.3f} ({} images)\n",
                   epoch + 1, v.loss, v.hi.a, v.hi.b, v.images);
      log << fmt::format("{},{},{:.6f},{},{},{},{:.1f}\n", step, epoch + 1, running / running_n,
                         v.images ? fmt::format("{:.6f}", v.loss) : "", v.images ? fmt::format("{:.4f}", v.hi.a) : "",
                         v.images ? fmt::format("{:.4f}", v.hi.b) : "", seconds());
      log.flush();
      running = 0, running_n = 0;
      save_checkpoint(stop ? std::string("end") : fmt::format("epoch {}", epoch + 1));
      if (stop) break;
    }
  }
  fmt::print("{}\n", loader.stats().summary());
  fmt::print("done: {} steps, {} images in {:.1f} s; log {}/log.csv\n", step, images, seconds(), out);
  return 0;
}

}  // namespace tint::cli
