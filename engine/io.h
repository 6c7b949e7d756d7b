// Tensor files: NumPy .npy (for inspecting single tensors) and .safetensors (named tensors: checkpoints,
// readable by PyTorch's `safetensors.torch.load_file`). Every write is atomic: a temporary file beside the
// target, fsync, then rename, so a crash never leaves a half-written checkpoint under the real name.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace tint::io {

// Writes `bytes` to `path` atomically (temp file, fsync, rename). Throws naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

// .npy version 1.0, little-endian float32 ('<f4'), C order. load_npy also accepts '<f8' (converted).
void save_npy(const std::string& path, const Tensor& t);
Tensor load_npy(const std::string& path, Device device = Device::cpu());

struct NamedTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order (sorted by data offset)
  std::map<std::string, std::string> metadata;          // the "__metadata__" entry (string -> string)
  const Tensor* find(const std::string& name) const;
  const Tensor& at(const std::string& name) const;  // throws naming the missing tensor
};

// Layout (the format's spec): u64 little-endian header length, a JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}},
// padded with spaces to a multiple of 8, then the raw little-endian data. Tensors are written in the order
// given. Reading accepts F32 and F64 (converted), checks that offsets cover the data exactly.
std::string encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata = {});
NamedTensors decode_safetensors(const std::string& bytes, const std::string& origin = "<memory>");
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
NamedTensors load_safetensors(const std::string& path);

}  // namespace tint::io
