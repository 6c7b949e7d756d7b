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
