// Pieces the emulator's .cpp files share; not part of what kernels see.
#pragma once

#include <string>

#include "kernels/emu/cuda_emu.h"

namespace tint::emu::detail {

// Records `code` as this host thread's last error (cudaGetLastError) with a message that
// cudaGetErrorString(code) appends to CUDA's text. Returns `code`, so calls can `return set_last_error(...)`.
cudaError_t set_last_error(cudaError_t code, std::string detail);

// Whether `stream` is the default stream or a stream created and not yet destroyed.
bool stream_is_valid(cudaStream_t stream);

}  // namespace tint::emu::detail
