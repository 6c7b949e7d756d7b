// A training run on disk. The run folder holds:
//   checkpoint.safetensors  everything a resume needs, in ONE file written atomically: the weights (PyTorch
//                           names), Adam's moments `adam.m` and `adam.v` (flat, laid out like the parameter
//                           buffer), and metadata: the run's configuration, the step, the position of the
//                           loader in its sequence (epoch, position in that epoch) and the mean a/b sums.
//                           A kill at any moment leaves either the previous checkpoint or the new one.
//   model.safetensors       the weights again with model metadata, for colorize, eval and PyTorch; never
//                           read by a resume, so no model/optimiser pair from different steps can be mixed.
//   log.csv                 one row per epoch (and per stop), appended across resumes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "engine/io.h"
#include "engine/optim.h"
#include "models/model_file.h"
#include "models/unet.h"

namespace tint::cli {

inline constexpr const char* kCheckpointFile = "checkpoint.safetensors";
inline constexpr const char* kModelFile = "model.safetensors";
inline constexpr const char* kLogFile = "log.csv";
inline constexpr const char* kOldOptimizerFile = "optimizer.safetensors";  // the old two-file layout

// The choices fixed when a run starts. A resume takes them from the checkpoint.
struct TrainConfig {
  models::UNetConfig unet;
  int image_size = 256;
  int batch = 8;
  std::string fit = "pad";  // pad | crop
  std::string loss = "l2";  // l1 | l2 (regression head) | ce (classification head)
  // The classification head's bins and class weights (computed when the run starts, kept for its resumes);
  // unset for the regression head. unet.bins says how many.
  std::optional<models::ClassificationHead> classification;
  bool mask = true;         // loss averaged over real pixels only
  float lr = 3e-4f;
  float weight_decay = 0;
  uint64_t seed = 0;
  std::string data;     // absolute path of the training folder
  std::string val;      // absolute path of the validation folder, "" for none
  int64_t epochs = 10;  // the run's length; 0: no epoch limit (a run started with --steps only)
};

// Where a run stands after its last step.
struct TrainProgress {
  int64_t step = 0;
  int64_t epoch = 0;           // the epoch the next batch belongs to (0-based)
  int64_t epoch_position = 0;  // positions of that epoch's file order already consumed
  int64_t epoch_batches = 0;   // batches already taken in that epoch
  int64_t files = 0;           // the training set's file count (a resume needs the same set)
  // Sums over the real pixels of the first epoch's batches, in Lab units; complete once epoch 0 ended.
  double sum_a = 0, sum_b = 0;
  int64_t pixels = 0;
  bool mean_complete = false;
  std::string mean_ab() const;  // "a,b", e.g. "1.234567,5.678901"
};

// Writes checkpoint.safetensors (atomically) from the flat parameters and Adam's moments.
void save_checkpoint(const std::string& path, const nn::FlatParameters& flat, const optim::Adam& adam,
                     const TrainConfig& config, const TrainProgress& progress);

// What a checkpoint file holds, every entry validated. Throws one line naming the file, the tensor or
// metadata key, and what is wrong.
struct Checkpoint {
  std::string path;
  TrainConfig config;
  TrainProgress progress;
  io::NamedTensors file;
};
Checkpoint read_checkpoint(const std::string& path);

// Copies the checkpoint's weights and moments into a model built from its config (shapes, finiteness and
// v >= 0 checked). Throws naming the file and tensor.
void restore_checkpoint(const Checkpoint& ck, models::UNet& unet, nn::FlatParameters& flat,
                        optim::Adam& adam);

// The checkpoint file of a run folder given to --resume; refuses the old two-file layout and folders
// without a checkpoint, naming the folder.
std::string checkpoint_in_run_folder(const std::string& dir);

// Deletes temporary files left in `dir` by an atomic write that was killed (io::write_file_atomic writes
// `<name>.tmp.<pid>`) whose process is gone. Returns their names.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

}  // namespace tint::cli
