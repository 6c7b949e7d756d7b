// `tint colorize`: photos in, colorized photos out at their own resolution (models/colorizer.h does the
// work); and `tint export`: rewrite a model file as F16 or F32.
//
// Pipeline: worker threads read, decode and prepare (resize + pad + Lab, as in training) the files in input
// order, at most a bounded window ahead; the main thread takes them in order, runs the U-Net a batch at a
// time on the device, joins each prediction with its original's L and writes the result. A file that fails
// anywhere gets one line and the rest go on.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "data/ab_bins.h"
#include "data/dataset.h"
#include "data/grid.h"
#include "data/hints.h"
#include "data/resize.h"
#include "engine/io.h"
#include "models/colorizer.h"
#include "models/model_file.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/profile_cli.h"

namespace tint::cli {

namespace {

namespace fs = std::filesystem;

const char* kHelp = R"(usage: tint colorize INPUT... [options]

Colorizes black-and-white photos with a trained U-Net. Each output keeps its input's resolution and its L
(lightness) channel; only the a/b colour channels come from the network. Colour inputs work too: only their
L is used.

inputs (any mix):
  FILE              an image (JPEG, PNG, BMP, TGA, GIF, WebP; 16-bit and alpha as the loader reads them)
  DIR               every image under it, recursively (hidden files and folders left out)
  @LIST or LIST.txt a list file: one path per line, relative to the list's folder unless absolute;
                    blank lines and lines starting with '#' ignored
outputs:
  -o, --out DIR     output folder (default colorized/). Each output keeps its input's path relative to the
                    folder (or list) it was found in; a single file lands at DIR/<name>. The extension
                    becomes .png or .jpg. A path that is an input file is never written (the file fails).
  --format png|jpg  (default png)
  --quality N       JPEG quality 1..100 (default 92)
  --side-by-side    write grey | colorized (| original, when the input had colour) instead of the colorized
                    image alone
  --grid FILE.png   also write one picture with a row per input (grey | colorized | original if colour)
  --grid-height N   height of the grid's cells (default 192)
model and run:
  --model PATH      a run folder or a .safetensors model file (default: $TINT_MODEL, else
                    models/pretrained/tint-colorizer.safetensors in the current folder or the source tree)
  --size N          side the network runs at (default: the model's training size, else 256); a multiple
                    of 2^levels
  --hints FILE      colour hints for a model trained with --hints: a JSON list of points
                      [{"x": 120, "y": 40, "colour": "#d03020", "radius": 6}, {"x": 8, "y": 9, "lab": [50, 20, -30]}]
                    (x, y, radius in the photo's pixels; radius defaults to 3; the L of "lab" is ignored: the
                    photo keeps its own), or a PNG of the photo's size whose non-transparent pixels are hints
                    of their colour (strokes on a transparent layer). The same hints go to every input.
  --temperature T   a classification model's annealed-mean decode: softmax(log p / T) over the ab bins,
                    then the expected ab; 0..10 (default 0.38; 0 is the mode, 1 the plain mean, lower is
                    more saturated). A regression model ignores it. The model file says which head it has.
  --device NAME     cpu (default), cpu-ref, cuda-emu, cuda
  --precision P     fp32 (default) or tf32: on cuda and cuda-emu, the 3x3 convolutions on TF32 tensor cores
                    (conv variant winograd2-tf32, about 5e-4 of each layer's scale: invisible in 8-bit colour)
  --batch N         images per network call (default 8)
  --workers N       threads that decode files ahead of the network (at most batch + 2 * workers files
                    ahead) and that join and write each batch's results (default: min(4, cores))
  --profile F.json  time every op of the network per layer, each batch one step: a table sorted by time at
                    the end, and a Chrome/Perfetto trace in F.json
Exit status 0 when every file was colorized, 1 when any failed (each failure is one line naming the file).
)";

const char* kExportHelp = R"(usage: tint export MODEL OUT.safetensors [--dtype f16|f32]

Rewrites a model file (or a run folder's model.safetensors), checked as `tint colorize` checks it, keeping
its metadata and setting "dtype". F16 halves the file (values rounded to nearest even; a weight beyond
float16's range is an error naming it); F16 and BF16 files load everywhere a model is read.
  --dtype f16|f32   (default f16)
)";

constexpr const char* kDefaultModel = "models/pretrained/tint-colorizer.safetensors";

std::string default_model() {
  if (const char* env = std::getenv("TINT_MODEL"); env && *env) return env;
  for (const std::string& base : {std::string(), std::string(TINT_SOURCE_DIR_FOR_TOOLS) + "/"}) {
    std::error_code ec;
    if (fs::is_regular_file(base + kDefaultModel, ec)) return base + kDefaultModel;
  }
  throw Error(
      fmt::format("no --model given, $TINT_MODEL is not set and the default model {} was not found (looked "
                  "in the current folder and in {}); pass --model RUNDIR|FILE.safetensors, or train one "
                  "with 'tint train --out RUNDIR'",
                  kDefaultModel, TINT_SOURCE_DIR_FOR_TOOLS));
}

struct Job {
  std::string input, output;
  std::string error;  // set when the job fails before decoding (output clash, refused overwrite)
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The input's path under the output folder: relative to its root when inside it, else its file name.
std::string relative_output(const std::string& file, const fs::path& root, const std::string& extension) {
  fs::path rel = fs::path(file).lexically_normal().lexically_relative(root.lexically_normal());
  if (rel.empty() || *rel.begin() == "..") rel = fs::path(file).filename();
  rel.replace_extension(extension);
  return rel.string();
}

// Every input argument expanded into (file, output) pairs. An argument that cannot be read at all counts as
// one failure.
std::vector<Job> collect_jobs(const std::vector<std::string>& arguments, const fs::path& out_dir,
                              const std::string& extension, int& failures) {
  std::vector<Job> jobs;
  for (const std::string& arg : arguments) {
    std::error_code ec;
    const bool at_list = !arg.empty() && arg[0] == '@';
    const std::string path = at_list ? arg.substr(1) : arg;
    const bool list = at_list || (ends_with(path, ".txt") && fs::is_regular_file(path, ec));
    const bool folder = !list && fs::is_directory(path, ec);
    std::vector<std::string> files;
    fs::path root;
    if (list || folder) {
      try {
        TINT_CHECK(!list || fs::is_regular_file(path, ec), "list file {}: no such file", path);
        files = scan_images(path);
      } catch (const Error& e) {
        std::fprintf(stderr, "failed: %s\n", e.what());
        ++failures;
        continue;
      }
      if (files.empty()) std::fprintf(stderr, "warning: no images in %s\n", path.c_str());
      root = list ? fs::path(path).parent_path() : fs::path(path);
    } else {
      files = {path};  // whatever it is, the decoder says what is wrong with it
      root = fs::path(path).parent_path();
    }
    for (const std::string& f : files)
      jobs.push_back({f, (out_dir / relative_output(f, root, extension)).string(), ""});
  }
  // Never write over an input (same file by inode, whatever the path says), nor twice to one output.
  std::set<std::pair<dev_t, ino_t>> inputs;
  for (const Job& j : jobs) {
    struct stat st;
    if (::stat(j.input.c_str(), &st) == 0) inputs.insert({st.st_dev, st.st_ino});
  }
  std::map<std::string, std::string> taken;
  for (Job& j : jobs) {
    struct stat st;
    if (::stat(j.output.c_str(), &st) == 0 && inputs.count({st.st_dev, st.st_ino})) {
      j.error = fmt::format("{}: refusing to write {}: it is an input file (choose another -o folder)",
                            j.input, j.output);
      continue;
    }
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(j.output, ec);
    const std::string key = ec ? fs::path(j.output).lexically_normal().string() : canonical.string();
    auto [it, fresh] = taken.emplace(key, j.input);
    if (!fresh)
      j.error = fmt::format("{}: its output {} is already the output of {}", j.input, j.output, it->second);
  }
  return jobs;
}

// Decoding and preparation on worker threads, delivered in job order.
class Prefetcher {
 public:
  struct Item {
    bool ok = false;
    std::string error;
    Image image;
    models::ColorizeInput input;
  };

  Prefetcher(const std::vector<Job>& jobs, int size, int workers, int window)
      : jobs_(jobs), size_(size), window_(window) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Item take(size_t index) {
    std::unique_lock lock(m_);
    cv_done_.wait(lock, [&] { return done_.count(index) > 0; });
    Item item = std::move(done_[index]);
    done_.erase(index);
    consumed_ = index + 1;
    cv_work_.notify_all();
    return item;
  }

 private:
  const std::vector<Job>& jobs_;
  const int size_;
  const size_t window_;
  std::mutex m_;
  std::condition_variable cv_work_, cv_done_;
  size_t next_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::map<size_t, Item> done_;
  std::vector<std::thread> threads_;

  void work() {
    std::unique_lock lock(m_);
    for (;;) {
      cv_work_.wait(lock, [&] { return stop_ || next_ >= jobs_.size() || next_ < consumed_ + window_; });
      if (stop_ || next_ >= jobs_.size()) return;
      const size_t index = next_++;
      lock.unlock();
      Item item;
      const Job& job = jobs_[index];
      if (!job.error.empty()) {
        item.error = job.error;
      } else {
        try {
          item.image = load_image(job.input);
          item.input = models::prepare_colorize_input(item.image, size_);
          item.ok = true;
        } catch (const BadImage& e) {
          item.error = e.what();
        } catch (const std::exception& e) {  // out of memory on one huge file fails that file only
          item.error = fmt::format("{}: {}", job.input, e.what());
        }
      }
      lock.lock();
      done_.emplace(index, std::move(item));
      cv_done_.notify_all();
    }
  }
};

class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(::isatty(::fileno(stderr)) != 0) {
    every_ = std::clamp<size_t>(total / 10, 1, 25);
  }
  void fail(const std::string& line) {
    clear();
    std::fprintf(stderr, "failed: %s\n", line.c_str());
    show();
  }
  void advance() {
    ++done_;
    if (tty_ || done_ % every_ == 0 || done_ == total_) show();
  }
  void finish() {
    if (tty_ && shown_) std::fputc('\n', stderr);
  }

 private:
  size_t total_, done_ = 0, every_ = 1;
  bool tty_, shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();

  void clear() {
    if (tty_ && shown_) std::fputs("\r\x1b[K", stderr);
  }
  void show() {
    if (done_ == 0) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = done_ / std::max(s, 1e-9);
    const std::string line = fmt::format("colorize: {}/{} files, {:.2f} img/s, ETA {:.0f} s", done_, total_,
                                         rate, double(total_ - done_) / std::max(rate, 1e-9));
    if (tty_) {
      std::fprintf(stderr, "\r\x1b[K%s", line.c_str());
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
    shown_ = true;
  }
};

Image scaled_to_height(const Image& img, int height) {
  const int w = std::max(1, int(std::lround(double(img.width) * height / img.height)));
  return resize_image(img, w, height);
}

}  // namespace

int run_colorize(int argc, char** argv) {
  Args args(argc, argv,
            Options{{"side-by-side"},
                    {"o", "out", "model", "device", "size", "format", "quality", "grid", "grid-height",
                     "batch", "workers", "profile", "temperature", "hints", "precision"},
                    1048576,
                    ""});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  TINT_CHECK(!args.positional().empty(),
             "no input given (files, folders or list files; see 'tint colorize --help')");
  const std::string format = args.get("format", "png");
  TINT_CHECK(format == "png" || format == "jpg", "--format must be png or jpg, got '{}'", format);
  const int quality = args.get_int("quality", 92, 1, 100);
  const int batch = args.get_int("batch", 8, 1, 1024);
  const int workers =
      args.get_int("workers", int(std::clamp(std::thread::hardware_concurrency(), 1u, 4u)), 1, 64);
  const int grid_height = args.get_int("grid-height", 192, 8, 4096);
  const int requested_size = args.get_int("size", 0, 0, 8192);
  const float temperature = float(args.get_double("temperature", cic::kDefaultTemperature, 0, 10));
  const bool side_by_side = args.has("side-by-side");
  const std::string grid_path = args.get("grid", "");
  const fs::path out_dir = args.get("out", args.get("o", "colorized"));
  const Device device = Device::parse(args.get("device", "cpu"));
  TINT_CHECK(device.available(), "device '{}' is not available in this build or on this machine",
             device.str());
  select_precision(device, args.get("precision", ""), "");

  const std::string profile_path = args.get("profile", "");
  if (args.has("profile")) check_profile_path(profile_path);
  const std::string model_arg = args.has("model") ? args.get("model", "") : default_model();
  models::ModelInfo info;
  auto unet = models::load_unet(model_arg, device, &info);
  const int size = models::colorize_size(info, requested_size);
  std::optional<hints::HintFile> hint_file;
  if (args.has("hints")) {
    TINT_CHECK(
        info.config.in_channels == 4,
        "--hints: the model '{}' was trained without hints (train it with --hints to give it colour hints)",
        info.path);
    hint_file = hints::read_hint_file(args.get("hints", ""));
  }
  if (info.classification)
    unet->set_decode(
        Tensor::from_vector(info.classification->bins.scaled_centres(), {info.config.bins, 2}, device),
        temperature);

  int failures = 0;
  const std::vector<Job> jobs = collect_jobs(args.positional(), out_dir, "." + format, failures);
  fmt::print(
      "tint colorize: {} file{}, model {} (width {}, levels {}, {}, step {}), at {}x{} on {} -> {}\n",
      jobs.size(), jobs.size() == 1 ? "" : "s", info.path, info.config.width, info.config.levels,
      info.classification ? fmt::format("classification head, T {:g}", temperature) : "regression head",
      info.step, size, size, device.str(), out_dir.string());
  std::fflush(stdout);

  Progress progress(jobs.size());
  Prefetcher prefetch(jobs, size, workers, batch + 2 * workers);
  std::vector<std::vector<Image>> grid_rows;
  int written = 0;
  std::optional<profiler::Session> profile;
  if (!profile_path.empty()) profile.emplace(device);
  for (size_t next = 0; next < jobs.size();) {
    // Gather up to `batch` decodable files, reporting the others as they come.
    std::vector<std::pair<size_t, Prefetcher::Item>> items;
    while (next < jobs.size() && int(items.size()) < batch) {
      Prefetcher::Item item = prefetch.take(next);
      if (item.ok) {
        items.emplace_back(next, std::move(item));
      } else {
        progress.fail(item.error);
        ++failures;
        progress.advance();
      }
      ++next;
    }
    if (items.empty()) continue;
    std::vector<const models::ColorizeInput*> inputs;
    for (auto& [index, item] : items) {
      if (hint_file) {
        TINT_CHECK(hint_file->given.empty() ||
                       (hint_file->width == item.image.width && hint_file->height == item.image.height),
                   "--hints '{}' is {}x{} but '{}' is {}x{}: a hint PNG must be the photo's size",
                   args.get("hints", ""), hint_file->width, hint_file->height, jobs[index].input,
                   item.image.width, item.image.height);
        item.input.hint.resize(3 * size_t(size) * size_t(size));
        hints::render(*hint_file, item.image.width, item.image.height, size, item.input.real_width,
                      item.input.real_height, item.input.hint.data());
      }
      inputs.push_back(&item.input);
    }
    if (profile) profile->step_begin();
    std::vector<std::vector<float>> ab;
    {
      profiler::Phase phase("forward");
      ab = models::predict_ab(*unet, device, size, inputs);
    }
    if (profile) profile->step_end();
    // Joining with the full-resolution L and encoding cost more than the network on large photos: the
    // batch's images are finished on `workers` threads, then reported in input order.
    const size_t plane = size_t(size) * size_t(size);
    struct Finished {
      std::string error;
      std::vector<Image> grid_cells;
    };
    std::vector<Finished> finished(items.size());
    auto finish = [&](size_t k) {
      const Job& job = jobs[items[k].first];
      const Image& original = items[k].second.image;
      const models::ColorizeInput& in = items[k].second.input;
      try {
        const Image colour = models::combine_with_original(original, ab[k].data(), ab[k].data() + plane, size,
                                                           in.real_width, in.real_height);
        const Image grey = original.grey ? original : to_grey(original);
        std::vector<Image> cells = {grey, colour};
        if (!original.grey) cells.push_back(original);
        fs::create_directories(fs::path(job.output).parent_path());
        save_image(side_by_side ? compose_grid({cells}, 0, 4) : colour, job.output, quality);
        if (!grid_path.empty()) {
          for (Image& c : cells) c = scaled_to_height(c, grid_height);
          finished[k].grid_cells = std::move(cells);
        }
      } catch (const std::exception& e) {
        finished[k].error = fmt::format("{}: {}", job.input, e.what());
      }
    };
    {
      std::vector<std::thread> threads;
      const size_t n = std::min(items.size(), size_t(workers));
      for (size_t t = 0; t < n; ++t)
        threads.emplace_back([&, t] {
          for (size_t k = t; k < items.size(); k += n) finish(k);
        });
      for (auto& t : threads) t.join();
    }
    for (Finished& f : finished) {
      if (f.error.empty()) {
        ++written;
        if (!grid_path.empty()) grid_rows.push_back(std::move(f.grid_cells));
      } else {
        progress.fail(f.error);
        ++failures;
      }
      progress.advance();
    }
  }
  progress.finish();
  if (!grid_path.empty()) {
    if (grid_rows.empty()) {
      std::fprintf(stderr, "no grid written: no file was colorized\n");
    } else {
      try {
        save_image(compose_grid(grid_rows, grid_height, 4), grid_path, quality);
        fmt::print("grid: {} ({} rows)\n", grid_path, grid_rows.size());
      } catch (const Error& e) {  // the colorized files are written: report the grid like one more file
        std::fprintf(stderr, "failed: grid %s: %s\n", grid_path.c_str(), e.what());
        ++failures;
      }
    }
  }
  if (profile) finish_profile(*profile, profile_path);
  fmt::print("{} colorized, {} failed\n", written, failures);
  return failures ? 1 : 0;
}

int run_export(int argc, char** argv) {
  Args args(argc, argv, Options{{}, {"dtype"}, 2, "export"});
  if (args.help()) {
    std::fputs(kExportHelp, stdout);
    return 0;
  }
  TINT_CHECK(args.positional().size() == 2,
             "expected MODEL and OUT.safetensors, got {} argument{} (see 'tint export "
             "--help')",
             args.positional().size(), args.positional().size() == 1 ? "" : "s");
  const std::string dtype_name = args.get("dtype", "f16");
  TINT_CHECK(dtype_name == "f16" || dtype_name == "f32", "--dtype must be f16 or f32, got '{}'", dtype_name);
  const io::FileDtype dtype = dtype_name == "f16" ? io::FileDtype::f16 : io::FileDtype::f32;
  const std::string in = models::resolve_model_path(args.positional()[0]);
  const std::string out = args.positional()[1];
  models::ModelInfo info;
  auto unet = models::load_unet(in, Device::cpu(), &info);
  models::save_unet(out, *unet, info.metadata, dtype);
  // Read it back the way colorize will, and say what the rounding cost.
  const io::NamedTensors written = io::load_safetensors(out);
  double worst = 0;
  for (auto& [name, t] : unet->named_parameters()) {
    const std::vector<float> a = t->to_vector(), b = written.at(name).to_vector();
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  }
  std::error_code ec;
  fmt::print("wrote {} ({}, {:.2f} MB, from {:.2f} MB); largest change of a weight: {:.3g}\n", out,
             io::file_dtype_name(dtype), double(fs::file_size(out, ec)) / 1e6,
             double(fs::file_size(in, ec)) / 1e6, worst);
  return 0;
}

}  // namespace tint::cli
