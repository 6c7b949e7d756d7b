// Included first by every kernels/cuda/*.cu. The same sources build two backends:
//   nvcc             -> namespace tint::cuda,     real CUDA runtime, kernels launched with <<<>>>
//   host compiler    -> namespace tint::cuda_emu, kernels/emu/cuda_emu.h provides CUDA's model on the CPU
// Kernels are written once, against the subset of CUDA that kernels/emu/cuda_emu.h documents, and are
// launched only through TINT_LAUNCH so that both builds check every launch.
#pragma once

#if defined(__CUDACC__)
#include <cuda_pipeline.h>  // __pipeline_memcpy_async (cp.async); the emulator has its own
#include <cuda_runtime.h>
#include <mma.h>  // nvcuda::wmma (TF32 tensor cores); the emulator has its own (kernels/emu/emu_wmma.h)
#define TINT_CUDA_NS cuda
#define TINT_BACKEND_NAME "cuda"
#else
#include "kernels/emu/cuda_emu.h"
#define TINT_CUDA_NS cuda_emu
#define TINT_BACKEND_NAME "cuda-emu"
#endif

#include "kernels/cuda/cuda_check.h"

// Dynamic shared memory, declared the same way in both builds: `TINT_DYNAMIC_SHARED(float4, smem);` inside
// a kernel gives `float4* const smem` (kernels/emu/cuda_emu.h defines the emulator's version). One byte
// array for every kernel avoids nvcc's clash between `extern __shared__` arrays of different types.
#if defined(__CUDACC__)
#define TINT_DYNAMIC_SHARED(type, name)                                 \
  extern __shared__ __align__(16) unsigned char tint_dynamic_shared_[]; \
  type* const name = reinterpret_cast<type*>(tint_dynamic_shared_)
#endif

// TINT_LAUNCH(kernel, grid, block, shared_bytes, stream, args...)
// `kernel` must be a single token or parenthesised: TINT_LAUNCH((conv_kernel<64, 4>), ...).
#if defined(__CUDACC__)
#define TINT_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                     \
  do {                                                                                 \
    kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__);                \
    ::tint::TINT_CUDA_NS::check_launch(#kernel, __FILE__, __LINE__);                   \
  } while (0)
#else
#define TINT_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                                \
  do {                                                                                            \
    ::tint::emu::launch(#kernel, kernel, dim3(grid), dim3(block), (shared_bytes), (stream), __VA_ARGS__); \
    ::tint::TINT_CUDA_NS::check_launch(#kernel, __FILE__, __LINE__);                              \
  } while (0)
#endif
