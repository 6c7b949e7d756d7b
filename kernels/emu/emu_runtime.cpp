// The CUDA runtime calls on the CPU: device memory is host memory, streams and events are synchronous
// bookkeeping, errors carry a message. Device pointers are tracked so that a memcpy or memset that treats a
// host pointer (or a freed or overrun one) as device memory fails with the pointer named, as it would on a
// GPU.
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/error.h"
#include "kernels/emu/emu_internal.h"

struct CUstream_st {
  unsigned flags = 0;
  // Stream capture (under Registry::mutex): the nodes recorded so far, and why the capture became invalid.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  std::vector<tint::emu::detail::GraphNode> nodes;
  std::string invalid_reason;
};

struct CUgraph_st {
  std::vector<tint::emu::detail::GraphNode> nodes;
};

struct CUgraphExec_st {
  std::vector<tint::emu::detail::GraphNode> nodes;
};

struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point when;
};

namespace tint::emu::detail {
namespace {

constexpr std::align_val_t kDeviceAlignment{256};  // cudaMalloc's guarantee

thread_local cudaError_t t_last_error = cudaSuccess;
// Per code, CUDA's text plus the details of the last error of that code on this thread.
thread_local std::unordered_map<int, std::string> t_error_text;

struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, size_t> device;  // start -> bytes
  std::set<void*> pinned;
  std::set<CUstream_st*> streams;
  std::set<CUevent_st*> events;
  std::set<CUgraph_st*> graphs;
  std::set<CUgraphExec_st*> execs;
};
Registry& registry() {
  static Registry r;
  return r;
}

const char* base_string(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidSymbol:
      return "invalid device symbol";
    case cudaErrorInvalidDevicePointer:
      return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection:
      return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotReady:
      return "device not ready";
    case cudaErrorIllegalAddress:
      return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
    case cudaErrorNotSupported:
      return "operation not supported";
    case cudaErrorIllegalState:
      return "the operation cannot be performed in the present state";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorUnknown:
      return "unknown error";
  }
  return "unrecognized error code";
}

// Whether [p, p + bytes) lies inside one live cudaMalloc allocation.
bool is_device_range(const void* p, size_t bytes) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = r.device.upper_bound(a);
  if (it == r.device.begin()) return false;
  --it;
  return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

cudaError_t check_device(const char* call, const char* role, const void* p, size_t bytes) {
  if (is_device_range(p, bytes)) return cudaSuccess;
  return set_last_error(
      cudaErrorInvalidValue,
      fmt::format("{}: {} {} (+{} bytes) is not inside a live cudaMalloc allocation", call, role, p, bytes));
}

cudaError_t check_copy(const char* call, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (int(kind) < 0 || int(kind) > 4) {
    return set_last_error(cudaErrorInvalidMemcpyDirection,
                          fmt::format("{}: kind {} is not a cudaMemcpyKind", call, int(kind)));
  }
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return set_last_error(cudaErrorInvalidValue, fmt::format("{}: null pointer", call));
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) {
    if (cudaError_t e = check_device(call, "destination", dst, bytes)) return e;
  }
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) {
    if (cudaError_t e = check_device(call, "source", src, bytes)) return e;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t set_last_error(cudaError_t code, std::string detail) {
  t_last_error = code;
  t_error_text[int(code)] = fmt::format("{}: {}", base_string(code), detail);
  return code;
}

bool stream_is_valid(cudaStream_t stream) {
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) return true;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.streams.count(stream) != 0;
}

bool is_user_stream(cudaStream_t stream) {
  return stream != nullptr && stream != cudaStreamLegacy && stream != cudaStreamPerThread;
}

// Under Registry::mutex: marks the stream's capture invalid because of `call` (the first reason is kept).
cudaError_t invalidate_capture(CUstream_st* s, const std::string& call) {
  if (s->invalid_reason.empty()) s->invalid_reason = call;
  s->capture = cudaStreamCaptureStatusInvalidated;
  return set_last_error(cudaErrorStreamCaptureUnsupported,
                        fmt::format("{} is not allowed while the stream captures a graph", call));
}

