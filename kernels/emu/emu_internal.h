// Pieces the emulator's .cpp files share; not part of what kernels see.
#pragma once

#include <functional>
#include <string>

#include "kernels/emu/cuda_emu.h"

namespace tint::emu::detail {

// Records `code` as this host thread's last error (cudaGetLastError) with a message that
// cudaGetErrorString(code) appends to CUDA's text. Returns `code`, so calls can `return set_last_error(...)`.
cudaError_t set_last_error(cudaError_t code, std::string detail);

// Whether `stream` is the default stream or a stream created and not yet destroyed.
bool stream_is_valid(cudaStream_t stream);

// One node of a captured graph: the recorded work, run at each cudaGraphLaunch. Returns its error.
using GraphNode = std::function<cudaError_t()>;
// When `stream` is capturing, records `node` instead of running it and returns true, with *status
// cudaSuccess, or cudaErrorStreamCaptureInvalidated (set as the last error) when an earlier call invalidated
// the capture. Returns false when the stream is not capturing: the caller does the work now.
bool record_if_capturing(cudaStream_t stream, GraphNode node, cudaError_t* status);

}  // namespace tint::emu::detail
