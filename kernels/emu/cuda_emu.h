// The CUDA emulation layer: CUDA's programming model on the CPU, so that kernels/cuda/*.cu compile with the
// host compiler and run (slowly, but for real) where there is no GPU. Included by kernels/cuda/cuda_compat.h
// when __CUDACC__ is not defined; never include it from code that nvcc compiles.
//
// How it runs: a launch is synchronous. Blocks run in parallel on a pool of host threads (one per core, or
// TINT_EMU_THREADS); one host thread runs one block at a time, its threads as fibers on small pooled stacks.
// A fiber runs until it reaches __syncthreads() or a warp collective, or exits; the scheduler then runs the
// next one. So a kernel without barriers runs each thread to completion, and a barrier is a real barrier.
//
// Supported subset (what kernels/cuda may use):
//   qualifiers   __global__ __device__ __host__ __forceinline__ __restrict__ __launch_bounds__
//                __align__(n) __constant__ (a plain global; cudaMemcpyToSymbol works) __shared__ (static,
//                see below) and TINT_DYNAMIC_SHARED(type, name) for dynamic shared memory; #pragma unroll
//   built-ins    threadIdx blockIdx (uint3) blockDim gridDim (dim3) warpSize (32)
//   types        dim3 uint3 and the vector types {char,uchar,short,ushort,int,uint,float}{1,2,3,4},
//                {longlong,ulonglong,double}{1,2} with CUDA's alignment, and make_<type>(...)
//   sync         __syncthreads __syncthreads_count/_and/_or __syncwarp __threadfence(_block/_system)
//   warp         __shfl_sync __shfl_up_sync __shfl_down_sync __shfl_xor_sync (any trivially copyable type
//                of at most 8 bytes, with `width`), __ballot_sync __any_sync __all_sync __activemask
//   atomics      atomicAdd (int, unsigned, ull, float, double) atomicSub atomicExch atomicMin atomicMax
//                atomicCAS atomicAnd atomicOr atomicXor atomicInc atomicDec: atomic across host threads
//   math         everything of <math.h> (expf, tanhf, fmaxf, ...) plus rsqrtf __fdividef __expf __logf
//                __powf __sinf __cosf __saturatef __frcp_rn __f{add,sub,mul,div}_rn __fmaf_rn __fsqrt_rn
//                __float2int_{rn,rz,rd,ru} __float_as_int/uint __int_as_float __uint_as_float
//                __double_as_longlong __longlong_as_double __popc(ll) __clz(ll) __ffs(ll) __brev __ldg
//                min/max for all arithmetic types, __trap
//   async copy   __pipeline_memcpy_async (4, 8 or 16 bytes, with zero-fill) __pipeline_commit
//                __pipeline_wait_prior, i.e. cp.async: see "Asynchronous copies" below
//   tensor cores nvcuda::wmma's TF32 m16n16k8 fragments, load/store/fill/mma_sync and __float_to_tf32
//                (<mma.h>'s names): kernels/emu/emu_wmma.h, with a seeded element layout
//   runtime      cudaMalloc/Free, cudaMallocHost/HostAlloc/FreeHost, cudaMemcpy(Async, 2D, To/FromSymbol),
//                cudaMemset(Async), cudaMemGetInfo, streams, events (with timing), cudaDeviceSynchronize,
//                cudaGetLastError/PeekAtLastError/GetErrorString/GetErrorName, cudaFuncSetAttribute,
//                cudaGetDeviceProperties, cudaDeviceGetAttribute, cudaGetDeviceCount, cudaSet/GetDevice
//   graphs       stream capture: cudaStreamBeginCapture/EndCapture/IsCapturing, cudaGraphInstantiate/Launch,
//                cudaGraphDestroy/ExecDestroy, cudaGraphGetNodes (the count only); see "Graphs" below
//   launches     only through TINT_LAUNCH (kernels/cuda/cuda_compat.h), which calls tint::emu::launch
//
// NOT supported (give such code an emulatable fallback; __CUDA_ARCH__ is never defined here, TINT_CUDA_EMU
// is): inline PTX (asm), wgmma, mma.sync, wmma shapes and types other than TF32 m16n16k8, TMA,
// cuda::memcpy_async and cuda::pipeline, cooperative groups, textures and surfaces,
// __half/__nv_bfloat16, dynamic parallelism (a launch from a kernel), graphs built node by node (cudaGraphAdd*),
// event nodes (an event recorded or waited on in a capture), clusters and distributed
// shared memory, __match_*_sync and __reduce_*_sync, managed memory. Streams do not overlap anything.
//
// Shared memory, exactly:
//   static   `__shared__ float tile[32][33];` inside a kernel or __device__ function. It becomes
//            `static thread_local`: one copy per host thread, hence per running block. Pitfalls: it is not
//            poisoned between blocks (a block may see the previous block's values where CUDA would show
//            garbage), an initializer would run once per host thread (CUDA forbids them anyway), and ASan
//            does not bound-check thread_local arrays.
//   dynamic  `TINT_DYNAMIC_SHARED(float4, smem);` as a statement inside the kernel, giving `float4* const
//            smem`; cuda_compat.h defines the same macro for nvcc (an `extern __shared__` byte array,
//            aligned to 16, cast to the type). `extern __shared__ T x[];` does not compile here (it expands
//            to `extern static thread_local`). The buffer is per host thread, aligned to 128, filled with
//            0xFF bytes (NaN as float) before each block, and under ASan the bytes past `shared_bytes` are
//            poisoned, so an overrun is reported.
//
// Checks the emulator adds: launch configuration errors as CUDA gives them (block of more than 1024
// threads, zero or oversized grid, dynamic shared memory over 48 KiB without cudaFuncSetAttribute or over
// the 227 KiB opt-in) reported by cudaGetLastError with the kernel's name; a block whose threads cannot all
// reach a __syncthreads() (some exited) or a warp collective (a lane in the mask exited, lanes disagree on
// the mask or on the operation) fails the launch instead of hanging; a shuffle that reads a lane that is not
// taking part returns 0xFF bytes (NaN); cudaMalloc memory starts as 0xFF bytes; memcpy/memset with a device
// pointer outside any cudaMalloc allocation fails with the pointer named.
//
// Asynchronous copies: each thread keeps its own copies. __pipeline_memcpy_async reads the source at once
// (so a bad source is reported at that line) but writes nothing; __pipeline_commit closes the copies issued
// since the last commit into a group; __pipeline_wait_prior(n) lands every group but the newest n, in order.
// So data read before its wait is stale (or the NaN bytes of fresh shared memory), as on a GPU where the
// copy has not arrived yet. Under a schedule seed, a committed group may instead land at once (a coin per
// group), as a fast copy would: a buffer refilled before every thread is done reading it (a missing
// __syncthreads() between the reads and the next copy) then gives a wrong answer for some seed. Copies never
// waited for are dropped when the thread exits. Sizes other than 4, 8, 16, misaligned addresses and a
// zero-fill larger than the copy fail the launch.
//
// Graphs: cudaStreamBeginCapture(stream, mode) makes the stream record instead of run: each kernel launch
// (its arguments copied), cudaMemcpyAsync, cudaMemcpy2DAsync and cudaMemsetAsync on it becomes a node, and
// nothing is executed, so memory the recorded work would write keeps its old bytes, as on a GPU.
// cudaGraphLaunch runs the nodes in order; a copy reads its source then, so a host buffer refilled between
// launches is what the next launch uploads, and a copy whose device memory was freed since fails with the
// pointer named. Launch configuration errors are reported when the launch is recorded, as CUDA does.
// Calls that cannot be part of a capture invalidate it, in every mode: cudaStreamSynchronize or
// cudaStreamQuery of the capturing stream, cudaDeviceSynchronize while any stream captures, and an event
// recorded on or waited for by the capturing stream (not emulated). The call returns
// cudaErrorStreamCaptureUnsupported, work issued to the stream after it returns
// cudaErrorStreamCaptureInvalidated, and so does cudaStreamEndCapture, naming the first offending call.
// Capture on the default (legacy) stream is refused, as in CUDA. The mode is recorded, not enforced: other
// calls (cudaMalloc included) behave as under cudaStreamCaptureModeRelaxed.
//
// Seeded scheduling: tint::emu::set_schedule_seed(s) (or env TINT_EMU_SEED=s), s != 0, shuffles the order in
// which a block's runnable threads run between barriers and warp collectives (so also the order in which
// lanes reach a collective), differently per seed and block, reproducibly. A missing __syncthreads() then
// shows up as a wrong answer for some seed. Between two synchronisation points each thread still runs
// without interruption: races inside one phase only show up as orderings of whole phases.
#pragma once