// `call` on `stream` cannot be captured: an error that invalidates the capture when the stream captures.
cudaError_t refuse_if_capturing(cudaStream_t stream, const std::string& call) {
  if (!is_user_stream(stream)) return cudaSuccess;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.streams.count(stream) || stream->capture == cudaStreamCaptureStatusNone) return cudaSuccess;
  return invalidate_capture(stream, call);
}

bool record_if_capturing(cudaStream_t stream, GraphNode node, cudaError_t* status) {
  *status = cudaSuccess;
  if (!is_user_stream(stream)) return false;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.streams.count(stream) || stream->capture == cudaStreamCaptureStatusNone) return false;
  if (stream->capture == cudaStreamCaptureStatusInvalidated) {
    *status = set_last_error(
        cudaErrorStreamCaptureInvalidated,
        fmt::format("work issued to a stream whose capture was invalidated by {}", stream->invalid_reason));
    return true;
  }
  stream->nodes.push_back(std::move(node));
  return true;
}

}  // namespace tint::emu::detail

using tint::emu::detail::set_last_error;

// ---- memory --------------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  using namespace tint::emu::detail;
  if (!ptr) return set_last_error(cudaErrorInvalidValue, "cudaMalloc: null output pointer");
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  // operator new with the exact size, so that ASan flags an access one past the end.
  void* p = ::operator new(bytes, kDeviceAlignment, std::nothrow);
  if (!p) return set_last_error(cudaErrorMemoryAllocation, fmt::format("cudaMalloc: {} bytes", bytes));
  std::memset(p, 0xFF, bytes);  // device memory starts as garbage; NaN bytes make a missing write visible
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.device[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  using namespace tint::emu::detail;
  if (!ptr) return cudaSuccess;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.device.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == r.device.end()) {
      return set_last_error(
          cudaErrorInvalidValue,
          fmt::format("cudaFree: {} is not the start of a live cudaMalloc allocation", ptr));
    }
    r.device.erase(it);
  }
  ::operator delete(ptr, kDeviceAlignment);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned int) {
  using namespace tint::emu::detail;
  if (!ptr) return set_last_error(cudaErrorInvalidValue, "cudaMallocHost: null output pointer");
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  void* p = ::operator new(bytes, kDeviceAlignment, std::nothrow);
  if (!p) return set_last_error(cudaErrorMemoryAllocation, fmt::format("cudaMallocHost: {} bytes", bytes));
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.pinned.insert(p);
  }
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  return cudaHostAlloc(ptr, bytes, cudaHostAllocDefault);
}

cudaError_t cudaFreeHost(void* ptr) {
  using namespace tint::emu::detail;
  if (!ptr) return cudaSuccess;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.pinned.erase(ptr) == 0) {
      return set_last_error(
          cudaErrorInvalidValue,
          fmt::format("cudaFreeHost: {} did not come from cudaMallocHost/cudaHostAlloc", ptr));
    }
  }
  ::operator delete(ptr, kDeviceAlignment);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  if (free_bytes) *free_bytes = size_t(sysconf(_SC_AVPHYS_PAGES)) * page;
  if (total_bytes) *total_bytes = size_t(sysconf(_SC_PHYS_PAGES)) * page;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t e = tint::emu::detail::check_copy("cudaMemcpy", dst, src, bytes, kind)) return e;
  if (bytes) std::memcpy(dst, src, bytes);  // overlapping ranges are an error in CUDA too; ASan reports them
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (!tint::emu::detail::stream_is_valid(stream)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaMemcpyAsync: unknown stream");
  }
  if (cudaError_t e = tint::emu::detail::check_copy("cudaMemcpyAsync", dst, src, bytes, kind)) return e;
  cudaError_t status = cudaSuccess;
  // Recorded: the copy reads its source and checks its device pointers when the graph runs.
  if (tint::emu::detail::record_if_capturing(
          stream, [=] { return cudaMemcpy(dst, src, bytes, kind); }, &status))
    return status;
  if (bytes) std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind kind) {
  if (width > dpitch || width > spitch) {
    return set_last_error(
        cudaErrorInvalidValue,
        fmt::format("cudaMemcpy2D: width {} exceeds a pitch ({}, {})", width, dpitch, spitch));
  }
  if (height == 0 || width == 0) return cudaSuccess;
  const size_t dst_span = dpitch * (height - 1) + width, src_span = spitch * (height - 1) + width;
  using tint::emu::detail::check_device;
  if (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) {
    if (cudaError_t e = check_device("cudaMemcpy2D", "destination", dst, dst_span)) return e;
  }
  if (kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) {
    if (cudaError_t e = check_device("cudaMemcpy2D", "source", src, src_span)) return e;
  }
  for (size_t row = 0; row < height; ++row) {
    std::memcpy(static_cast<char*>(dst) + row * dpitch, static_cast<const char*>(src) + row * spitch, width);
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!tint::emu::detail::stream_is_valid(stream)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaMemcpy2DAsync: unknown stream");
  }
  cudaError_t status = cudaSuccess;
  if (tint::emu::detail::record_if_capturing(
          stream, [=] { return cudaMemcpy2D(dst, dpitch, src, spitch, width, height, kind); }, &status))
    return status;
  return cudaMemcpy2D(dst, dpitch, src, spitch, width, height, kind);
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (cudaError_t e = tint::emu::detail::check_device("cudaMemset", "destination", dst, bytes)) return e;
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  if (!tint::emu::detail::stream_is_valid(stream)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaMemsetAsync: unknown stream");
  }
  if (bytes)
    if (cudaError_t e = tint::emu::detail::check_device("cudaMemsetAsync", "destination", dst, bytes)) return e;
  cudaError_t status = cudaSuccess;
  if (tint::emu::detail::record_if_capturing(stream, [=] { return cudaMemset(dst, value, bytes); }, &status))
    return status;
  return cudaMemset(dst, value, bytes);
}

