#include "models/model_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "engine/error.h"

namespace tint::models {

namespace {

namespace fs = std::filesystem;

int64_t parse_int_meta(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path,
                       int64_t lo, int64_t hi, bool required, int64_t fallback) {
  auto it = meta.find(key);
  if (it == meta.end()) {
    TINT_CHECK(!required, "'{}': not a tint model file: its metadata has no '{}' entry", path, key);
    return fallback;
  }
  int64_t value = 0;
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  TINT_CHECK(ec == std::errc() && end == s.data() + s.size(), "'{}': metadata '{}' = '{}' is not a whole number",
             path, key, s);
  TINT_CHECK(value >= lo && value <= hi, "'{}': metadata '{}' = {} is outside {}..{}", path, key, value, lo, hi);
  return value;
}

}  // namespace

std::string resolve_model_path(const std::string& path_or_run) {
  std::error_code ec;
  if (fs::is_directory(path_or_run, ec)) {
    const std::string file = (fs::path(path_or_run) / "model.safetensors").string();
    TINT_CHECK(fs::is_regular_file(file, ec), "'{}' is a folder without a model.safetensors (not a run folder?)",
               path_or_run);
    return file;
  }
  TINT_CHECK(fs::exists(path_or_run, ec), "model '{}' does not exist", path_or_run);
  TINT_CHECK(fs::is_regular_file(path_or_run, ec), "model '{}' is not a regular file", path_or_run);
  return path_or_run;
}

ModelInfo model_info(const io::NamedTensors& file, const std::string& path) {
  ModelInfo info;
  info.path = path;
  info.metadata = file.metadata;
  auto model = file.metadata.find("model");
  TINT_CHECK(model != file.metadata.end() && model->second == "tint.UNet",
             "'{}': not a tint U-Net model file (metadata 'model' is {}, expected 'tint.UNet')", path,
             model == file.metadata.end() ? std::string("missing") : "'" + model->second + "'");
  info.config.width = int(parse_int_meta(file.metadata, "width", path, 1, 4096, true, 0));
  info.config.levels = int(parse_int_meta(file.metadata, "levels", path, 1, 6, true, 0));
  info.image_size = int(parse_int_meta(file.metadata, "image_size", path, 0, 1 << 16, false, 0));
  info.config.in_channels = int(parse_int_meta(file.metadata, "in_channels", path, 1, 4, false, 1));
  TINT_CHECK(info.config.in_channels == 1 || info.config.in_channels == 4,
             "'{}': metadata 'in_channels' = {} (1: L; 4: L and colour hints)", path,
             info.config.in_channels);
  info.step = parse_int_meta(file.metadata, "step", path, 0, int64_t(1) << 62, false, 0);
  auto loss = file.metadata.find("loss");
  if (loss != file.metadata.end()) info.loss = loss->second;
  auto head = file.metadata.find("head");
  if (head != file.metadata.end() && head->second != "regression") {
    TINT_CHECK(head->second == "classification",
               "'{}': metadata 'head' is '{}' (expected regression or classification)", path, head->second);
    auto bins = file.metadata.find("ab_bins");
    auto weights = file.metadata.find("class_weights");
    TINT_CHECK(bins != file.metadata.end() && weights != file.metadata.end(),
               "'{}': a classification model without its metadata '{}'", path,
               bins == file.metadata.end() ? "ab_bins" : "class_weights");
    cic::AbBins parsed = cic::AbBins::parse(bins->second, "'" + path + "' metadata 'ab_bins'");
    std::vector<float> w =
        cic::parse_weights(weights->second, parsed.size(), "'" + path + "' metadata 'class_weights'");
    info.config.bins = parsed.size();
    info.classification = ClassificationHead{std::move(parsed), std::move(w)};
  }
  return info;
}

void load_weights(nn::Module& unet, const io::NamedTensors& file, const std::string& path) {
  std::set<std::string> expected;
  for (auto& [name, t] : unet.named_parameters()) {
    expected.insert(name);
    const Tensor* saved = file.find(name);
    TINT_CHECK(saved, "'{}': tensor '{}' is missing (the file is not this U-Net, or is damaged)", path, name);
    TINT_CHECK(saved->shape() == t->shape(), "'{}': tensor '{}' has shape {}, the model needs {}", path, name,
               shape_str(saved->shape()), shape_str(t->shape()));
    std::vector<float> values = saved->to_vector();
    for (size_t i = 0; i < values.size(); ++i)
      TINT_CHECK(std::isfinite(values[i]), "'{}': tensor '{}' holds {} at element {}: the weights are damaged",
                 path, name, values[i], i);
    t->detach().copy_(*saved);
  }
  for (auto& [name, t] : file.tensors)
    TINT_CHECK(expected.count(name), "'{}': tensor '{}' is not a parameter of this U-Net (the file is for another "
               "model)", path, name);
}

int64_t unet_parameter_count(const UNetConfig& config) {
  // Mirrors UNet's constructor (models/unet.cpp); a test holds the two together.
  auto channels = [&](int level) { return int64_t(config.width) * (int64_t(1) << std::min(level, 3)); };
  auto conv = [](int64_t in, int64_t out, int64_t k) { return out * in * k * k + out; };
  int64_t n = conv(config.in_channels, channels(0), 3) + conv(channels(0), channels(0), 3);
  for (int k = 1; k <= config.levels; ++k) n += conv(channels(k - 1), channels(k), 4) + conv(channels(k), channels(k), 3);
  for (int k = 0; k < config.levels; ++k) n += conv(channels(k + 1), channels(k), 4) + conv(2 * channels(k), channels(k), 3);
  return n + conv(channels(0), config.bins > 0 ? config.bins : 2, 1);
}

std::unique_ptr<UNet> load_unet(const io::NamedTensors& file, const std::string& path, Device device,
                                ModelInfo* info) {
  ModelInfo mi = model_info(file, path);
  int64_t held = 0;
  for (auto& [name, t] : file.tensors) held += t.numel();
  const int64_t expected = unet_parameter_count(mi.config);
  TINT_CHECK(held == expected, "'{}': metadata says width {} and levels {} ({} weights) but the file holds {} weights",
             path, mi.config.width, mi.config.levels, expected, held);
  Rng rng(0);
  auto unet = std::make_unique<UNet>(mi.config, rng);
  load_weights(*unet, file, path);
  for (auto& [name, t] : unet->named_parameters()) *t = t->to(device);
  if (mi.classification) {
    const int k = mi.classification->bins.size();
    unet->set_decode(Tensor::from_vector(mi.classification->bins.scaled_centres(), {k, 2}, device),
                     cic::kDefaultTemperature);
  }
  unet->eval();
  if (info) *info = std::move(mi);
  return unet;
}

std::unique_ptr<UNet> load_unet(const std::string& path_or_run, Device device, ModelInfo* info) {
  const std::string path = resolve_model_path(path_or_run);
  return load_unet(io::load_safetensors(path), path, device, info);
}

std::map<std::string, std::string> model_metadata(const UNetConfig& config,
                                                  const ClassificationHead* classification) {
  std::map<std::string, std::string> meta = {{"format", "pt"},
                                             {"model", "tint.UNet"},
                                             {"width", std::to_string(config.width)},
                                             {"levels", std::to_string(config.levels)}};
  if (config.in_channels != 1) meta["in_channels"] = std::to_string(config.in_channels);
  if (classification) {
    TINT_CHECK(classification->bins.size() == config.bins &&
                   int(classification->class_weights.size()) == config.bins,
               "model_metadata: {} bins and {} class weights for a head of {}", classification->bins.size(),
               classification->class_weights.size(), config.bins);
    meta["head"] = "classification";
    meta["ab_bins"] = classification->bins.to_string();
    meta["class_weights"] = cic::weights_to_string(classification->class_weights);
  }
  return meta;
}

void save_unet(const std::string& path, nn::Module& unet, const std::map<std::string, std::string>& metadata,
               io::FileDtype dtype) {
  std::vector<std::pair<std::string, Tensor>> named;
  for (auto& [name, t] : unet.named_parameters()) named.emplace_back(name, t->detach());
  std::map<std::string, std::string> meta = metadata;
  meta["dtype"] = dtype == io::FileDtype::f16 ? "f16" : "f32";
  io::save_safetensors(path, named, meta, dtype);
}

}  // namespace tint::models