#include <math.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#define TINT_CUDA_EMU 1

// ---- qualifiers ----------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__
// __restrict__ is already a GNU C++ keyword.
#define __shared__ static thread_local
#define TINT_DYNAMIC_SHARED(type, name) \
  type* const name = static_cast<type*>(::tint::emu::dynamic_shared_memory())

// ---- index types and vector types ----------------------------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define TINT_EMU_VEC1(T, name, al)           \
  struct __attribute__((aligned(al))) name { \
    T x;                                     \
  };                                         \
  inline constexpr name make_##name(T x) {   \
    return name{x};                          \
  }
#define TINT_EMU_VEC2(T, name, al)              \
  struct __attribute__((aligned(al))) name {    \
    T x, y;                                     \
  };                                            \
  inline constexpr name make_##name(T x, T y) { \
    return name{x, y};                          \
  }
#define TINT_EMU_VEC3(T, name, al)                   \
  struct __attribute__((aligned(al))) name {         \
    T x, y, z;                                       \
  };                                                 \
  inline constexpr name make_##name(T x, T y, T z) { \
    return name{x, y, z};                            \
  }
#define TINT_EMU_VEC4(T, name, al)                        \
  struct __attribute__((aligned(al))) name {              \
    T x, y, z, w;                                         \
  };                                                      \
  inline constexpr name make_##name(T x, T y, T z, T w) { \
    return name{x, y, z, w};                              \
  }