// ---- streams and events (work is done when it is issued, so there is never anything to wait for) ------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  using namespace tint::emu::detail;
  if (!stream) return set_last_error(cudaErrorInvalidValue, "cudaStreamCreate: null output pointer");
  auto* s = new CUstream_st;
  s->flags = flags;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.streams.insert(s);
  *stream = s;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  using namespace tint::emu::detail;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.streams.erase(stream) == 0) {
      return set_last_error(
          cudaErrorInvalidResourceHandle,
          fmt::format("cudaStreamDestroy: {} is not a live stream", static_cast<void*>(stream)));
    }
  }
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!tint::emu::detail::stream_is_valid(stream)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
  }
  return tint::emu::detail::refuse_if_capturing(stream, "cudaStreamSynchronize");
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  if (!tint::emu::detail::stream_is_valid(stream)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamQuery: unknown stream");
  }
  return tint::emu::detail::refuse_if_capturing(stream, "cudaStreamQuery");
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  using namespace tint::emu::detail;
  if (!stream_is_valid(stream))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown stream");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.events.count(event))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown event");
  if (is_user_stream(stream) && stream->capture != cudaStreamCaptureStatusNone)
    return invalidate_capture(stream, "cudaStreamWaitEvent (event nodes are not emulated)");
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  using namespace tint::emu::detail;
  if (!event) return set_last_error(cudaErrorInvalidValue, "cudaEventCreate: null output pointer");
  auto* e = new CUevent_st{};
  e->flags = flags;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.events.insert(e);
  *event = e;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

namespace {
bool event_is_valid(cudaEvent_t event) {
  auto& r = tint::emu::detail::registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.events.count(event) != 0;
}
}  // namespace

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event_is_valid(event))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event");
  if (!tint::emu::detail::stream_is_valid(stream)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown stream");
  }
  if (cudaError_t e =
          tint::emu::detail::refuse_if_capturing(stream, "cudaEventRecord (event nodes are not emulated)"))
    return e;
  event->recorded = true;
  event->when = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event_is_valid(event)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
  }
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  return cudaEventSynchronize(event);
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return set_last_error(cudaErrorInvalidValue, "cudaEventElapsedTime: null output pointer");
  if (!event_is_valid(start) || !event_is_valid(end)) {
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: unknown event");
  }
  if ((start->flags | end->flags) & cudaEventDisableTiming) {
    return set_last_error(cudaErrorInvalidResourceHandle,
                          "cudaEventElapsedTime: an event was created with cudaEventDisableTiming");
  }
  if (!start->recorded || !end->recorded) {
    return set_last_error(cudaErrorInvalidResourceHandle,
                          "cudaEventElapsedTime: an event was never recorded");
  }
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  {
    auto& r = tint::emu::detail::registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.events.erase(event) == 0) {
      return set_last_error(
          cudaErrorInvalidResourceHandle,
          fmt::format("cudaEventDestroy: {} is not a live event", static_cast<void*>(event)));
    }
  }
  delete event;
  return cudaSuccess;
}

