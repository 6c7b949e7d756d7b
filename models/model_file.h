// A trained U-Net on disk: `model.safetensors`, the weights under PyTorch's names (`down.0.conv1.weight`)
// plus metadata that says how to rebuild the network:
//   {"format": "pt", "model": "tint.UNet", "width": "32", "levels": "3", "image_size": "128", "loss": "l2",
//    "step": "1234", ...}
// plus "in_channels": "4" for a model trained with colour hints (absent: 1, L only).
// `tint train` writes it, `tint colorize` and `tint eval` read it, and PyTorch loads it with strict=True.
// Every way a file can be wrong (missing or malformed metadata, a missing or extra tensor, a wrong shape,
// a NaN or infinite weight) is an Error naming the file, the tensor and what is wrong.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/ab_bins.h"
#include "engine/device.h"
#include "engine/io.h"
#include "models/unet.h"

namespace tint::models {

// What a classification model carries besides its weights: its ab bins (the classes, metadata "ab_bins")
// and the class-rebalancing weights its training used (metadata "class_weights"); metadata "head" is
// "classification". A file without "head" (or with "regression") has the regression head.
struct ClassificationHead {
  cic::AbBins bins;
  std::vector<float> class_weights;
};

struct ModelInfo {
  std::string path;       // the file read
  UNetConfig config;      // from the metadata
  int image_size = 0;     // the size it was trained at (0 when the file does not say)
  std::string loss;       // "l1", "l2", "ce" (classification) or "" when unknown
  std::optional<ClassificationHead> classification;  // set for the classification head (config.bins > 0)
  int64_t step = 0;       // training steps behind these weights
  std::map<std::string, std::string> metadata;
};

// A run folder means its model.safetensors; a file is taken as it is. Throws naming the path when there
// is nothing to read.
std::string resolve_model_path(const std::string& path_or_run);

// The architecture and training facts of a decoded file, with the metadata checked. Throws naming `path`.
ModelInfo model_info(const io::NamedTensors& file, const std::string& path);

// Checks `file` against `unet` (every parameter present, same shape, finite; no tensor left over) and copies
// the weights in. Throws naming the file and tensor.
void load_weights(nn::Module& unet, const io::NamedTensors& file, const std::string& path);

// Reads a model file (or a run folder's) and builds the U-Net it describes, in eval mode, with its
// parameters on `device`. `info`, when given, receives what the file says about itself. F32, F16 and BF16
// files all load (as float32). A classification model comes ready to predict_ab at the default temperature.
std::unique_ptr<UNet> load_unet(const std::string& path_or_run, Device device, ModelInfo* info = nullptr);
// The same from a decoded file; `path` names it in errors. The metadata's width and levels are checked
// against the number of weights the file holds before anything is allocated, so a damaged "width" cannot
// make it build a network of many gigabytes.
std::unique_ptr<UNet> load_unet(const io::NamedTensors& file, const std::string& path, Device device,
                                ModelInfo* info = nullptr);

// The number of parameters of the U-Net `config` describes, without building it.
int64_t unet_parameter_count(const UNetConfig& config);

// The metadata every model file carries, for the U-Net `config` (and its bins and class weights when it has
// the classification head); callers add their own keys.
std::map<std::string, std::string> model_metadata(const UNetConfig& config,
                                                  const ClassificationHead* classification = nullptr);

// Writes the U-Net's weights and `metadata` (model_metadata + the caller's) atomically, as F32 or F16 (the
// metadata's "dtype" says which: "f32" or "f16"; a weight beyond float16's range is an Error naming the tensor).
void save_unet(const std::string& path, nn::Module& unet, const std::map<std::string, std::string>& metadata,
               io::FileDtype dtype = io::FileDtype::f32);

}  // namespace tint::models