TINT_EMU_VEC1(signed char, char1, 1)
TINT_EMU_VEC2(signed char, char2, 2)
TINT_EMU_VEC3(signed char, char3, 1)
TINT_EMU_VEC4(signed char, char4, 4)
TINT_EMU_VEC1(unsigned char, uchar1, 1)
TINT_EMU_VEC2(unsigned char, uchar2, 2)
TINT_EMU_VEC3(unsigned char, uchar3, 1)
TINT_EMU_VEC4(unsigned char, uchar4, 4)
TINT_EMU_VEC1(short, short1, 2)
TINT_EMU_VEC2(short, short2, 4)
TINT_EMU_VEC3(short, short3, 2)
TINT_EMU_VEC4(short, short4, 8)
TINT_EMU_VEC1(unsigned short, ushort1, 2)
TINT_EMU_VEC2(unsigned short, ushort2, 4)
TINT_EMU_VEC3(unsigned short, ushort3, 2)
TINT_EMU_VEC4(unsigned short, ushort4, 8)
TINT_EMU_VEC1(int, int1, 4)
TINT_EMU_VEC2(int, int2, 8)
TINT_EMU_VEC3(int, int3, 4)
TINT_EMU_VEC4(int, int4, 16)
TINT_EMU_VEC1(unsigned int, uint1, 4)
TINT_EMU_VEC2(unsigned int, uint2, 8)
TINT_EMU_VEC4(unsigned int, uint4, 16)
TINT_EMU_VEC1(float, float1, 4)
TINT_EMU_VEC2(float, float2, 8)
TINT_EMU_VEC3(float, float3, 4)
TINT_EMU_VEC4(float, float4, 16)
TINT_EMU_VEC1(long long, longlong1, 8)
TINT_EMU_VEC2(long long, longlong2, 16)
TINT_EMU_VEC1(unsigned long long, ulonglong1, 8)
TINT_EMU_VEC2(unsigned long long, ulonglong2, 16)
TINT_EMU_VEC1(double, double1, 8)
TINT_EMU_VEC2(double, double2, 16)
inline constexpr uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) {
  return uint3{x, y, z};
}
#undef TINT_EMU_VEC1
#undef TINT_EMU_VEC2
#undef TINT_EMU_VEC3
#undef TINT_EMU_VEC4

inline constexpr int warpSize = 32;

// ---- the runtime API (global namespace, as CUDA's) -----------------------------------------------------
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidSymbol = 13,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorUnknown = 999,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;
struct CUevent_st;
typedef CUevent_st* cudaEvent_t;
struct CUgraph_st;
typedef CUgraph_st* cudaGraph_t;
struct CUgraphExec_st;
typedef CUgraphExec_st* cudaGraphExec_t;
struct CUgraphNode_st;
typedef CUgraphNode_st* cudaGraphNode_t;

enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