// ---- device and errors ---------------------------------------------------------------------------------

cudaError_t cudaDeviceSynchronize() {
  using namespace tint::emu::detail;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  cudaError_t result = cudaSuccess;
  for (CUstream_st* s : r.streams)
    if (s->capture != cudaStreamCaptureStatusNone) result = invalidate_capture(s, "cudaDeviceSynchronize");
  return result;
}

// ---- graphs --------------------------------------------------------------------------------------------

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  using namespace tint::emu::detail;
  if (int(mode) < 0 || int(mode) > 2)
    return set_last_error(cudaErrorInvalidValue, fmt::format("cudaStreamBeginCapture: mode {}", int(mode)));
  if (!is_user_stream(stream))
    return set_last_error(cudaErrorStreamCaptureUnsupported,
                          "cudaStreamBeginCapture: the default (legacy) stream cannot capture");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.streams.count(stream))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamBeginCapture: unknown stream");
  if (stream->capture != cudaStreamCaptureStatusNone)
    return set_last_error(cudaErrorIllegalState, "cudaStreamBeginCapture: the stream is already capturing");
  stream->capture = cudaStreamCaptureStatusActive;
  stream->nodes.clear();
  stream->invalid_reason.clear();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  using namespace tint::emu::detail;
  if (!graph) return set_last_error(cudaErrorInvalidValue, "cudaStreamEndCapture: null output pointer");
  *graph = nullptr;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!is_user_stream(stream) || !r.streams.count(stream))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamEndCapture: unknown stream");
  if (stream->capture == cudaStreamCaptureStatusNone)
    return set_last_error(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not capturing");
  const bool invalid = stream->capture == cudaStreamCaptureStatusInvalidated;
  stream->capture = cudaStreamCaptureStatusNone;
  std::vector<GraphNode> nodes = std::move(stream->nodes);
  stream->nodes.clear();
  if (invalid)
    return set_last_error(cudaErrorStreamCaptureInvalidated,
                          fmt::format("the capture was invalidated by {}", stream->invalid_reason));
  auto* g = new CUgraph_st{std::move(nodes)};
  r.graphs.insert(g);
  *graph = g;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  using namespace tint::emu::detail;
  if (!status) return set_last_error(cudaErrorInvalidValue, "cudaStreamIsCapturing: null output pointer");
  *status = cudaStreamCaptureStatusNone;
  if (!is_user_stream(stream)) return cudaSuccess;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.streams.count(stream))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaStreamIsCapturing: unknown stream");
  *status = stream->capture;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  using namespace tint::emu::detail;
  if (!count) return set_last_error(cudaErrorInvalidValue, "cudaGraphGetNodes: null count");
  if (nodes) return set_last_error(cudaErrorNotSupported, "cudaGraphGetNodes: only the count is emulated");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.graphs.count(graph)) return set_last_error(cudaErrorInvalidValue, "cudaGraphGetNodes: not a live graph");
  *count = graph->nodes.size();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  using namespace tint::emu::detail;
  if (!exec) return set_last_error(cudaErrorInvalidValue, "cudaGraphInstantiate: null output pointer");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (!r.graphs.count(graph))
    return set_last_error(cudaErrorInvalidValue, "cudaGraphInstantiate: not a live graph");
  auto* e = new CUgraphExec_st{graph->nodes};  // the nodes are copied: the graph may be destroyed after
  r.execs.insert(e);
  *exec = e;
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  using namespace tint::emu::detail;
  if (!stream_is_valid(stream))
    return set_last_error(cudaErrorInvalidResourceHandle, "cudaGraphLaunch: unknown stream");
  std::vector<GraphNode> nodes;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.execs.count(exec))
      return set_last_error(cudaErrorInvalidValue, "cudaGraphLaunch: not a live executable graph");
    nodes = exec->nodes;
  }
  const auto run = [nodes] {
    for (const GraphNode& node : nodes)
      if (cudaError_t e = node()) return e;
    return cudaSuccess;
  };
  cudaError_t status = cudaSuccess;
  if (record_if_capturing(stream, run, &status)) return status;  // a graph launched into a capture
  return run();
}

