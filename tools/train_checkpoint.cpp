#include "tools/train_checkpoint.h"

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "models/model_file.h"

namespace tint::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kKind = "tint.train_checkpoint";
constexpr const char* kVersion = "1";

// Round-trip text for floats: a resumed run must see the very same lr and sums.
std::string exact(double v) {
  return fmt::format("{}", v);
}

class MetaReader {
 public:
  MetaReader(const std::map<std::string, std::string>& meta, const std::string& path)
      : meta_(meta), path_(path) {}

  const std::string& text(const std::string& key) const {
    auto it = meta_.find(key);
    TINT_CHECK(it != meta_.end(), "'{}': metadata '{}' is missing (a damaged or foreign checkpoint)", path_,
               key);
    return it->second;
  }
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    const std::string& s = text(key);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    TINT_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty(),
               "'{}': metadata '{}' = '{}' is not a whole number", path_, key, s);
    TINT_CHECK(v >= lo && v <= hi, "'{}': metadata '{}' = {} is outside {}..{}", path_, key, v, lo, hi);
    return v;
  }
  double real(const std::string& key, double lo, double hi) const {
    return parse_real(key, text(key), lo, hi);
  }
  double parse_real(const std::string& key, const std::string& s, double lo, double hi) const {
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    TINT_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(v),
               "'{}': metadata '{}' = '{}' is not a finite number", path_, key, s);
    TINT_CHECK(v >= lo && v <= hi, "'{}': metadata '{}' = {} is outside {}..{}", path_, key, v, lo, hi);
    return v;
  }
  const std::string& one_of(const std::string& key, std::initializer_list<const char*> allowed) const {
    const std::string& s = text(key);
    std::string names;
    for (const char* a : allowed) {
      if (s == a) return s;
      names += fmt::format("{}'{}'", names.empty() ? "" : ", ", a);
    }
    throw Error(fmt::format("'{}': metadata '{}' = '{}' is not one of {}", path_, key, s, names));
  }

 private:
  const std::map<std::string, std::string>& meta_;
  const std::string& path_;
};

void check_moment(const io::NamedTensors& file, const std::string& path, const std::string& name,
                  int64_t total, bool non_negative) {
  const Tensor* t = file.find(name);
  TINT_CHECK(t, "'{}': tensor '{}' (Adam's moment) is missing", path, name);
  TINT_CHECK(t->shape() == Shape{total},
             "'{}': tensor '{}' has shape {}, the model's {} parameters need ({})", path, name,
             shape_str(t->shape()), total, total);
  const std::vector<float> values = t->to_vector();
  for (size_t i = 0; i < values.size(); ++i) {
    TINT_CHECK(std::isfinite(values[i]),
               "'{}': tensor '{}' holds {} at element {}: the optimiser state is damaged", path, name,
               values[i], i);
    TINT_CHECK(!non_negative || values[i] >= 0.f,
               "'{}': tensor '{}' holds {} at element {}: a second moment cannot be negative", path, name,
               values[i], i);
  }
}

}  // namespace

std::string TrainProgress::mean_ab() const {
  const double n = pixels > 0 ? double(pixels) : 1.0;
  return fmt::format("{:.6f},{:.6f}", sum_a / n, sum_b / n);
}

void save_checkpoint(const std::string& path, const nn::FlatParameters& flat, const optim::Adam& adam,
                     const TrainConfig& c, const TrainProgress& p) {
  std::vector<std::pair<std::string, Tensor>> named;
  for (auto& [name, t] : flat.named) named.emplace_back(name, *t);
  named.emplace_back("adam.m", adam.m);
  named.emplace_back("adam.v", adam.v);
  std::map<std::string, std::string> meta =
      models::model_metadata(c.unet, c.classification ? &*c.classification : nullptr);
  meta.insert({{"kind", kKind},
               {"checkpoint_version", kVersion},
               {"image_size", std::to_string(c.image_size)},
               {"batch", std::to_string(c.batch)},
               {"fit", c.fit},
               {"loss", c.loss},
               {"mask", c.mask ? "1" : "0"},
               {"lr", exact(c.lr)},
               {"weight_decay", exact(c.weight_decay)},
               {"seed", std::to_string(c.seed)},
               {"data", c.data},
               {"val", c.val},
               {"epochs", std::to_string(c.epochs)},
               {"step", std::to_string(p.step)},
               {"epoch", std::to_string(p.epoch)},
               {"epoch_position", std::to_string(p.epoch_position)},
               {"epoch_batch", std::to_string(p.epoch_batches)},
               {"files", std::to_string(p.files)},
               {"mean_ab", p.mean_ab()},
               {"mean_ab_sums", fmt::format("{},{},{}", exact(p.sum_a), exact(p.sum_b), p.pixels)},
               {"mean_ab_complete", p.mean_complete ? "1" : "0"}});
  io::save_safetensors(path, named, meta);
}

