// Every CUDA runtime call and every launch is checked; a failure becomes a tint::Error naming the call, the
// file and the line, so that an error on a lent GPU (where there is no debugger session to spare) says
// exactly where it happened. Included by kernels/cuda/cuda_compat.h after the runtime (real or emulated).
//
// No fmt here: nvcc's front end cannot compile fmt 9 header-only (its consteval format checks), so the .cu
// files build messages with printf-style formatting and throw through raise_error, defined in a file the
// host compiler builds (cuda_errors.cpp for nvcc, backend.cu for the emulator).
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

namespace tint {
namespace TINT_CUDA_NS {

// Throws tint::Error(message).
[[noreturn]] void raise_error(const std::string& message);

__attribute__((format(printf, 1, 2))) inline std::string format_message(const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  raise_error(format_message("%s:%d: CUDA call `%s` failed: %s (%d) [%s backend]", file, line, call,
                             cudaGetErrorString(err), static_cast<int>(err), TINT_BACKEND_NAME));
}

inline void check_cuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // reported here: the next launch's check must not blame its kernel for it
    throw_cuda_error(err, call, file, line);
  }
}

// After a launch: a bad configuration (too many threads, too much shared memory) or an error left by an
// earlier asynchronous failure shows up here, attributed to the kernel just launched.
inline void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    raise_error(format_message("%s:%d: launch of kernel `%s` failed: %s (%d) [%s backend]", file, line, kernel,
                               cudaGetErrorString(err), static_cast<int>(err), TINT_BACKEND_NAME));
  }
}

}  // namespace TINT_CUDA_NS
}  // namespace tint

#define TINT_CUDA_CHECK(call) ::tint::TINT_CUDA_NS::check_cuda((call), #call, __FILE__, __LINE__)
