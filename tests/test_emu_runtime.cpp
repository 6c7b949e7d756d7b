// The CUDA emulator's runtime calls: memory, copies, streams, events, errors and the device description.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "kernels/cuda/cuda_compat.h"

TEST_CASE("emu: cudaMalloc memory starts as NaN bytes and round-trips through every copy kind", "[emu]") {
  const size_t n = 1000;
  float* a = nullptr;
  float* b = nullptr;
  TINT_CUDA_CHECK(cudaMalloc(&a, n * sizeof(float)));
  TINT_CUDA_CHECK(cudaMalloc(&b, n * sizeof(float)));
  REQUIRE(reinterpret_cast<uintptr_t>(a) % 256 == 0);
  std::vector<float> host(n), back(n, 0.0f);
  TINT_CUDA_CHECK(cudaMemcpy(back.data(), a, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (float v : back) REQUIRE(std::isnan(v));
  for (size_t i = 0; i < n; ++i) host[i] = float(i) * 0.25f;

  cudaStream_t stream = nullptr;
  TINT_CUDA_CHECK(cudaStreamCreate(&stream));
  TINT_CUDA_CHECK(cudaMemcpyAsync(a, host.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream));
  TINT_CUDA_CHECK(cudaMemcpyAsync(b, a, n * sizeof(float), cudaMemcpyDeviceToDevice, stream));
  TINT_CUDA_CHECK(cudaMemcpyAsync(back.data(), b, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  TINT_CUDA_CHECK(cudaStreamSynchronize(stream));
  REQUIRE(back == host);

  std::vector<float> other(n);
  TINT_CUDA_CHECK(cudaMemcpy(other.data(), host.data(), n * sizeof(float), cudaMemcpyHostToHost));
  TINT_CUDA_CHECK(cudaMemcpy(other.data(), b, n * sizeof(float), cudaMemcpyDefault));
  REQUIRE(other == host);

  TINT_CUDA_CHECK(cudaMemsetAsync(b, 0, n * sizeof(float), stream));
  TINT_CUDA_CHECK(cudaMemcpy(back.data(), b, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (float v : back) REQUIRE(v == 0.0f);

  // 2-D copy of a 3x4 window out of rows of 10 floats.
  TINT_CUDA_CHECK(cudaMemcpy2D(b, 4 * sizeof(float), a + 2, 10 * sizeof(float), 4 * sizeof(float), 3,
                               cudaMemcpyDeviceToDevice));
  TINT_CUDA_CHECK(cudaMemcpy(back.data(), b, 12 * sizeof(float), cudaMemcpyDeviceToHost));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) REQUIRE(back[size_t(r * 4 + c)] == host[size_t(r * 10 + 2 + c)]);

  TINT_CUDA_CHECK(cudaStreamDestroy(stream));
  TINT_CUDA_CHECK(cudaFree(a));
  TINT_CUDA_CHECK(cudaFree(b));
  TINT_CUDA_CHECK(cudaFree(nullptr));
}

TEST_CASE("emu: host pointers, overruns and freed pointers used as device memory are errors", "[emu]") {
  float* d = nullptr;
  TINT_CUDA_CHECK(cudaMalloc(&d, 64 * sizeof(float)));
  std::vector<float> host(128);
  cudaGetLastError();
  CHECK(cudaMemcpy(host.data(), host.data() + 64, 64 * sizeof(float), cudaMemcpyDeviceToHost) ==
        cudaErrorInvalidValue);
  CHECK_THAT(cudaGetErrorString(cudaErrorInvalidValue),
             Catch::Contains("source") && Catch::Contains("cudaMalloc"));
  CHECK(cudaMemcpy(d, host.data(), 65 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(d + 1, host.data(), 63 * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemset(host.data(), 0, 4) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(d, host.data(), 4, static_cast<cudaMemcpyKind>(9)) == cudaErrorInvalidMemcpyDirection);
  REQUIRE_THROWS_WITH(TINT_CUDA_CHECK(cudaFree(host.data())), Catch::Contains("cudaFree"));
  TINT_CUDA_CHECK(cudaFree(d));
  CHECK(cudaFree(d) == cudaErrorInvalidValue);          // double free
  CHECK(cudaMemset(d, 0, 4) == cudaErrorInvalidValue);  // use after free
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaPeekAtLastError() == cudaSuccess);
}

TEST_CASE("emu: pinned host memory, events and device queries", "[emu]") {
  float* pinned = nullptr;
  TINT_CUDA_CHECK(cudaMallocHost(&pinned, 256 * sizeof(float)));
  pinned[255] = 3.0f;
  TINT_CUDA_CHECK(cudaFreeHost(pinned));

  cudaEvent_t start = nullptr, stop = nullptr, untimed = nullptr;
  TINT_CUDA_CHECK(cudaEventCreate(&start));
  TINT_CUDA_CHECK(cudaEventCreate(&stop));
  TINT_CUDA_CHECK(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming));
  float ms = -1.0f;
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaErrorInvalidResourceHandle);  // never recorded
  TINT_CUDA_CHECK(cudaEventRecord(start, nullptr));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  TINT_CUDA_CHECK(cudaEventRecord(stop));
  TINT_CUDA_CHECK(cudaEventSynchronize(stop));
  TINT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CHECK(ms >= 19.0f);
  CHECK(ms < 2000.0f);
  TINT_CUDA_CHECK(cudaEventRecord(untimed));
  CHECK(cudaEventElapsedTime(&ms, start, untimed) == cudaErrorInvalidResourceHandle);
  TINT_CUDA_CHECK(cudaEventDestroy(start));
  TINT_CUDA_CHECK(cudaEventDestroy(stop));
  TINT_CUDA_CHECK(cudaEventDestroy(untimed));
  CHECK(cudaEventDestroy(start) == cudaErrorInvalidResourceHandle);
  TINT_CUDA_CHECK(cudaDeviceSynchronize());

  int count = 0, device = -1;
  TINT_CUDA_CHECK(cudaGetDeviceCount(&count));
  CHECK(count == 1);
  TINT_CUDA_CHECK(cudaSetDevice(0));
  CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
  TINT_CUDA_CHECK(cudaGetDevice(&device));
  CHECK(device == 0);
  cudaDeviceProp prop;
  TINT_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  CHECK(std::strcmp(prop.name, "tint cuda-emu") == 0);
  CHECK(prop.sharedMemPerBlock == 48 * 1024);
  CHECK(prop.sharedMemPerBlockOptin == 227 * 1024);
  CHECK(prop.warpSize == 32);
  CHECK(prop.multiProcessorCount == tint::emu::block_threads());
  int optin = 0;
  TINT_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  CHECK(optin == 227 * 1024);
  cudaGetLastError();
}

TEST_CASE("emu: a destroyed stream is rejected by launches and copies", "[emu]") {
  cudaStream_t s = nullptr;
  TINT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  TINT_CUDA_CHECK(cudaStreamDestroy(s));
  int x = 0;
  CHECK(cudaMemsetAsync(&x, 0, 4, s) == cudaErrorInvalidResourceHandle);
  CHECK(cudaStreamSynchronize(s) == cudaErrorInvalidResourceHandle);
  CHECK(cudaStreamSynchronize(cudaStreamPerThread) == cudaSuccess);
  cudaGetLastError();
}

// ---- asynchronous copies (cp.async) ---------------------------------------------------------------------

namespace {

constexpr int kCopyThreads = 32;
constexpr int kCopyRows = 8;

// Each thread snapshots its shared slots before and after each wait, so the host sees when copies land.
// Group 1: a 4-byte copy into a; group 2: a 4-byte copy into b (zero-filled on odd threads) and a 16-byte
// copy into c of which the last 8 bytes are zero-filled.
__global__ void pipeline_two_groups(const float* src, float* out) {
  __shared__ float a[kCopyThreads], b[kCopyThreads];
  __shared__ float4 c[kCopyThreads];
  const int t = int(threadIdx.x);
  a[t] = -1.0f, b[t] = -1.0f, c[t] = make_float4(-1.0f, -1.0f, -1.0f, -1.0f);
  __pipeline_memcpy_async(&a[t], &src[t], 4);
  __pipeline_commit();
  __pipeline_memcpy_async(&b[t], &src[kCopyThreads + t], 4, t % 2 ? 4 : 0);
  __pipeline_memcpy_async(&c[t], &src[4 * kCopyThreads + 4 * t], 16, 8);
  __pipeline_commit();
  const auto snap = [&](int row) {
    out[(row * 2) * kCopyThreads + t] = a[t];
    out[(row * 2 + 1) * kCopyThreads + t] = b[t];
    if (row == 2) out[6 * kCopyThreads + t] = c[t].y, out[7 * kCopyThreads + t] = c[t].z;
  };
  snap(0);
  __pipeline_wait_prior(1);
  snap(1);
  __pipeline_wait_prior(0);
  snap(2);
}

enum StagedMode { kStagedCorrect = 0, kStagedNoWait = 1, kStagedNoReuseBarrier = 2 };

// A two-stage pipeline as a tiled kernel writes it: tile k+1 is copied while tile k is read, and each thread
// reads its neighbour's element (so the barrier after the wait matters). The modes drop the wait, or the
// barrier that keeps a stage from being refilled while others still read it.
__global__ void staged_rotate(const float* src, float* out, int tiles, int mode) {
  constexpr int n = 64;
  __shared__ float buf[2][n];
  const int t = int(threadIdx.x);
  buf[0][t] = -1.0f, buf[1][t] = -1.0f;
  __syncthreads();
  __pipeline_memcpy_async(&buf[0][t], &src[t], 4);
  __pipeline_commit();
  for (int k = 0; k < tiles; ++k) {
    if (k + 1 < tiles) __pipeline_memcpy_async(&buf[(k + 1) % 2][t], &src[(k + 1) * n + t], 4);
    __pipeline_commit();  // possibly empty, so that wait_prior(1) always means "all but the newest tile"
    if (mode != kStagedNoWait) __pipeline_wait_prior(1);
    __syncthreads();
    out[k * n + t] = buf[k % 2][(t + 1) % n];
    if (mode != kStagedNoReuseBarrier) __syncthreads();
  }
}

__global__ void pipeline_bad_copy(const float* src, int size, int zfill) {
  __shared__ float4 dst[2];
  __pipeline_memcpy_async(reinterpret_cast<char*>(dst) + 4, src, size_t(size), size_t(zfill));
}

struct Seed {
  uint64_t saved = tint::emu::schedule_seed();
  explicit Seed(uint64_t s) { tint::emu::set_schedule_seed(s); }
  ~Seed() { tint::emu::set_schedule_seed(saved); }
};

std::vector<float> run_two_groups(const std::vector<float>& src) {
  float* d_src = nullptr;
  float* d_out = nullptr;
  TINT_CUDA_CHECK(cudaMalloc(&d_src, src.size() * sizeof(float)));
  TINT_CUDA_CHECK(cudaMalloc(&d_out, kCopyRows * kCopyThreads * sizeof(float)));
  TINT_CUDA_CHECK(cudaMemcpy(d_src, src.data(), src.size() * sizeof(float), cudaMemcpyHostToDevice));
  TINT_LAUNCH(pipeline_two_groups, 1, kCopyThreads, 0, nullptr, d_src, d_out);
  std::vector<float> out(kCopyRows * kCopyThreads);
  TINT_CUDA_CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
  TINT_CUDA_CHECK(cudaFree(d_src));
  TINT_CUDA_CHECK(cudaFree(d_out));
  return out;
}

// Wrong elements of staged_rotate's output against the host's rotation of each tile.
int staged_errors(int mode, int tiles) {
  constexpr int n = 64;
  std::vector<float> src(size_t(tiles) * n);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float(i) + 0.5f;
  float* d_src = nullptr;
  float* d_out = nullptr;
  TINT_CUDA_CHECK(cudaMalloc(&d_src, src.size() * sizeof(float)));
  TINT_CUDA_CHECK(cudaMalloc(&d_out, src.size() * sizeof(float)));
  TINT_CUDA_CHECK(cudaMemcpy(d_src, src.data(), src.size() * sizeof(float), cudaMemcpyHostToDevice));
  TINT_LAUNCH(staged_rotate, 1, n, 0, nullptr, d_src, d_out, tiles, mode);
  std::vector<float> out(src.size());
  TINT_CUDA_CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
  TINT_CUDA_CHECK(cudaFree(d_src));
  TINT_CUDA_CHECK(cudaFree(d_out));
  int wrong = 0;
  for (int k = 0; k < tiles; ++k)
    for (int t = 0; t < n; ++t) wrong += out[size_t(k * n + t)] != src[size_t(k * n + (t + 1) % n)];
  return wrong;
}

}  // namespace

TEST_CASE("emu: cp.async copies land at the matching wait, in group order, with zero-fill", "[emu]") {
  std::vector<float> src(8 * kCopyThreads);
  for (size_t i = 0; i < src.size(); ++i) src[i] = 100.0f + float(i);
  const auto a_src = [&](int t) { return src[size_t(t)]; };
  const auto b_src = [&](int t) { return t % 2 ? 0.0f : src[size_t(kCopyThreads + t)]; };
  const auto at = [](const std::vector<float>& out, int row, int t) {
    return out[size_t(row * kCopyThreads + t)];
  };
  {
    Seed seed(0);  // no shuffling, no early landing: every group lands exactly at its wait
    const std::vector<float> out = run_two_groups(src);
    for (int t = 0; t < kCopyThreads; ++t) {
      INFO("thread " << t);
      CHECK(at(out, 0, t) == -1.0f);  // nothing has landed before a wait
      CHECK(at(out, 1, t) == -1.0f);
      CHECK(at(out, 2, t) == a_src(t));  // wait_prior(1): the older group only
      CHECK(at(out, 3, t) == -1.0f);
      CHECK(at(out, 4, t) == a_src(t));
      CHECK(at(out, 5, t) == b_src(t));  // odd threads: zero-filled
      CHECK(at(out, 6, t) == src[size_t(4 * kCopyThreads + 4 * t + 1)]);  // c.y copied
      CHECK(at(out, 7, t) == 0.0f);                                       // c.z zero-filled
    }
  }
  // Under a seed a group may land at once, never later than its wait.
  int early = 0;
  for (uint64_t s = 1; s <= 8; ++s) {
    Seed seed(s);
    const std::vector<float> out = run_two_groups(src);
    for (int t = 0; t < kCopyThreads; ++t) {
      INFO("seed " << s << " thread " << t);
      CHECK((at(out, 0, t) == -1.0f || at(out, 0, t) == a_src(t)));
      CHECK(at(out, 2, t) == a_src(t));
      CHECK(at(out, 4, t) == a_src(t));
      CHECK(at(out, 5, t) == b_src(t));
      CHECK(at(out, 7, t) == 0.0f);
      early += at(out, 1, t) != -1.0f;
    }
  }
  CHECK(early > 0);
}

TEST_CASE("emu: a missing cp.async wait or stage barrier gives a wrong answer", "[emu]") {
  for (uint64_t s = 0; s <= 12; ++s) {
    Seed seed(s);
    INFO("seed " << s);
    CHECK(staged_errors(kStagedCorrect, 5) == 0);
  }
  {
    Seed seed(0);
    CHECK(staged_errors(kStagedNoWait, 5) > 0);  // nothing ever lands: every read is stale
    // Copies that land only at their wait hide a stage refilled too soon: the seeds must show it.
    CHECK(staged_errors(kStagedNoReuseBarrier, 5) == 0);
  }
  int seeds_caught = 0;
  for (uint64_t s = 1; s <= 12; ++s) {
    Seed seed(s);
    seeds_caught += staged_errors(kStagedNoReuseBarrier, 5) > 0;
  }
  CHECK(seeds_caught > 0);
}

TEST_CASE("emu: a cp.async of a bad size or alignment fails the launch, naming the call", "[emu]") {
  float* d_src = nullptr;
  TINT_CUDA_CHECK(cudaMalloc(&d_src, 16 * sizeof(float)));
  const int bad[][2] = {{4, 0}, {16, 0}, {12, 0}, {4, 8}};  // dst is 4 bytes past a 16-byte boundary
  for (const auto& b : bad) {
    INFO("size " << b[0] << " zfill " << b[1]);
    const bool ok = b[0] == 4 && b[1] == 0;
    if (ok) {
      TINT_LAUNCH(pipeline_bad_copy, 1, 1, 0, nullptr, d_src, b[0], b[1]);
    } else {
      const auto launch = [&] { TINT_LAUNCH(pipeline_bad_copy, 1, 1, 0, nullptr, d_src, b[0], b[1]); };
      REQUIRE_THROWS_WITH(launch(), Catch::Contains("__pipeline_memcpy_async"));
    }
  }
  cudaGetLastError();
  TINT_CUDA_CHECK(cudaFree(d_src));
}

// ---- graphs (stream capture) ----------------------------------------------------------------------------

namespace {

__global__ void add_scalar(float* y, const float* x, float a, int n) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = x[i] + a;
}

struct CaptureFixture {
  cudaStream_t s = nullptr;
  float* x = nullptr;
  float* y = nullptr;
  static constexpr int n = 100;
  CaptureFixture() {
    TINT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    TINT_CUDA_CHECK(cudaMalloc(&x, n * sizeof(float)));
    TINT_CUDA_CHECK(cudaMalloc(&y, n * sizeof(float)));
  }
  ~CaptureFixture() {
    cudaFree(x);
    cudaFree(y);
    cudaStreamDestroy(s);
    cudaGetLastError();
  }
  std::vector<float> read(const float* p) const {
    std::vector<float> out(n);
    TINT_CUDA_CHECK(cudaMemcpy(out.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return out;
  }
};

}  // namespace

TEST_CASE("emu: a captured stream records its work, and each graph launch runs it with the host data of then",
          "[emu][graph]") {
  CaptureFixture f;
  std::vector<float> host(f.n), zeros(f.n, 0.0f);
  TINT_CUDA_CHECK(cudaMemcpy(f.y, zeros.data(), f.n * sizeof(float), cudaMemcpyHostToDevice));
  for (int i = 0; i < f.n; ++i) host[i] = float(i);

  TINT_CUDA_CHECK(cudaStreamBeginCapture(f.s, cudaStreamCaptureModeRelaxed));
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  TINT_CUDA_CHECK(cudaStreamIsCapturing(f.s, &status));
  CHECK(status == cudaStreamCaptureStatusActive);
  TINT_CUDA_CHECK(cudaMemcpyAsync(f.x, host.data(), f.n * sizeof(float), cudaMemcpyHostToDevice, f.s));
  TINT_LAUNCH(add_scalar, 1, 128, 0, f.s, f.y, f.x, 0.5f, f.n);
  TINT_CUDA_CHECK(cudaMemsetAsync(f.x, 0, sizeof(float), f.s));  // x[0] = 0 after the kernel read it
  cudaGraph_t graph = nullptr;
  TINT_CUDA_CHECK(cudaStreamEndCapture(f.s, &graph));
  REQUIRE(graph != nullptr);
  size_t nodes = 0;
  TINT_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
  CHECK(nodes == 3);  // the copy, the kernel, the memset
  // Recorded, not run: y is still zero and x still the NaN bytes of fresh memory.
  CHECK(f.read(f.y) == zeros);
  CHECK(std::isnan(f.read(f.x)[5]));

  cudaGraphExec_t exec = nullptr;
  TINT_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  TINT_CUDA_CHECK(cudaGraphDestroy(graph));  // the executable graph does not need it
  for (int launch = 0; launch < 3; ++launch) {
    for (int i = 0; i < f.n; ++i) host[i] = float(i * (launch + 1));  // the copy reads the host buffer anew
    TINT_CUDA_CHECK(cudaGraphLaunch(exec, f.s));
    TINT_CUDA_CHECK(cudaStreamSynchronize(f.s));
    const std::vector<float> y = f.read(f.y), x = f.read(f.x);
    INFO("launch " << launch);
    for (int i = 0; i < f.n; ++i) REQUIRE(y[i] == float(i * (launch + 1)) + 0.5f);
    CHECK(x[0] == 0.0f);
    CHECK(x[1] == float(launch + 1));
  }
  TINT_CUDA_CHECK(cudaStreamIsCapturing(f.s, &status));
  CHECK(status == cudaStreamCaptureStatusNone);
  // The stream runs work at once again.
  TINT_LAUNCH(add_scalar, 1, 128, 0, f.s, f.y, f.x, 1.0f, f.n);
  CHECK(f.read(f.y)[2] == 3.0f * 2 + 1.0f);
  TINT_CUDA_CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphExecDestroy(exec) == cudaErrorInvalidValue);
  cudaGetLastError();
}

TEST_CASE("emu: waiting for a capturing stream is an error that spoils the capture, named at its end",
          "[emu][graph]") {
  CaptureFixture f;
  TINT_CUDA_CHECK(cudaStreamBeginCapture(f.s, cudaStreamCaptureModeThreadLocal));
  TINT_LAUNCH(add_scalar, 1, 128, 0, f.s, f.y, f.x, 0.5f, f.n);
  CHECK(cudaStreamSynchronize(f.s) == cudaErrorStreamCaptureUnsupported);
  CHECK(std::string(cudaGetErrorString(cudaErrorStreamCaptureUnsupported)).find("cudaStreamSynchronize") !=
        std::string::npos);
  // Work issued after that is refused, and so is the graph.
  CHECK(cudaMemsetAsync(f.x, 0, 4, f.s) == cudaErrorStreamCaptureInvalidated);
  cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(0x1234);
  CHECK(cudaStreamEndCapture(f.s, &graph) == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  CHECK(std::string(cudaGetErrorString(cudaErrorStreamCaptureInvalidated)).find("cudaStreamSynchronize") !=
        std::string::npos);
  // The capture is over: the stream works as before.
  CHECK(cudaStreamSynchronize(f.s) == cudaSuccess);

  // The other waits: cudaStreamQuery, cudaDeviceSynchronize, an event on the stream.
  cudaEvent_t event = nullptr;
  TINT_CUDA_CHECK(cudaEventCreate(&event));
  for (int which = 0; which < 3; ++which) {
    INFO("wait " << which);
    TINT_CUDA_CHECK(cudaStreamBeginCapture(f.s, cudaStreamCaptureModeRelaxed));
    const cudaError_t e = which == 0   ? cudaStreamQuery(f.s)
                          : which == 1 ? cudaDeviceSynchronize()
                                       : cudaEventRecord(event, f.s);
    CHECK(e == cudaErrorStreamCaptureUnsupported);
    CHECK(cudaStreamEndCapture(f.s, &graph) == cudaErrorStreamCaptureInvalidated);
  }
  TINT_CUDA_CHECK(cudaEventDestroy(event));

  // No capture on the legacy stream, none twice, no end without a beginning.
  CHECK(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal) == cudaErrorStreamCaptureUnsupported);
  TINT_CUDA_CHECK(cudaStreamBeginCapture(f.s, cudaStreamCaptureModeGlobal));
  CHECK(cudaStreamBeginCapture(f.s, cudaStreamCaptureModeGlobal) == cudaErrorIllegalState);
  TINT_CUDA_CHECK(cudaStreamEndCapture(f.s, &graph));
  TINT_CUDA_CHECK(cudaGraphDestroy(graph));
  CHECK(cudaStreamEndCapture(f.s, &graph) == cudaErrorIllegalState);
  cudaGetLastError();
}

TEST_CASE("emu: a launch's configuration is checked when it is recorded, its memory when the graph runs",
          "[emu][graph]") {
  CaptureFixture f;
  TINT_CUDA_CHECK(cudaStreamBeginCapture(f.s, cudaStreamCaptureModeRelaxed));
  tint::emu::launch("add_scalar", add_scalar, dim3(1), dim3(2048), 0, f.s, f.y, f.x, 0.5f, f.n);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  float* scratch = nullptr;
  TINT_CUDA_CHECK(cudaMalloc(&scratch, 64));
  TINT_CUDA_CHECK(cudaMemsetAsync(scratch, 0, 64, f.s));
  cudaGraph_t graph = nullptr;
  TINT_CUDA_CHECK(cudaStreamEndCapture(f.s, &graph));
  cudaGraphExec_t exec = nullptr;
  TINT_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  TINT_CUDA_CHECK(cudaGraphLaunch(exec, f.s));
  TINT_CUDA_CHECK(cudaFree(scratch));
  // The graph outlived the memory it writes: its launch fails, naming the pointer.
  CHECK(cudaGraphLaunch(exec, f.s) == cudaErrorInvalidValue);
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidValue)).find("cudaMemset") != std::string::npos);
  TINT_CUDA_CHECK(cudaGraphExecDestroy(exec));
  TINT_CUDA_CHECK(cudaGraphDestroy(graph));
  cudaGetLastError();
}