Checkpoint read_checkpoint(const std::string& path) {
  Checkpoint ck;
  ck.path = path;
  ck.file = io::load_safetensors(path);
  const auto& meta = ck.file.metadata;
  auto kind = meta.find("kind");
  TINT_CHECK(kind != meta.end() && kind->second == kKind,
             "'{}': not a tint training checkpoint (metadata 'kind' is {}, expected '{}')", path,
             kind == meta.end() ? std::string("missing") : "'" + kind->second + "'", kKind);
  MetaReader r(meta, path);
  TINT_CHECK(r.text("checkpoint_version") == kVersion,
             "'{}': checkpoint version '{}' is not the one this tint reads ({})", path,
             r.text("checkpoint_version"), kVersion);
  const models::ModelInfo info = models::model_info(ck.file, path);  // model, width, levels
  TrainConfig& c = ck.config;
  c.unet = info.config;
  c.classification = info.classification;
  c.image_size = int(r.integer("image_size", 8, 8192));
  TINT_CHECK(c.image_size % (1 << c.unet.levels) == 0,
             "'{}': metadata image_size {} is not a multiple of 2^{}", path, c.image_size, c.unet.levels);
  c.batch = int(r.integer("batch", 1, 4096));
  c.fit = r.one_of("fit", {"pad", "crop"});
  c.loss = r.one_of("loss", {"l1", "l2", "ce"});
  TINT_CHECK((c.loss == "ce") == bool(c.classification), "'{}': metadata loss '{}' does not fit its {} head",
             path, c.loss, c.classification ? "classification" : "regression");
  c.mask = r.one_of("mask", {"0", "1"}) == "1";
  c.lr = float(r.real("lr", 1e-12, 10));
  c.weight_decay = float(r.real("weight_decay", 0, 10));
  c.seed = uint64_t(r.integer("seed", 0, int64_t(1) << 62));
  c.data = r.text("data");
  TINT_CHECK(!c.data.empty(), "'{}': metadata 'data' (the training folder) is empty", path);
  c.val = r.text("val");
  c.epochs = r.integer("epochs", 0, 1000000);
  TrainProgress& p = ck.progress;
  p.step = r.integer("step", 0, int64_t(1) << 62);
  p.files = r.integer("files", 1, int64_t(1) << 32);
  p.epoch = r.integer("epoch", 0, int64_t(1) << 40);
  p.epoch_position = r.integer("epoch_position", 0, p.files - 1);
  p.epoch_batches = r.integer("epoch_batch", 0, p.files);
  const std::string& sums = r.text("mean_ab_sums");
  const size_t c1 = sums.find(','), c2 = c1 == std::string::npos ? c1 : sums.find(',', c1 + 1);
  TINT_CHECK(c2 != std::string::npos, "'{}': metadata 'mean_ab_sums' = '{}' is not 'sum_a,sum_b,pixels'",
             path, sums);
  p.sum_a = r.parse_real("mean_ab_sums", sums.substr(0, c1), -1e30, 1e30);
  p.sum_b = r.parse_real("mean_ab_sums", sums.substr(c1 + 1, c2 - c1 - 1), -1e30, 1e30);
  const std::string pixels = sums.substr(c2 + 1);
  auto [end, ec] = std::from_chars(pixels.data(), pixels.data() + pixels.size(), p.pixels);
  TINT_CHECK(ec == std::errc() && end == pixels.data() + pixels.size() && p.pixels >= 0,
             "'{}': metadata 'mean_ab_sums' = '{}' does not end in a pixel count", path, sums);
  p.mean_complete = r.one_of("mean_ab_complete", {"0", "1"}) == "1";
  return ck;
}

void restore_checkpoint(const Checkpoint& ck, models::UNet& unet, nn::FlatParameters& flat,
                        optim::Adam& adam) {
  io::NamedTensors weights;
  for (const auto& [name, t] : ck.file.tensors)
    if (name != "adam.m" && name != "adam.v") weights.tensors.emplace_back(name, t);
  models::load_weights(unet, weights, ck.path);  // present, shapes, finite, nothing extra
  check_moment(ck.file, ck.path, "adam.m", flat.total, false);
  check_moment(ck.file, ck.path, "adam.v", flat.total, true);
  adam.m.copy_(ck.file.at("adam.m"));
  adam.v.copy_(ck.file.at("adam.v"));
  adam.hyper.step = ck.progress.step;
}

std::string checkpoint_in_run_folder(const std::string& dir) {
  std::error_code ec;
  TINT_CHECK(fs::is_directory(dir, ec), "--resume '{}' is not a run folder (no such folder)", dir);
  const fs::path checkpoint = fs::path(dir) / kCheckpointFile;
  if (fs::exists(checkpoint, ec)) return checkpoint.string();
  TINT_CHECK(
      !fs::exists(fs::path(dir) / kOldOptimizerFile, ec),
      "--resume '{}' is a run folder of the old layout (model.safetensors + optimizer.safetensors, which can "
      "hold two different steps); it cannot be resumed safely: start a new run (its model.safetensors still "
      "works for colorize and eval)",
      dir);
  throw Error(
      fmt::format("--resume '{}' has no {} (not a run folder, or the run stopped before its first "
                  "checkpoint)",
                  dir, kCheckpointFile));
}

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at + 5 >= name.size()) continue;
    long pid = 0;
    auto [end, perr] = std::from_chars(name.data() + at + 5, name.data() + name.size(), pid);
    if (perr != std::errc() || end != name.data() + name.size() || pid <= 0) continue;
    // A live writer (another tint on the same folder) keeps its file; a dead one's is debris.
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_error;
    if (fs::remove(entry.path(), remove_error)) removed.push_back(name);
  }
  return removed;
}

}  // namespace tint::cli