#define cudaStreamDefault 0x00u
#define cudaStreamNonBlocking 0x01u
#define cudaStreamLegacy (reinterpret_cast<cudaStream_t>(0x1))
#define cudaStreamPerThread (reinterpret_cast<cudaStream_t>(0x2))
#define cudaEventDefault 0x00u
#define cudaEventBlockingSync 0x01u
#define cudaEventDisableTiming 0x02u
#define cudaHostAllocDefault 0x00u
#define cudaHostAllocPortable 0x01u
#define cudaHostAllocMapped 0x02u
#define cudaHostAllocWriteCombined 0x04u

// The fields of CUDA's cudaDeviceProp that code here may read; the values describe the emulator.
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int maxThreadsPerMultiProcessor;
  int multiProcessorCount;
  int major;
  int minor;
  int clockRate;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
  size_t totalConstMem;
  int concurrentKernels;
  int integrated;
  int unifiedAddressing;
};

cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned int flags);
cudaError_t cudaFreeHost(void* ptr);
template <class T>
inline cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
template <class T>
inline cudaError_t cudaMallocHost(T** ptr, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}
template <class T>
inline cudaError_t cudaHostAlloc(T** ptr, size_t bytes, unsigned int flags) {
  return cudaHostAlloc(reinterpret_cast<void**>(ptr), bytes, flags);
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind kind);
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
template <class T>
inline cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t bytes, size_t offset = 0,
                                      cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(reinterpret_cast<unsigned char*>(&symbol) + offset, src, bytes);
  return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t bytes, size_t offset = 0,
                                        cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(dst, reinterpret_cast<const unsigned char*>(&symbol) + offset, bytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags = 0);

// Graphs by stream capture (see "Graphs" at the top).
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
// nodes must be nullptr: only the count is emulated.
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);

cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
// CUDA's string for the code, followed by the details of the last error of that code on this host thread
// (kernel name, sizes), when there was one: check_launch shows the kernel and the reason in one message.
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);
template <class T>
inline cudaError_t cudaFuncSetAttribute(T* func, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(func), attr, value);
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);

// ---- the emulator's own interface ----------------------------------------------------------------------
namespace tint::emu {

// 0 turns shuffling off (threads run in index order). Overrides TINT_EMU_SEED. Takes effect at the next
// launch; a launch in progress keeps the seed it started with.
void set_schedule_seed(uint64_t seed);
uint64_t schedule_seed();

// Host threads that run blocks (the launching thread included). Set before the first launch, or at any
// time between launches; <= 0 means one per hardware thread (or TINT_EMU_THREADS when set).
void set_block_threads(int threads);
int block_threads();

// The calling block's dynamic shared memory (what TINT_DYNAMIC_SHARED expands to).
void* dynamic_shared_memory();

namespace detail {

inline thread_local ::uint3 t_thread_idx{0, 0, 0};
inline thread_local ::uint3 t_block_idx{0, 0, 0};
inline thread_local ::dim3 t_block_dim{1, 1, 1};
inline thread_local ::dim3 t_grid_dim{1, 1, 1};

enum class WarpOp : uint8_t { shfl_idx, shfl_up, shfl_down, shfl_xor, ballot, any, all, sync };

// Blocks the calling lane until every lane of `mask` (among the lanes that exist in its warp) has reached
// a collective with the same mask and operation, then writes this lane's result (`bytes` bytes for the
// shuffles, an unsigned for the votes) to `result`.
void warp_collective(const char* what, WarpOp op, unsigned mask, const void* value, size_t bytes, int param,
                     int width, void* result);
// Barrier for the whole block; returns how many threads passed a non-zero `predicate`.
int block_barrier(int predicate);
unsigned active_mask();
// The asynchronous copies of <cuda_pipeline.h> (see "Asynchronous copies" at the top).
void pipeline_copy(void* dst, const void* src, size_t size_and_align, size_t zfill);
void pipeline_commit();
void pipeline_wait_prior(size_t prior);
[[noreturn]] void trap();
// Fails the running launch with `message`, prefixed by the calling thread's name (for the emulated APIs'
// own checks, such as wmma's alignment rules).
[[noreturn]] void kernel_error(const char* message);

using Thunk = void (*)(const void* packed);
// A heap copy of a launch's packed arguments, for a launch recorded into a graph and run later.
using Cloner = std::shared_ptr<const void> (*)(const void* packed);
void launch_kernel(const char* name, const void* kernel, dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Thunk thunk, const void* packed, Cloner clone);

template <class Packed>
void run_packed(const void* packed) {
  const Packed& p = *static_cast<const Packed*>(packed);
  std::apply(p.kernel, p.args);  // each thread gets its own copies of by-value parameters, as in CUDA
}

template <class Packed>
std::shared_ptr<const void> clone_packed(const void* packed) {
  return std::make_shared<const Packed>(*static_cast<const Packed*>(packed));
}

}  // namespace detail

// What TINT_LAUNCH calls. The arguments are converted to the kernel's parameter types once, as CUDA does;
// the launch returns when every block has run. Errors go to cudaGetLastError.
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel launched with the wrong number of arguments");
  static_assert((!std::is_reference_v<Params> && ...), "CUDA kernels take their parameters by value");
  struct Packed {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> args;
  };
  const Packed packed{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
  detail::launch_kernel(name, reinterpret_cast<const void*>(kernel), grid, block, shared_bytes, stream,
                        &detail::run_packed<Packed>, &packed, &detail::clone_packed<Packed>);
}

}  // namespace tint::emu

