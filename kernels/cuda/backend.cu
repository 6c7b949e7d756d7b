// The memory entries of the CUDA backends and the Backend table itself. Under nvcc this is tint's `cuda`
// backend (cudaMalloc'd device memory); under the emulator, `cuda-emu` (the emulator's cudaMalloc hands out
// host memory).
#include "kernels/cuda/cuda_compat.h"

#include "engine/backend.h"
#include "kernels/cuda/ops.h"

#if !defined(__CUDACC__)
#include "engine/error.h"
#endif

namespace tint {
namespace TINT_CUDA_NS {

namespace {

void* alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaSuccess) return p;
  (void)cudaGetLastError();  // an out-of-memory error is not sticky: clear it so later launches are not blamed
#if defined(__CUDACC__)
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    raise_error(format_message("%s: cannot allocate %zu bytes (%.1f MiB) of device memory: %s; %.1f MiB in use, "
                               "%.1f MiB free of %.1f MiB",
                               TINT_BACKEND_NAME, bytes, bytes / 1048576.0, cudaGetErrorString(err),
                               (total_bytes - free_bytes) / 1048576.0, free_bytes / 1048576.0,
                               total_bytes / 1048576.0));
  }
#endif
  raise_error(format_message("%s: cannot allocate %zu bytes (%.1f MiB) of device memory: %s", TINT_BACKEND_NAME,
                             bytes, bytes / 1048576.0, cudaGetErrorString(err)));
}

void free_memory(void* p) {
  if (p) TINT_CUDA_CHECK(cudaFree(p));
}

void copy_from_host(const Stream& s, void* dst, const void* host_src, size_t bytes) {
  if (bytes) TINT_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_of(s)));
}

void copy_to_host(const Stream& s, void* host_dst, const void* src, size_t bytes) {
  if (bytes) TINT_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(s)));
}

void synchronize(const Stream& s) { TINT_CUDA_CHECK(cudaStreamSynchronize(stream_of(s))); }

// One stream per device runtime (non-blocking: it never waits on the legacy default stream).
void* create_stream() {
  cudaStream_t stream = nullptr;
  TINT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

void destroy_stream(void* handle) {
  if (handle) TINT_CUDA_CHECK(cudaStreamDestroy(static_cast<cudaStream_t>(handle)));
}

// Page-locked host memory: uploads from it are true asynchronous DMA and run at full PCIe/NVLink speed.
void* alloc_pinned(size_t bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMallocHost(&p, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear it: the caller may fall back to pageable memory
    raise_error(format_message("%s: cannot allocate %zu bytes of pinned host memory: %s", TINT_BACKEND_NAME, bytes,
                               cudaGetErrorString(err)));
  }
  return p;
}

void free_pinned(void* p) {
  if (p) TINT_CUDA_CHECK(cudaFreeHost(p));
}

// Graphs. Relaxed mode: the caching allocator may still need a cudaMalloc while the step is recorded (the
// block then belongs to the graph's pool, engine/graph.h), and loader threads pin host memory meanwhile.
// Waiting for the capturing stream stays an error in every mode.
void begin_capture(const Stream& s) {
  TINT_CUDA_CHECK(cudaStreamBeginCapture(stream_of(s), cudaStreamCaptureModeRelaxed));
}

void* end_capture(const Stream& s, size_t* nodes) {
  cudaGraph_t graph = nullptr;
  TINT_CUDA_CHECK(cudaStreamEndCapture(stream_of(s), &graph));
  *nodes = 0;
  const cudaError_t counted = cudaGraphGetNodes(graph, nullptr, nodes);
  if (counted != cudaSuccess) (void)cudaGraphDestroy(graph);
  check_cuda(counted, "cudaGraphGetNodes(graph, nullptr, nodes)", __FILE__, __LINE__);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  (void)cudaGraphDestroy(graph);  // the executable graph keeps what it needs
  check_cuda(err, "cudaGraphInstantiate(&exec, graph, 0)", __FILE__, __LINE__);
  return exec;
}

void launch_graph(const Stream& s, void* graph) {
  TINT_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), stream_of(s)));
}

void destroy_graph(void* graph) {
  if (graph) TINT_CUDA_CHECK(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph)));
}

const Backend kTable = {
    .name = TINT_BACKEND_NAME,
    .alloc = alloc,
    .free = free_memory,
    .alloc_pinned = alloc_pinned,
    .free_pinned = free_pinned,
    .copy_from_host = copy_from_host,
    .copy_to_host = copy_to_host,
    .synchronize = synchronize,
    .create_stream = create_stream,
    .destroy_stream = destroy_stream,
    .fill = fill,
    .copy = copy,
    .add = add,
    .scale = scale,
    .axpy = axpy,
    .sum = sum,
    .broadcast_scalar = broadcast_scalar,
    .relu_forward = relu_forward,
    .relu_backward = relu_backward,
    .tanh_forward = tanh_forward,
    .tanh_backward = tanh_backward,
    .bias_add = bias_add,
    .bias_backward = bias_backward,
    .bias_relu_forward = bias_relu_forward,
    .bias_relu_backward = bias_relu_backward,
    .concat_channels = concat_channels,
    .split_channels = split_channels,
    .conv2d_forward = conv2d_forward,
    .conv2d_backward_data = conv2d_backward_data,
    .conv2d_backward_weight = conv2d_backward_weight,
    .conv2d_workspace_bytes = conv2d_workspace_bytes,
    .conv2d_forward_epilogue = conv2d_forward_epilogue,
    .conv2d_backward_data_epilogue = conv2d_backward_data_epilogue,
    .l1_loss_forward = l1_loss_forward,
    .l1_loss_backward = l1_loss_backward,
    .mse_loss_forward = mse_loss_forward,
    .mse_loss_backward = mse_loss_backward,
    .softmax_ce_forward = softmax_ce_forward,
    .softmax_ce_backward = softmax_ce_backward,
    .annealed_mean_decode = annealed_mean_decode,
    .adam_step = adam_step,
    .begin_capture = begin_capture,
    .end_capture = end_capture,
    .launch_graph = launch_graph,
    .destroy_graph = destroy_graph,
};

}  // namespace

const Backend& table() { return kTable; }

#if !defined(__CUDACC__)
[[noreturn]] void raise_error(const std::string& message) { throw Error(message); }
#endif

}  // namespace TINT_CUDA_NS

#if defined(__CUDACC__)
const Backend* cuda_backend() { return &cuda::table(); }

bool cuda_device_available() {
  static const bool available = [] {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return count > 0;
  }();
  return available;
}
#else
const Backend& cuda_emu_backend() { return cuda_emu::table(); }
#endif

}  // namespace tint
