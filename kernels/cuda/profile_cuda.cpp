// CUDA events and NVTX ranges for engine/profiler.cpp: host code built by the host compiler into tint_cuda
// (nvcc build only). Errors go through tint::Error like every other CUDA call.
#include "kernels/cuda/profile_cuda.h"

#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include "engine/error.h"

namespace tint::cuda::profile {

namespace {
void check(cudaError_t err, const char* call) {
  if (err != cudaSuccess)
    throw Error(fmt::format("profiler: CUDA call {} failed: {}", call, cudaGetErrorString(err)));
}
}  // namespace

void* event_create() {
  cudaEvent_t e = nullptr;
  check(cudaEventCreate(&e), "cudaEventCreate");
  return e;
}

void event_destroy(void* event) {
  if (event) check(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "cudaEventDestroy");
}

void event_record(void* event, void* stream) {
  check(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)),
        "cudaEventRecord");
}

void event_synchronize(void* event) {
  check(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "cudaEventSynchronize");
}

float event_elapsed_ms(void* start, void* end) {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)),
        "cudaEventElapsedTime");
  return ms;
}

void range_push(const char* name) {
  nvtxRangePushA(name);
}
void range_pop() {
  nvtxRangePop();
}

}  // namespace tint::cuda::profile