// The built-in variables: read-only views of the running fiber's coordinates (set by the scheduler).
#define threadIdx (static_cast<const ::uint3&>(::tint::emu::detail::t_thread_idx))
#define blockIdx (static_cast<const ::uint3&>(::tint::emu::detail::t_block_idx))
#define blockDim (static_cast<const ::dim3&>(::tint::emu::detail::t_block_dim))
#define gridDim (static_cast<const ::dim3&>(::tint::emu::detail::t_grid_dim))

// ---- synchronisation -----------------------------------------------------------------------------------
inline void __syncthreads() {
  ::tint::emu::detail::block_barrier(0);
}
inline int __syncthreads_count(int predicate) {
  return ::tint::emu::detail::block_barrier(predicate != 0);
}
inline int __syncthreads_and(int predicate) {
  return ::tint::emu::detail::block_barrier(predicate != 0) == int(blockDim.x * blockDim.y * blockDim.z);
}
inline int __syncthreads_or(int predicate) {
  return ::tint::emu::detail::block_barrier(predicate != 0) != 0;
}
inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_system() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_block() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
[[noreturn]] inline void __trap() {
  ::tint::emu::detail::trap();
}

// ---- asynchronous copies (cp.async through <cuda_pipeline.h>'s primitives) ------------------------------
inline void __pipeline_memcpy_async(void* __restrict__ dst_shared, const void* __restrict__ src_global,
                                    size_t size_and_align, size_t zfill = 0) {
  ::tint::emu::detail::pipeline_copy(dst_shared, src_global, size_and_align, zfill);
}
inline void __pipeline_commit() {
  ::tint::emu::detail::pipeline_commit();
}
inline void __pipeline_wait_prior(size_t prior) {
  ::tint::emu::detail::pipeline_wait_prior(prior);
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  unsigned ignored = 0;
  ::tint::emu::detail::warp_collective("__syncwarp", ::tint::emu::detail::WarpOp::sync, mask, nullptr, 0, 0,
                                       32, &ignored);
}
inline unsigned __activemask() {
  return ::tint::emu::detail::active_mask();
}

