// What the profiler (engine/profiler.cpp) needs from the CUDA runtime and NVTX, behind opaque pointers so
// that engine/ includes no CUDA header. Defined in profile_cuda.cpp, which exists only in the nvcc build
// (TINT_HAVE_CUDA); the emulator's kernels run synchronously, so cuda-emu is timed with the host clock.
#pragma once

namespace tint::cuda::profile {

void* event_create();  // a timing event
void event_destroy(void* event);
void event_record(void* event, void* stream);    // enqueued on the stream: no synchronisation
void event_synchronize(void* event);             // waits for the event (once per step, not per op)
float event_elapsed_ms(void* start, void* end);  // both complete

// NVTX ranges (nvtx3, header-only): Nsight Systems and Nsight Compute show these names.
void range_push(const char* name);
void range_pop();

}  // namespace tint::cuda::profile
