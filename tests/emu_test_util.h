// Helpers of the emulator's own tests (test_emu_kernels, test_emu_wmma): a device buffer filled from and read
// back to the host, and a scope that restores the scheduler's seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cuda/cuda_compat.h"

namespace emu_test {

// Device buffer of T, filled from / read back to the host; cudaMalloc memory starts as 0xFF bytes.
template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { TINT_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T))); }
  DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    TINT_CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  std::vector<T> get() const {
    std::vector<T> host(n);
    TINT_CUDA_CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

// Restores the schedule seed a test changes.
struct SeedScope {
  uint64_t saved = tint::emu::schedule_seed();
  explicit SeedScope(uint64_t seed) { tint::emu::set_schedule_seed(seed); }
  ~SeedScope() { tint::emu::set_schedule_seed(saved); }
};

}  // namespace emu_test