namespace tint::emu::detail {
template <class T>
inline T shuffle(const char* what, WarpOp op, unsigned mask, T value, int param, int width) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move values of at most 8 bytes");
  T result;
  warp_collective(what, op, mask, &value, sizeof(T), param, width, &result);
  return result;
}
}  // namespace tint::emu::detail

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return ::tint::emu::detail::shuffle("__shfl_sync", ::tint::emu::detail::WarpOp::shfl_idx, mask, var,
                                      src_lane, width);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned int delta, int width = warpSize) {
  return ::tint::emu::detail::shuffle("__shfl_up_sync", ::tint::emu::detail::WarpOp::shfl_up, mask, var,
                                      int(delta), width);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned int delta, int width = warpSize) {
  return ::tint::emu::detail::shuffle("__shfl_down_sync", ::tint::emu::detail::WarpOp::shfl_down, mask, var,
                                      int(delta), width);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return ::tint::emu::detail::shuffle("__shfl_xor_sync", ::tint::emu::detail::WarpOp::shfl_xor, mask, var,
                                      lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  unsigned result = 0;
  const int p = predicate != 0;
  ::tint::emu::detail::warp_collective("__ballot_sync", ::tint::emu::detail::WarpOp::ballot, mask, &p,
                                       sizeof p, 0, 32, &result);
  return result;
}
inline int __any_sync(unsigned mask, int predicate) {
  unsigned result = 0;
  const int p = predicate != 0;
  ::tint::emu::detail::warp_collective("__any_sync", ::tint::emu::detail::WarpOp::any, mask, &p, sizeof p, 0,
                                       32, &result);
  return int(result);
}
inline int __all_sync(unsigned mask, int predicate) {
  unsigned result = 0;
  const int p = predicate != 0;
  ::tint::emu::detail::warp_collective("__all_sync", ::tint::emu::detail::WarpOp::all, mask, &p, sizeof p, 0,
                                       32, &result);
  return int(result);
}

// ---- atomics (std::atomic_ref: atomic across the host threads that run blocks) -------------------------
namespace tint::emu::detail {
template <class T, class F>
inline T atomic_update(T* address, F f) {
  std::atomic_ref<T> a(*address);
  T old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, f(old), std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
  return old;
}
}  // namespace tint::emu::detail

#define TINT_EMU_ATOMIC_ARITH(T)                      \
  inline T atomicAdd(T* address, T v) {               \
    return std::atomic_ref<T>(*address).fetch_add(v); \
  }                                                   \
  inline T atomicExch(T* address, T v) {              \
    return std::atomic_ref<T>(*address).exchange(v);  \
  }
TINT_EMU_ATOMIC_ARITH(int)
TINT_EMU_ATOMIC_ARITH(unsigned int)
TINT_EMU_ATOMIC_ARITH(unsigned long long)
TINT_EMU_ATOMIC_ARITH(float)
TINT_EMU_ATOMIC_ARITH(double)
#undef TINT_EMU_ATOMIC_ARITH

#define TINT_EMU_ATOMIC_INT(T)                                                                    \
  inline T atomicSub(T* address, T v) {                                                           \
    return std::atomic_ref<T>(*address).fetch_sub(v);                                             \
  }                                                                                               \
  inline T atomicAnd(T* address, T v) {                                                           \
    return std::atomic_ref<T>(*address).fetch_and(v);                                             \
  }                                                                                               \
  inline T atomicOr(T* address, T v) {                                                            \
    return std::atomic_ref<T>(*address).fetch_or(v);                                              \
  }                                                                                               \
  inline T atomicXor(T* address, T v) {                                                           \
    return std::atomic_ref<T>(*address).fetch_xor(v);                                             \
  }                                                                                               \
  inline T atomicMin(T* address, T v) {                                                           \
    return ::tint::emu::detail::atomic_update(address, [v](T old) { return old < v ? old : v; }); \
  }                                                                                               \
  inline T atomicMax(T* address, T v) {                                                           \
    return ::tint::emu::detail::atomic_update(address, [v](T old) { return old > v ? old : v; }); \
  }                                                                                               \
  inline T atomicCAS(T* address, T compare, T v) {                                                \
    std::atomic_ref<T>(*address).compare_exchange_strong(compare, v);                             \
    return compare;                                                                               \
  }
TINT_EMU_ATOMIC_INT(int)
TINT_EMU_ATOMIC_INT(unsigned int)
TINT_EMU_ATOMIC_INT(unsigned long long)
TINT_EMU_ATOMIC_INT(long long)
#undef TINT_EMU_ATOMIC_INT
inline long long atomicAdd(long long* address, long long v) {
  return std::atomic_ref<long long>(*address).fetch_add(v);
}
inline unsigned short atomicCAS(unsigned short* address, unsigned short compare, unsigned short v) {
  std::atomic_ref<unsigned short>(*address).compare_exchange_strong(compare, v);
  return compare;
}
// CUDA's wrapping counters: ((old >= limit) ? 0 : old + 1) and ((old == 0 || old > limit) ? limit : old - 1).
inline unsigned int atomicInc(unsigned int* address, unsigned int limit) {
  return ::tint::emu::detail::atomic_update(address,
                                            [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned int atomicDec(unsigned int* address, unsigned int limit) {
  return ::tint::emu::detail::atomic_update(
      address, [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}

// ---- math and bit intrinsics ---------------------------------------------------------------------------
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline double rsqrt(double x) {
  return 1.0 / std::sqrt(x);
}
inline float __fdividef(float a, float b) {
  return a / b;
}
inline float fdividef(float a, float b) {
  return a / b;
}
inline float __expf(float x) {
  return std::exp(x);
}
inline float __exp10f(float x) {
  return std::pow(10.0f, x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline float __log2f(float x) {
  return std::log2(x);
}
inline float __log10f(float x) {
  return std::log10(x);
}
inline float __powf(float a, float b) {
  return std::pow(a, b);
}
inline float __sinf(float x) {
  return std::sin(x);
}
inline float __cosf(float x) {
  return std::cos(x);
}
inline float __tanf(float x) {
  return std::tan(x);
}
inline float __saturatef(float x) {
  return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f);
}  // NaN -> 0
inline float __frcp_rn(float x) {
  return 1.0f / x;
}
inline float __fsqrt_rn(float x) {
  return std::sqrt(x);
}
inline float __frsqrt_rn(float x) {
  return 1.0f / std::sqrt(x);
}
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fdiv_rn(float a, float b) {
  return a / b;
}
inline float __fmaf_rn(float a, float b, float c) {
  return std::fma(a, b, c);
}
inline int __float2int_rn(float x) {
  return int(std::nearbyint(x));
}
inline int __float2int_rz(float x) {
  return int(x);
}
inline int __float2int_rd(float x) {
  return int(std::floor(x));
}
inline int __float2int_ru(float x) {
  return int(std::ceil(x));
}
inline float __int2float_rn(int x) {
  return float(x);
}
inline int __float_as_int(float x) {
  return std::bit_cast<int>(x);
}
inline unsigned int __float_as_uint(float x) {
  return std::bit_cast<unsigned int>(x);
}
inline float __int_as_float(int x) {
  return std::bit_cast<float>(x);
}
inline float __uint_as_float(unsigned int x) {
  return std::bit_cast<float>(x);
}
inline long long __double_as_longlong(double x) {
  return std::bit_cast<long long>(x);
}
inline double __longlong_as_double(long long x) {
  return std::bit_cast<double>(x);
}
inline int __popc(unsigned int x) {
  return std::popcount(x);
}
inline int __popcll(unsigned long long x) {
  return std::popcount(x);
}
inline int __clz(int x) {
  return std::countl_zero(static_cast<unsigned int>(x));
}
inline int __clzll(long long x) {
  return std::countl_zero(static_cast<unsigned long long>(x));
}
inline int __ffs(int x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned int>(x)) + 1;
}
inline int __ffsll(long long x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned long long>(x)) + 1;
}
inline unsigned int __brev(unsigned int x) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
template <class T>
inline T __ldg(const T* p) {
  return *p;
}

// min/max as CUDA declares them for device code: same-type overloads plus the mixed signed/unsigned and
// float/double ones, so that the calls nvcc accepts resolve the same way here.
#define TINT_EMU_MINMAX(R, A, B)                                                          \
  inline R min(A a, B b) {                                                                \
    return static_cast<R>(a) < static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); \
  }                                                                                       \
  inline R max(A a, B b) {                                                                \
    return static_cast<R>(a) > static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); \
  }
TINT_EMU_MINMAX(int, int, int)
TINT_EMU_MINMAX(unsigned int, unsigned int, unsigned int)
TINT_EMU_MINMAX(unsigned int, int, unsigned int)
TINT_EMU_MINMAX(unsigned int, unsigned int, int)
TINT_EMU_MINMAX(long, long, long)
TINT_EMU_MINMAX(unsigned long, unsigned long, unsigned long)
TINT_EMU_MINMAX(unsigned long, long, unsigned long)
TINT_EMU_MINMAX(unsigned long, unsigned long, long)
TINT_EMU_MINMAX(long long, long long, long long)
TINT_EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
TINT_EMU_MINMAX(unsigned long long, long long, unsigned long long)
TINT_EMU_MINMAX(unsigned long long, unsigned long long, long long)
#undef TINT_EMU_MINMAX
inline float min(float a, float b) {
  return std::fmin(a, b);
}
inline float max(float a, float b) {
  return std::fmax(a, b);
}
inline double min(double a, double b) {
  return std::fmin(a, b);
}
inline double max(double a, double b) {
  return std::fmax(a, b);
}
inline double min(float a, double b) {
  return std::fmin(double(a), b);
}
inline double max(float a, double b) {
  return std::fmax(double(a), b);
}
inline double min(double a, float b) {
  return std::fmin(a, double(b));
}
inline double max(double a, float b) {
  return std::fmax(a, double(b));
}

// ---- warp matrix functions (nvcuda::wmma, TF32 m16n16k8 only) -------------------------------------------
#include "kernels/emu/emu_wmma.h"
