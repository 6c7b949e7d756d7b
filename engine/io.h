// Tensor files: NumPy .npy (for inspecting single tensors) and .safetensors (named tensors: checkpoints,
// readable by PyTorch's `safetensors.torch.load_file`). Every write is atomic: a temporary file beside the
// target, fsync, then rename, so a crash never leaves a half-written checkpoint under the real name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace tint::io {

// Writes `bytes` to `path` atomically (temp file, fsync, rename). Throws naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

// How float32 tensors are stored in a .safetensors file. F16 halves a model file (the shipped colorizer must
// fit in 10 MB); values round to the nearest half, ties to even, and a value too large for half is an error.
enum class FileDtype { f32, f16 };
const char* file_dtype_name(FileDtype dtype);  // "F32", "F16" (the names safetensors uses)

// IEEE 754 binary16 and bfloat16 <-> float32. float_to_half rounds to nearest even, keeps the sign of zero,
// gives subnormals below 2^-14 and +-inf (0x7C00) for finite values of 65520 or more; NaN stays NaN.
uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

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
// given, as F32 or (dtype f16) F16; a value that would overflow F16 is an Error naming the tensor.
// Reading accepts F32, F64, F16 and BF16 (all converted to float32) and trusts nothing in the header: the
// header must be well-formed JSON, metadata a string -> string object, every shape small enough that its
// byte size cannot overflow, and the tensors' data_offsets must tile the data section exactly (no gap, no
// overlap, nothing left over). Every failure is an Error naming `origin` (and the tensor when there is one).
std::string encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata = {},
                               FileDtype dtype = FileDtype::f32);
NamedTensors decode_safetensors(const std::string& bytes, const std::string& origin = "<memory>");
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, FileDtype dtype = FileDtype::f32);
NamedTensors load_safetensors(const std::string& path);

}  // namespace tint::io
