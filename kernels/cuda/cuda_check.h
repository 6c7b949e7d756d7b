// Every CUDA runtime call and every launch is checked; a failure becomes a tint::Error naming the call, the
// file and the line, so that an error on a lent GPU (where there is no debugger session to spare) says
// exactly where it happened. Included by kernels/cuda/cuda_compat.h after the runtime (real or emulated).
#pragma once

#include <string>

#include "engine/error.h"

namespace tint {
namespace TINT_CUDA_NS {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  throw ::tint::Error(::fmt::format("{}:{}: CUDA call `{}` failed: {} ({}) [{} backend]", file, line, call,
                                    cudaGetErrorString(err), static_cast<int>(err), TINT_BACKEND_NAME));
}

inline void check_cuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) throw_cuda_error(err, call, file, line);
}

// After a launch: a bad configuration (too many threads, too much shared memory) or an error left by an
// earlier asynchronous failure shows up here, attributed to the kernel just launched.
inline void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw ::tint::Error(::fmt::format("{}:{}: launch of kernel `{}` failed: {} ({}) [{} backend]", file, line,
                                      kernel, cudaGetErrorString(err), static_cast<int>(err),
                                      TINT_BACKEND_NAME));
  }
}

}  // namespace TINT_CUDA_NS
}  // namespace tint

#define TINT_CUDA_CHECK(call) ::tint::TINT_CUDA_NS::check_cuda((call), #call, __FILE__, __LINE__)