namespace tint::emu::detail {
namespace {
// Forgets and deletes `p`, a live object of the registry's `set`; `message` when it is not one.
template <class T>
cudaError_t destroy_live(std::set<T*> Registry::*set, T* p, const char* message) {
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if ((r.*set).erase(p) == 0) return set_last_error(cudaErrorInvalidValue, message);
  }
  delete p;
  return cudaSuccess;
}
}  // namespace
}  // namespace tint::emu::detail

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  return tint::emu::detail::destroy_live(&tint::emu::detail::Registry::execs, exec,
                                         "cudaGraphExecDestroy: not a live executable graph");
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  return tint::emu::detail::destroy_live(&tint::emu::detail::Registry::graphs, graph,
                                         "cudaGraphDestroy: not a live graph");
}

cudaError_t cudaDeviceReset() {
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = tint::emu::detail::t_last_error;
  tint::emu::detail::t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError() {
  return tint::emu::detail::t_last_error;
}

const char* cudaGetErrorString(cudaError_t error) {
  const auto it = tint::emu::detail::t_error_text.find(int(error));
  if (it != tint::emu::detail::t_error_text.end()) return it->second.c_str();
  return tint::emu::detail::base_string(error);
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidSymbol:
      return "cudaErrorInvalidSymbol";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorUnknown:
      return "cudaErrorUnknown";
  }
  return "cudaErrorUnrecognized";
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return set_last_error(cudaErrorInvalidValue, "cudaGetDeviceProperties: null output pointer");
  if (device != 0) {
    return set_last_error(
        cudaErrorInvalidDevice,
        fmt::format("cudaGetDeviceProperties: device {} (the emulator is device 0)", device));
  }
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "%s", "tint cuda-emu");
  size_t total = 0;
  cudaMemGetInfo(nullptr, &total);
  prop->totalGlobalMem = total;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->sharedMemPerMultiprocessor = 228 * 1024;
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->maxThreadsPerMultiProcessor = 1024;  // one block at a time per host thread
  prop->multiProcessorCount = tint::emu::block_threads();
  // 7.0: the model emulated is Volta's (independent thread scheduling, *_sync collectives) and nothing newer.
  prop->major = 7;
  prop->minor = 0;
  prop->clockRate = 1000000;
  prop->memoryClockRate = 1000000;
  prop->memoryBusWidth = 64;
  prop->l2CacheSize = 0;
  prop->totalConstMem = 64 * 1024;
  prop->concurrentKernels = 0;
  prop->integrated = 1;
  prop->unifiedAddressing = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!value) return set_last_error(cudaErrorInvalidValue, "cudaDeviceGetAttribute: null output pointer");
  cudaDeviceProp p;
  if (cudaError_t e = cudaGetDeviceProperties(&p, device)) return e;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
      *value = p.maxThreadsPerBlock;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = int(p.sharedMemPerBlock);
      return cudaSuccess;
    case cudaDevAttrWarpSize:
      *value = p.warpSize;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = p.multiProcessorCount;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *value = p.major;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = p.minor;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = int(p.sharedMemPerMultiprocessor);
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = int(p.sharedMemPerBlockOptin);
      return cudaSuccess;
  }
  return set_last_error(cudaErrorInvalidValue,
                        fmt::format("cudaDeviceGetAttribute: attribute {} is not emulated", int(attr)));
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return set_last_error(cudaErrorInvalidValue, "cudaGetDeviceCount: null output pointer");
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) {
    return set_last_error(cudaErrorInvalidDevice,
                          fmt::format("cudaSetDevice({}): the emulator is device 0 only", device));
  }
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return set_last_error(cudaErrorInvalidValue, "cudaGetDevice: null output pointer");
  *device = 0;
  return cudaSuccess;
}
